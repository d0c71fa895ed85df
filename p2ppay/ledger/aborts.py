"""Aborts the ledger is shown: kept, and checked against the receipts it settled.

A wallet uploads the Aborts it received with its sync (``aborts`` in ``POST /v1/sync``). An
Abort names the session's invoice and, once one exists, its payment (SPEC §4). A payee that
signed an Abort naming a payment and also an "accepted" receipt for it told the payer one
thing and the ledger another: the pair is an :class:`~p2ppay.ledger.settlement.Equivocation`.

Invariants:
- Each abort is verified (its sender's signature) only after the request was admitted, and
  kept once (by the hash of its bytes), whoever uploads it, however often.
- An abort that does not verify is answered ``rejected`` with its code; nothing is kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from p2ppay.ledger.database import Tx
from p2ppay.ledger.settlement import Equivocation
from protocol.bundle import decode_bundle
from protocol.documents import Abort, Receipt, Verdict
from protocol.errors import ProtocolError
from protocol.verify import SignedDocument, open_as

__all__ = ["AbortOutcome", "keep_aborts", "open_aborts"]


@dataclass(frozen=True, kw_only=True, slots=True)
class AbortOutcome:
    """The answer for one uploaded abort."""

    status: Literal["kept", "rejected"]
    error: str | None = None
    code: int | None = None
    equivocation: Equivocation | None = None


def open_aborts(raws: list[bytes]) -> list[SignedDocument[Abort] | AbortOutcome]:
    """Each abort verified, or its ``rejected`` outcome."""
    opened: list[SignedDocument[Abort] | AbortOutcome] = []
    for raw in raws:
        try:
            opened.append(open_as(raw, Abort))
        except ProtocolError as exc:
            opened.append(AbortOutcome(status="rejected", error=exc.code.name, code=int(exc.code)))
    return opened


async def keep_aborts(
    tx: Tx, opened: list[SignedDocument[Abort] | AbortOutcome], *, now: int
) -> list[AbortOutcome]:
    """Keep the verified aborts; flag those that contradict a settled accepted receipt."""
    valid = [a for a in opened if not isinstance(a, AbortOutcome)]
    await tx.executemany(
        "INSERT INTO aborts (abort_hash, sender, invoice, payment, abort, seen_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (abort_hash) DO NOTHING",
        sorted(
            {
                (
                    hashlib.sha256(a.raw).digest(),
                    a.doc.sender,
                    a.doc.invoice,
                    a.doc.payment,
                    a.raw,
                    now,
                )
                for a in valid
            }
        ),
    )
    named = sorted({a.doc.payment for a in valid if a.doc.payment is not None})
    receipts: dict[bytes, SignedDocument[Receipt]] = {}
    if named:
        marks = ", ".join(f"${i}" for i in range(1, len(named) + 1))
        for payment_hash, bundle in await tx.fetch(
            f"SELECT payment_hash, bundle FROM settlements WHERE payment_hash IN ({marks})",
            *named,
        ):
            receipts[bytes(payment_hash)] = open_as(decode_bundle(bytes(bundle))[2], Receipt)
    outcomes: list[AbortOutcome] = []
    for item in opened:
        if isinstance(item, AbortOutcome):
            outcomes.append(item)
            continue
        receipt = receipts.get(item.doc.payment or b"")
        equivocation = None
        if (
            receipt is not None
            and receipt.doc.payee == item.doc.sender
            and receipt.doc.verdict is Verdict.ACCEPTED
        ):
            equivocation = Equivocation(accepted=receipt.raw, rejected=item.raw)
        outcomes.append(AbortOutcome(status="kept", equivocation=equivocation))
    return outcomes
