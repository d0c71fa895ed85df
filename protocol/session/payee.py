"""The payee's session: BLE central, Noise responder; offers, invoices, checks, receipts.

Flow (see :data:`~protocol.session.states.PAYEE_TRANSITIONS`)::

    start()               the opening: the offer, in plaintext (part of the Noise prologue)
    <- Noise msg 1        the answer: check it narrows the offer; Noise msg 2: our static
                          key and the invoice (or a signed Abort)
    <- Noise msg 3        the payer's static key and its payment: payer key = Noise peer;
                          offline acceptance (protocol.acceptance);
                          PaymentReceived + PersistRequired(payment)
                          (or the payer's unsigned Refusal: Failed with its code)
    persisted(payment)    only now sign the receipt; PersistRequired(receipt)
    persisted(receipt)    only now send it; Completed

Resumption: the app passes :class:`PayeeResume` with what it persisted for this invoice
(the same signed invoice bytes are sent again). The identical payment then skips the
acceptance check (it passed before, and its counter is now "seen"), and a persisted receipt
is re-sent as is; a *different* payment for that invoice fails with SESSION_RESUME_CONFLICT.

Invariants:
- No receipt is signed before the payment's ``persisted()``, and none is sent before its own.
- Every payment accepted here passed :func:`protocol.acceptance.check_payment` with the
  app's trust, revocation and chain knowledge at ``now``, then the payee's offline risk
  limits (:func:`protocol.risk.check_risk`): per payment, per payer and day, stale list.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from nacl.signing import SigningKey

from protocol.acceptance import check_payment
from protocol.builders import make_receipt
from protocol.chain import ChainHead, ChainKey, chain_key, head_of
from protocol.documents import Invoice, Payment, Receipt, Verdict
from protocol.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from protocol.framing import MAX_CHUNK_SIZE
from protocol.keys import public_key
from protocol.negotiation import Answer, Capabilities, Offer, check_answer
from protocol.noise import KeyPair
from protocol.risk import DAY, RiskPolicy, check_risk
from protocol.session.base import SessionBase
from protocol.session.channel import Channel
from protocol.session.config import Timeouts
from protocol.session.events import (
    Completed,
    PaymentReceived,
    RecordKind,
)
from protocol.session.messages import Message, MessageKind, decode_refusal
from protocol.session.states import PAYEE_TRANSITIONS, Input, PayeeState
from protocol.verify import SignedDocument, open_as

__all__ = ["PayeePolicy", "PayeeResume", "PayeeSession"]


def _never_seen(key: ChainKey) -> ChainHead | None:
    return None


def _nothing_received(payer: bytes, currency: str, since: int) -> int:
    return 0


@dataclass(frozen=True, kw_only=True)
class PayeePolicy:
    """What the payee knows offline to accept a payment (from its last sync and its store)."""

    trusted_issuers: Collection[bytes]
    """Raw issuer public keys whose allowances are accepted."""
    revoked: Collection[bytes] = ()
    """Raw wallet keys that must not be accepted."""
    last_seen: Callable[[ChainKey], ChainHead | None] = field(default=_never_seen)
    """The head of a payer's chain as this payee last stored it."""
    risk: RiskPolicy = field(default_factory=RiskPolicy)
    """The offline risk limits (defaults: :func:`protocol.risk.default_limits`)."""
    revocations_fetched_at: int | None = None
    """When the cached revocation list was fetched (Unix seconds); None: never (stale)."""
    received_from: Callable[[bytes, str, int], int] = field(default=_nothing_received)
    """Minor units a payer key paid this payee in a currency since a time (Unix seconds)."""


@dataclass(frozen=True, kw_only=True)
class PayeeResume:
    """What the payee persisted for this invoice in an earlier, interrupted session."""

    payment: bytes
    """The payment it persisted."""
    receipt: bytes | None = None
    """The receipt it persisted for that payment, if it got that far."""


class PayeeSession(SessionBase[PayeeState]):
    """One payment as the payee. See the module docstring and :mod:`.base` for the API."""

    def __init__(
        self,
        *,
        identity: SigningKey,
        invoice: bytes | SignedDocument[Invoice],
        policy: PayeePolicy,
        resume: PayeeResume | None = None,
        max_chunk_size: int = MAX_CHUNK_SIZE,
        max_message_size: int = 4096,
        timeouts: Timeouts | None = None,
        tag: str | None = None,
        new_key: Callable[[], KeyPair] = KeyPair.generate,
    ) -> None:
        """``invoice``: the signed invoice to send (its bytes, or as ``protocol.verify`` or
        ``make_invoice`` returned it). ``max_chunk_size``: chunk_size_for_mtu(mtu).
        ``tag``: the session tag of the advertisement the payee chose (bound into the offer).
        ``new_key``: where the fresh Noise ephemeral key pair comes from (called once, here);
        random unless a transcript (``protocol/vectors/sessions.json``) fixes it."""
        self._invoice: SignedDocument[Invoice] = (
            open_as(invoice, Invoice) if isinstance(invoice, bytes) else invoice
        )
        if not isinstance(self._invoice.doc, Invoice):
            raise LocalProtocolError(ErrorCode.COSE_WRONG_KIND, "not an invoice")
        if self._invoice.doc.payee != public_key(identity):
            raise LocalProtocolError(ErrorCode.ACCEPT_PAYEE_MISMATCH, "invoice of another payee")
        self._policy = policy
        self._resume = resume
        self._timeouts = timeouts or Timeouts()
        self._offer = Offer.from_capabilities(
            Capabilities(
                max_message_size=max_message_size,
                max_chunk_size=max_chunk_size,
                currencies=(self._invoice.doc.currency,),
            ),
            tag=tag,
        )
        super().__init__(
            table=PAYEE_TRANSITIONS,
            initial=PayeeState.READY,
            terminal=(PayeeState.COMPLETED, PayeeState.FAILED),
            channel=Channel(
                opener=True,
                static=KeyPair.from_ed25519_seed(bytes(identity)),
                chunk_size=max_chunk_size,
                receive_chunk_size=max_chunk_size,
                reassembly_timeout_ms=self._timeouts.reassembly_ms,
                ephemeral=new_key(),
            ),
            identity=identity,
        )
        self._payment: SignedDocument[Payment] | None = None
        self._received: bytes | None = None
        """Hash of the payment received (signature valid), accepted or not."""
        self._receipt: SignedDocument[Receipt] | None = None

    def _phase(self, state: PayeeState) -> tuple[int, ErrorCode] | None:
        return {
            PayeeState.AWAIT_ANSWER: (
                self._timeouts.handshake_ms,
                ErrorCode.SESSION_HANDSHAKE_TIMEOUT,
            ),
            PayeeState.AWAIT_PAYMENT: (
                self._timeouts.payment_ms,
                ErrorCode.SESSION_PAYMENT_TIMEOUT,
            ),
        }.get(state)

    # --- app inputs -------------------------------------------------------------------

    def start(self, now: int) -> None:
        """Begin: queue handshake message 1 (the offer). Call once, right after connecting."""
        self._check_app_input(Input.START)
        self._tick(now)
        self._send(MessageKind.OFFER, self._offer.encode())
        self._move(Input.START)

    def persisted(self, record_id: str, *, now: int | None = None) -> None:
        """The app stored the record named ``record_id``: sign or send the receipt."""
        receipt_pending = self._state is PayeeState.AWAIT_RECEIPT_PERSISTED
        self._confirm_persisted(record_id, now)
        self._move(Input.PERSISTED)
        if not receipt_pending:
            assert self._payment is not None
            self._make_receipt(self._payment)
            return
        assert self._receipt is not None
        self._send(MessageKind.RECEIPT, self._receipt.raw)
        self._events.append(Completed(invoice_id=self._invoice.doc.id, receipt=self._receipt))

    def _session_hashes(self) -> tuple[bytes | None, bytes | None]:
        return self._invoice.hash, self._received

    # --- messages ---------------------------------------------------------------------

    def _on_message(self, message: Message) -> None:
        if message.kind is MessageKind.ANSWER:
            self._on_answer(message.body)
        elif message.kind is MessageKind.PAYMENT:
            self._on_payment(message.body)
        else:
            raise RemoteProtocolError(ErrorCode.SESSION_UNEXPECTED_MESSAGE, message.kind.name)

    def _on_refusal(self, body: bytes, *, in_handshake: bool) -> None:
        """The payer said no before disclosing itself: only a code, nobody's signature."""
        if not in_handshake:  # once it has paid, the payer signs what it says
            raise RemoteProtocolError(ErrorCode.SESSION_UNEXPECTED_MESSAGE, "late REFUSAL")
        code = decode_refusal(body)
        self._fail(
            ErrorCode.SESSION_PEER_ABORTED,
            "refused by the payer",
            cause=Input.ABORT,
            by_peer=True,
            peer_code=code,
        )

    def _on_answer(self, body: bytes) -> None:
        self._expect(Input.ANSWER)
        answer = check_answer(self._offer, Answer.decode(body))
        self._channel.apply(answer)
        self._send(MessageKind.INVOICE, self._invoice.raw)
        self._move(Input.ANSWER)

    def _on_payment(self, body: bytes) -> None:
        self._expect(Input.PAYMENT, Input.PAYMENT_RESUMED, Input.PAYMENT_RECEIPTED)
        opened = open_as(body, Payment)
        self._received = opened.hash  # an Abort from here on names it, accepted or not
        self._check_peer_key(opened.doc.payer)
        resume = self._resume
        if resume is not None:
            self._on_resumed_payment(opened, resume)
            return
        accepted = check_payment(
            opened,
            invoice=self._invoice,
            payee_key=self._invoice.doc.payee,
            trusted_issuers=self._policy.trusted_issuers,
            revoked=self._policy.revoked,
            last_seen=self._policy.last_seen(chain_key(opened)),
            now=self._now // 1000,
        )
        self._check_risk(opened.doc)
        self._payment = opened
        self._move(Input.PAYMENT)
        self._events.append(PaymentReceived(payment=opened, head=accepted.head, resumed=False))
        self._require_persist(RecordKind.PAYMENT, opened, invoice=self._invoice)

    def _check_risk(self, payment: Payment) -> None:
        now = self._now // 1000
        policy = self._policy
        check_risk(
            amount=payment.amount,
            currency=payment.currency,
            policy=policy.risk,
            list_fetched_at=policy.revocations_fetched_at,
            received_from_payer=policy.received_from(payment.payer, payment.currency, now - DAY),
            now=now,
        )

    def _on_resumed_payment(self, opened: SignedDocument[Payment], resume: PayeeResume) -> None:
        if opened.raw != resume.payment:
            raise RemoteProtocolError(
                ErrorCode.SESSION_RESUME_CONFLICT, "another payment for a paid invoice"
            )
        self._payment = opened
        event = PaymentReceived(payment=opened, head=head_of(opened), resumed=True)
        if resume.receipt is None:
            self._move(Input.PAYMENT_RESUMED)
            self._events.append(event)
            self._make_receipt(opened)
            return
        self._send(MessageKind.RECEIPT, resume.receipt)
        self._move(Input.PAYMENT_RECEIPTED)
        self._events.append(event)
        # The receipt this payee signed and stored: opened only on this (rare) path.
        receipt = open_as(resume.receipt, Receipt)
        self._events.append(Completed(invoice_id=self._invoice.doc.id, receipt=receipt))

    def _make_receipt(self, payment: SignedDocument[Payment]) -> None:
        signed = make_receipt(
            self._identity,
            payment_hash=payment.hash,
            verdict=Verdict.ACCEPTED,
            now=self._now // 1000,
        )
        self._receipt = signed
        self._require_persist(RecordKind.RECEIPT, signed, invoice=self._invoice)
