"""Payment sessions: PayerSession and PayeeSession, sans-I/O state machines (h11 style).

See ``protocol/SESSIONS.md`` for the protocol and the state diagrams, :mod:`.base` for the
API contract, :mod:`.states` for the transition tables.
"""

from __future__ import annotations

from protocol.session.config import Timeouts
from protocol.session.events import (
    NEED_DATA,
    Completed,
    Event,
    Failed,
    InvoiceReceived,
    NeedData,
    PaymentReceived,
    PersistRequired,
    ReceiptReceived,
    RecordKind,
    record_id_of,
)
from protocol.session.payee import PayeePolicy, PayeeResume, PayeeSession
from protocol.session.payer import PayerSession, PayerWallet
from protocol.session.states import (
    PAYEE_TRANSITIONS,
    PAYER_TRANSITIONS,
    Input,
    PayeeState,
    PayerState,
    mermaid,
)

__all__ = [
    "NEED_DATA",
    "PAYEE_TRANSITIONS",
    "PAYER_TRANSITIONS",
    "Completed",
    "Event",
    "Failed",
    "Input",
    "InvoiceReceived",
    "NeedData",
    "PayeePolicy",
    "PayeeResume",
    "PayeeSession",
    "PayeeState",
    "PayerSession",
    "PayerState",
    "PayerWallet",
    "PaymentReceived",
    "PersistRequired",
    "ReceiptReceived",
    "RecordKind",
    "Timeouts",
    "mermaid",
    "record_id_of",
]
