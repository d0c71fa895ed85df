"""Settlement state of each stored payment, as the ledger last answered (for ``history``).

Derived from the sync outbox, so it needs no table of its own: a record still ``pending`` or
``sent`` is ``pending``; ``settled``, ``rejected`` and ``fraud`` are the ledger's verdicts.
A transfer that never stored a payment (a failed session) has no settlement (None).
"""

from __future__ import annotations

from enum import Enum

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store.records import OutboxItem, OutboxStatus
from p2ppay.store.store import Store

__all__ = ["Settlement", "settlement_of", "settlements"]


class Settlement(Enum):
    """Where a stored payment stands with the ledger."""

    PENDING = "pending"
    """Not settled yet: not synced, or synced without a verdict."""
    SETTLED = "settled"
    """The ledger settled it (whichever party uploaded it)."""
    REJECTED = "rejected"
    """The ledger refused it; the outbox record's ``detail`` says why."""
    FRAUD = "fraud"
    """The payment is part of a double spend (it was honoured; the payer is revoked)."""


def _of(item: OutboxItem) -> Settlement:
    if item.status in (OutboxStatus.PENDING, OutboxStatus.SENT):
        return Settlement.PENDING
    return Settlement(item.status.value)


def settlement_of(store: Store, invoice_id: bytes) -> Settlement | None:
    """The settlement state of the payment for ``invoice_id``, or None if none is stored."""
    try:
        return _of(store.outbox.get(invoice_id))
    except StoreError as exc:
        if exc.code is AppErrorCode.STORE_NOT_FOUND:
            return None
        raise


def settlements(store: Store) -> dict[bytes, Settlement]:
    """invoice id -> settlement state, for every stored payment (one read)."""
    return {item.invoice_id: _of(item) for item in store.outbox.items()}
