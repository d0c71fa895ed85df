"""What a session tells the application: frozen, keyword-only event values.

Invariants:
- Events are plain values: they hold each document as the verified
  :class:`~protocol.verify.SignedDocument` the session checked (its exact signed bytes in
  ``raw``, the typed model in ``doc``, its hash), never a live object. The app stores and
  shows these as they are: it never opens (and re-verifies) a document a session handed it.
- :data:`NEED_DATA` is the only non-event that :meth:`next_event` returns: "feed me bytes,
  an app input or a timer first".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, unique
from typing import Final, TypeAlias

from protocol.chain import ChainHead
from protocol.documents import Invoice, Payment, Receipt
from protocol.verify import SignedDocument

__all__ = [
    "NEED_DATA",
    "Completed",
    "Event",
    "Failed",
    "InvoiceReceived",
    "NeedData",
    "PaymentReceived",
    "PersistRequired",
    "ReceiptReceived",
    "RecordKind",
    "record_id_of",
]


@unique
class NeedData(Enum):
    """Type of the :data:`NEED_DATA` sentinel."""

    NEED_DATA = "NEED_DATA"
    """No event is ready; the session waits for data, an app input or its timer."""


NEED_DATA: Final = NeedData.NEED_DATA


@unique
class RecordKind(Enum):
    """Which document a :class:`PersistRequired` asks the app to store."""

    PAYMENT = "payment"
    """A payment: the payer's own signed one (with its counter bump) or one the payee got."""
    RECEIPT = "receipt"
    """The payee's signed receipt, before it is sent."""


def record_id_of(kind: RecordKind, document_hash: bytes) -> str:
    """The id a PersistRequired gives a document: ``"<kind>:<hash hex>"``, stable across runs."""
    return f"{kind.value}:{document_hash.hex()}"


@dataclass(frozen=True, kw_only=True)
class InvoiceReceived:
    """Payer: a verified invoice from the authenticated payee; call approve() or decline().

    ``resumed`` is True when the app already holds a persisted payment for this invoice: the
    session re-sends it by itself and no approval is asked.
    """

    invoice: SignedDocument[Invoice]
    """The invoice, verified (signature, rules, validity at the session's clock)."""
    sas: str
    """The short authentication string both screens may show."""
    resumed: bool


@dataclass(frozen=True, kw_only=True)
class PaymentReceived:
    """Payee: a payment that passed the offline acceptance checks (or the persisted one)."""

    payment: SignedDocument[Payment]
    """The payment, verified, with its verified allowance."""
    head: ChainHead
    """The payer's chain head after this payment: store it as ``last_seen`` with the payment."""
    resumed: bool


@dataclass(frozen=True, kw_only=True)
class ReceiptReceived:
    """Payer: the payee's verified receipt for our payment."""

    receipt: SignedDocument[Receipt]
    """The receipt, verified; it names our payment."""


@dataclass(frozen=True, kw_only=True)
class PersistRequired:
    """Store ``document`` durably, then call ``persisted(record_id)``; nothing moves before.

    For the payer's payment, storing it means also storing ``counter`` as used and the new
    chain head, in the same transaction.
    """

    record_id: str
    kind: RecordKind
    document: SignedDocument[Payment] | SignedDocument[Receipt]
    """The document to store, verified (or just signed by this session)."""
    invoice: SignedDocument[Invoice]
    """The session's invoice, verified: what the document is for."""
    counter: int | None
    """The payer's counter this payment uses (payments only)."""

    @property
    def invoice_id(self) -> bytes:
        """The id of the invoice the document is for."""
        return self.invoice.doc.id


@dataclass(frozen=True, kw_only=True)
class Completed:
    """The session ended with a receipt both sides hold."""

    invoice_id: bytes
    receipt: SignedDocument[Receipt]
    """The receipt, as signed by the payee."""


@dataclass(frozen=True, kw_only=True)
class Failed:
    """The session ended without a receipt; ``code`` says why.

    ``by_peer`` is True when the peer sent an Abort (``code`` is then its code, as an int
    because a newer peer may send codes this build does not know); ``abort`` is then that
    signed Abort's exact bytes, which name this session's invoice (and payment, once there
    is one): evidence a wallet keeps and shows the ledger (a payee that aborted a payment
    and then settled it as accepted is caught).
    """

    code: int
    reason: str
    by_peer: bool
    abort: bytes | None = None


Event: TypeAlias = (
    InvoiceReceived | PaymentReceived | ReceiptReceived | PersistRequired | Completed | Failed
)
"""Any session event."""
