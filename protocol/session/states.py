"""Everything that decides which state a session is in lives here, as data.

A session moves only by looking up ``(state, Input)`` in its transition table; a pair that
is not in the table is a protocol violation (the peer's or, for app inputs, ours), never a
silent no-op. The docs' state diagram is rendered from these tables (:func:`mermaid`), and
a test checks ``protocol/SESSIONS.md`` carries exactly that rendering.

Invariants:
- Every non-terminal state goes to ``FAILED`` on ``ERROR``, ``TIMEOUT`` and ``ABORT``; the
  terminal states ``COMPLETED`` and ``FAILED`` have no way out.
- A state whose name starts with ``AWAIT_..._PERSISTED`` sends nothing: the durability
  barrier is the absence of any sending transition out of it other than ``PERSISTED``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, unique
from types import MappingProxyType
from typing import Final, TypeVar

__all__ = [
    "PAYEE_TRANSITIONS",
    "PAYER_TRANSITIONS",
    "Input",
    "PayeeState",
    "PayerState",
    "mermaid",
]


@unique
class Input(Enum):
    """What can happen to a session: a classified message, an app call, or the timer."""

    START = "start"
    """Payee app: start(); write the opening (the offer, in plaintext)."""
    OFFER = "offer"
    """The opening with an acceptable offer arrived."""
    ANSWER = "answer"
    """Noise message 1 with an acceptable answer arrived."""
    INVOICE = "invoice"
    """Noise message 2 with a valid invoice for which the app has no payment yet."""
    INVOICE_RESUMED = "invoice resumed"
    """Noise message 2 with an invoice whose payment the app already persisted."""
    APPROVE = "approve"
    """Payer app: approve(); sign the payment."""
    DECLINE = "decline"
    """Payer app: decline(reason)."""
    PAYMENT = "payment"
    """A payment that passed the acceptance checks arrived."""
    PAYMENT_RESUMED = "payment resumed"
    """The payment the payee already persisted arrived again; its receipt is not stored yet."""
    PAYMENT_RECEIPTED = "payment receipted"
    """The payment the payee already persisted and receipted arrived again."""
    PERSISTED = "persisted"
    """App: persisted(record_id) for the record the session waits for."""
    RECEIPT = "receipt"
    """A valid receipt for our payment arrived."""
    ABORT = "abort"
    """The peer's Abort arrived."""
    TIMEOUT = "timeout"
    """The current phase's deadline passed."""
    ERROR = "error"
    """Anything else went wrong: bad bytes, failed check, out-of-turn message."""


@unique
class PayerState(Enum):
    """States of a :class:`~protocol.session.payer.PayerSession` (peripheral, Noise initiator)."""

    AWAIT_OFFER = "await offer"
    """Listening: waiting for the payee's opening (the offer)."""
    AWAIT_INVOICE = "await invoice"
    """Noise message 1 (answer) sent; waiting for Noise message 2 (invoice)."""
    AWAIT_APPROVAL = "await approval"
    """InvoiceReceived emitted; waiting for approve() or decline()."""
    AWAIT_PAYMENT_PERSISTED = "await payment persisted"
    """Payment signed and PersistRequired emitted; nothing is sent until persisted()
    (then Noise message 3: the wallet's static key and the payment)."""
    AWAIT_RECEIPT = "await receipt"
    """Payment sent; waiting for the receipt."""
    COMPLETED = "completed"
    """Terminal: the receipt arrived and was verified."""
    FAILED = "failed"
    """Terminal: the session ended without a receipt (Failed was emitted)."""


@unique
class PayeeState(Enum):
    """States of a :class:`~protocol.session.payee.PayeeSession` (BLE central, Noise responder)."""

    READY = "ready"
    """Constructed; start() writes the opening."""
    AWAIT_ANSWER = "await answer"
    """Opening (offer) sent; waiting for Noise message 1 (answer)."""
    AWAIT_PAYMENT = "await payment"
    """Noise message 2 (invoice) sent; waiting for Noise message 3 (the payment)."""
    AWAIT_PAYMENT_PERSISTED = "await payment persisted"
    """PersistRequired(payment) emitted; no receipt is signed until persisted()."""
    AWAIT_RECEIPT_PERSISTED = "await receipt persisted"
    """Receipt signed and PersistRequired(receipt) emitted; not sent until persisted()."""
    COMPLETED = "completed"
    """Terminal: the receipt was persisted and sent."""
    FAILED = "failed"
    """Terminal: the session ended without a receipt (Failed was emitted)."""


_FAILURES: Final = (Input.ERROR, Input.TIMEOUT, Input.ABORT)
_S = TypeVar("_S", PayerState, PayeeState)


def _with_failures(
    happy: dict[tuple[_S, Input], _S], states: type[_S], failed: _S, terminal: tuple[_S, ...]
) -> Mapping[tuple[_S, Input], _S]:
    table = dict(happy)
    for state in states:
        if state not in terminal:
            for event in _FAILURES:
                table[(state, event)] = failed
    return MappingProxyType(table)


PAYER_TRANSITIONS: Final[Mapping[tuple[PayerState, Input], PayerState]] = _with_failures(
    {
        (PayerState.AWAIT_OFFER, Input.OFFER): PayerState.AWAIT_INVOICE,
        (PayerState.AWAIT_INVOICE, Input.INVOICE): PayerState.AWAIT_APPROVAL,
        (PayerState.AWAIT_INVOICE, Input.INVOICE_RESUMED): PayerState.AWAIT_RECEIPT,
        (PayerState.AWAIT_APPROVAL, Input.APPROVE): PayerState.AWAIT_PAYMENT_PERSISTED,
        (PayerState.AWAIT_APPROVAL, Input.DECLINE): PayerState.FAILED,
        (PayerState.AWAIT_PAYMENT_PERSISTED, Input.PERSISTED): PayerState.AWAIT_RECEIPT,
        (PayerState.AWAIT_RECEIPT, Input.RECEIPT): PayerState.COMPLETED,
    },
    PayerState,
    PayerState.FAILED,
    (PayerState.COMPLETED, PayerState.FAILED),
)
"""The payer's transitions: (state, input) -> next state."""

PAYEE_TRANSITIONS: Final[Mapping[tuple[PayeeState, Input], PayeeState]] = _with_failures(
    {
        (PayeeState.READY, Input.START): PayeeState.AWAIT_ANSWER,
        (PayeeState.AWAIT_ANSWER, Input.ANSWER): PayeeState.AWAIT_PAYMENT,
        (PayeeState.AWAIT_PAYMENT, Input.PAYMENT): PayeeState.AWAIT_PAYMENT_PERSISTED,
        (PayeeState.AWAIT_PAYMENT, Input.PAYMENT_RESUMED): PayeeState.AWAIT_RECEIPT_PERSISTED,
        (PayeeState.AWAIT_PAYMENT, Input.PAYMENT_RECEIPTED): PayeeState.COMPLETED,
        (PayeeState.AWAIT_PAYMENT_PERSISTED, Input.PERSISTED): PayeeState.AWAIT_RECEIPT_PERSISTED,
        (PayeeState.AWAIT_RECEIPT_PERSISTED, Input.PERSISTED): PayeeState.COMPLETED,
    },
    PayeeState,
    PayeeState.FAILED,
    (PayeeState.COMPLETED, PayeeState.FAILED),
)
"""The payee's transitions: (state, input) -> next state."""


def mermaid(table: Mapping[tuple[_S, Input], _S], initial: _S) -> str:
    """A Mermaid ``stateDiagram-v2`` of ``table``; failure edges are folded into one line each."""
    lines = ["stateDiagram-v2", f"    [*] --> {initial.name}"]
    for (source, event), target in table.items():
        if event in _FAILURES:
            continue
        lines.append(f"    {source.name} --> {target.name}: {event.value}")
    failing = sorted({s.name for (s, e) in table if e in _FAILURES})
    for name in failing:
        lines.append(f"    {name} --> FAILED: error / timeout / abort")
    terminal = sorted({t.name for t in table.values()} - {s.name for (s, _) in table})
    lines.extend(f"    {name} --> [*]" for name in terminal)
    return "\n".join(lines) + "\n"
