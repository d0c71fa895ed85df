"""Values the store takes and returns: frozen, keyword-only dataclasses and state Enums.

Invariants:
- Every document is kept as its exact signed bytes (``signed``); the other fields are indexed
  copies the caller extracted from it, so a record can always be re-verified from ``signed``.
- Keys and hashes are raw ``bytes``; amounts are integer minor units with their ISO 4217
  code; every ``*_at`` time is Unix seconds given by the caller (the store reads no clock).
- Records handed out are snapshots: changing the store never changes a record already read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "AllowanceRecord",
    "Counterparty",
    "HistoryEntry",
    "InvoiceRecord",
    "LedgerPin",
    "OutboxItem",
    "OutboxStatus",
    "PaymentIn",
    "PayerPosition",
    "PaymentRecord",
    "ReceiptRecord",
    "RecoveredSession",
    "RevocationInfo",
    "Side",
    "SeenChain",
    "SessionRecord",
    "SessionStatus",
    "Transfer",
    "TrustedIssuer",
]


class Side(Enum):
    """Which side of a payment this wallet played."""

    PAYER = "payer"
    """We paid: we signed the payment and keep the payee's receipt."""
    PAYEE = "payee"
    """We were paid: we signed the invoice and the receipt and keep the payment."""


class SessionStatus(Enum):
    """Where a session stands; derived from what is durable, so a restart cannot lie."""

    OPEN = "open"
    """Running; nothing about money is on disk yet (an invoice may be)."""
    PAYMENT_PERSISTED = "payment_persisted"
    """The signed payment is on disk; no receipt yet."""
    RECEIPT_PERSISTED = "receipt_persisted"
    """Payee only: the receipt is on disk and is being sent."""
    COMPLETED = "completed"
    """Terminal: the payment and its receipt are both on disk."""
    RESUMABLE = "resumable"
    """The payment is on disk but the session ended without a receipt (payer: unconfirmed).
    A later session with the same invoice id resumes it; nothing is signed twice."""
    FAILED = "failed"
    """Terminal: the session ended before any payment was persisted; no money moved."""
    REFUSED = "refused"
    """Terminal, payer only: the payment is on disk but the payee refused it with a signed
    Abort, so no receipt will come and there is nothing to resume. Its counter stays used and
    its amount stays spent (the chain goes on from it); the outbox record is ``rejected`` and
    a sync still asks the ledger for its final word."""


class OutboxStatus(Enum):
    """Where a record stands on its way to the ledger."""

    PENDING = "pending"
    """Waiting to be sent (or to be sent again with new documents)."""
    SENT = "sent"
    """Sent; the ledger has not answered with a verdict yet."""
    SETTLED = "settled"
    """Terminal: the ledger settled it."""
    REJECTED = "rejected"
    """Terminal: the ledger refused it (see ``detail``)."""
    FRAUD = "fraud"
    """Terminal: the ledger found a forked counter chain; ``detail`` says more."""


@dataclass(frozen=True, kw_only=True)
class InvoiceRecord:
    """An invoice (payee-signed), as written by the payee or received by the payer."""

    invoice_id: bytes
    payee_key: bytes
    amount_minor: int
    currency: str
    memo: str
    created_at: int
    """The invoice's own creation time, as the document states it."""
    expires_at: int
    """The invoice's expiry, as the document states it."""
    invoice_hash: bytes
    """The hash the payment refers to (computed by ``protocol``)."""
    signed: bytes
    """The COSE_Sign1 bytes, exactly as signed."""


@dataclass(frozen=True, kw_only=True)
class PaymentIn:
    """A payment to store, either direction: the fields of a verified payment document.

    Which rules it must pass depends on the step that stores it: ``persist_outgoing`` (ours:
    it continues our allowance's chain) or ``persist_incoming`` (received: the payer's chain
    moves forward). Built from a verified document by ``store.documents.payment_in``.
    """

    invoice_id: bytes
    payer_key: bytes
    amount_minor: int
    currency: str
    counter: int
    prev_hash: bytes | None
    """Hash of the payer's previous payment (``None`` for the first one)."""
    cumulative_minor: int
    """Total spent under the allowance including this payment."""
    allowance_issuer: bytes
    allowance_serial: int
    payment_hash: bytes
    signed: bytes


@dataclass(frozen=True, kw_only=True)
class PaymentRecord:
    """A stored payment, either direction."""

    invoice_id: bytes
    role: Side
    payer_key: bytes
    amount_minor: int
    currency: str
    counter: int
    prev_hash: bytes | None
    cumulative_minor: int
    allowance_issuer: bytes
    allowance_serial: int
    payment_hash: bytes
    signed: bytes
    recorded_at: int


@dataclass(frozen=True, kw_only=True)
class ReceiptRecord:
    """A receipt (payee-signed) for a stored payment."""

    invoice_id: bytes
    payment_hash: bytes
    """The hash of the payment it acknowledges; must match the stored payment."""
    verdict: int
    """The receipt's verdict as the protocol encodes it."""
    issued_at: int
    receipt_hash: bytes
    signed: bytes


@dataclass(frozen=True, kw_only=True)
class Transfer:
    """Everything stored about one invoice: the three documents and the latest session."""

    invoice: InvoiceRecord
    payment: PaymentRecord | None
    receipt: ReceiptRecord | None
    role: Side | None
    """Our role, from the payment or the latest session (``None`` if neither exists yet)."""
    status: SessionStatus | None
    """The latest session's state for this invoice (``None`` if no session ran)."""

    def signed_documents(self) -> tuple[bytes, ...]:
        """The signed invoice, payment and receipt that exist, in that order (for export)."""
        docs = [self.invoice.signed]
        if self.payment is not None:
            docs.append(self.payment.signed)
            if self.receipt is not None:
                docs.append(self.receipt.signed)
        return tuple(docs)


@dataclass(frozen=True, kw_only=True)
class AllowanceRecord:
    """An allowance held by this wallet (payer side) and what has been spent under it."""

    issuer_key: bytes
    serial: int
    wallet_key: bytes
    currency: str
    limit_minor: int
    not_before: int
    not_after: int
    spent_minor: int
    """Cumulative amount of our persisted payments under this allowance."""
    last_counter: int | None
    """Counter of our last persisted payment on this allowance's chain (``None``: none yet)."""
    chain_head: bytes | None
    """Hash of that payment: the next payment's ``prev`` (``None`` before the first)."""
    active: bool
    """The newest allowance in its currency; older ones are kept for the record."""
    allowance_hash: bytes
    signed: bytes
    imported_at: int

    @property
    def remaining_minor(self) -> int:
        """What may still be spent under this allowance."""
        return self.limit_minor - self.spent_minor


@dataclass(frozen=True, kw_only=True)
class PayerPosition:
    """What the next payment must continue: the active allowance and its chain head.

    (Not the session's ``protocol.session.PayerState``: this is where the wallet stands on
    its allowance's chain, read from the store.)

    Each allowance, named by (issuer key, serial), has its own chain: counters 1, 2, 3...,
    each payment naming the hash of the previous one and the cumulative spent.
    """

    public_key: bytes
    """This wallet's key (the payer)."""
    allowance: AllowanceRecord | None
    """The active allowance in the asked currency, if any (``None``: cannot pay)."""

    @property
    def next_counter(self) -> int:
        """The counter the next payment must carry."""
        last = None if self.allowance is None else self.allowance.last_counter
        return 1 if last is None else last + 1

    @property
    def prev_hash(self) -> bytes | None:
        """The ``prev`` the next payment must carry."""
        return None if self.allowance is None else self.allowance.chain_head


@dataclass(frozen=True, kw_only=True)
class SeenChain:
    """Payee side: the head of a payer's allowance chain as we last accepted it."""

    issuer_key: bytes
    serial: int
    wallet_key: bytes
    """The payer's key (the allowance's wallet)."""
    last_counter: int
    last_hash: bytes
    last_spent: int
    updated_at: int


@dataclass(frozen=True, kw_only=True)
class Counterparty:
    """A peer we exchanged payments with."""

    public_key: bytes
    first_seen: int
    last_seen: int
    payments_in: int
    payments_out: int


@dataclass(frozen=True, kw_only=True)
class SessionRecord:
    """One run of the payer or payee role with one peer."""

    session_id: str
    role: Side
    state: SessionStatus
    invoice_id: bytes | None
    peer_key: bytes | None
    peer_label: str
    """What the UI knew of the peer: session tag, address (free text)."""
    started_at: int
    updated_at: int
    error_code: int | None
    """Why it failed or was recovered (protocol or app code number)."""
    detail: str
    recovered: bool
    """True when a restart (not the session itself) moved it to its state."""


@dataclass(frozen=True, kw_only=True)
class RecoveredSession:
    """A session found unfinished when the store opened, and where it was moved."""

    session_id: str
    role: Side
    invoice_id: bytes | None
    previous: SessionStatus
    state: SessionStatus


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    """One line of history: the latest session per (role, invoice), newest first."""

    session_id: str
    role: Side
    status: SessionStatus
    invoice_id: bytes | None
    amount_minor: int | None
    currency: str | None
    memo: str | None
    peer_key: bytes | None
    """The other side: from the handshake, else from the documents (``None`` if unknown)."""
    started_at: int
    updated_at: int
    error_code: int | None
    detail: str
    has_payment: bool
    has_receipt: bool
    recovered: bool


@dataclass(frozen=True, kw_only=True)
class OutboxItem:
    """A record waiting for (or done with) the ledger."""

    invoice_id: bytes
    role: Side
    status: OutboxStatus
    created_at: int
    updated_at: int
    attempts: int
    detail: str


@dataclass(frozen=True, kw_only=True)
class TrustedIssuer:
    """An issuer key whose allowances this wallet accepts as payee."""

    public_key: bytes
    label: str
    added_at: int


@dataclass(frozen=True, kw_only=True)
class LedgerPin:
    """The ledger key this wallet accepts trust lists from (SPEC 4.1)."""

    public_key: bytes
    url: str
    how: str
    """``register`` (first use, fingerprint shown), ``out-of-band`` (``--ledger-key``)."""
    pinned_at: int


@dataclass(frozen=True, kw_only=True)
class RevocationInfo:
    """Which revocation list is cached."""

    version: int
    fetched_at: int
    count: int
