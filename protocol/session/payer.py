"""The payer's session: BLE peripheral, Noise initiator; answers, pays once, takes the receipt.

Flow (see :data:`~protocol.session.states.PAYER_TRANSITIONS`)::

    start(now)            the central's START: the offer timer runs (``Timeouts.offer_ms``)
    <- opening (offer)    answer it in Noise message 1 (or a Refusal if unusable)
    <- Noise msg 2        the payee's static key and its invoice: verify the invoice, check
       (invoice)          the payee's key is the Noise peer's
                          persisted payment for this invoice id? re-send it (resumption)
                          else InvoiceReceived, wait for approve() / decline()
    approve()             sign the payment with counter = last + 1; PersistRequired
    persisted(id)         only now send Noise msg 3: the wallet's static key and the payment
    <- receipt            verify it names our payment; ReceiptReceived, Completed

Invariants:
- One invoice id never gets a second counter from this session: if the app's
  ``find_payment`` knows a payment for it, that exact payment is re-sent, or the session
  fails with SESSION_RESUME_CONFLICT if it was for different invoice bytes.
- The payment leaves only after ``persisted()`` for its record id (durability barrier).
- The wallet's keys, allowance, counter and chain head come in as values; nothing is read
  from disk, and nothing here changes them: the app stores the new counter on
  PersistRequired.
- Identity hiding: nothing that outlives the session (the wallet's static key, a signature
  by it, the allowance, the counter, what is left, the issuer, the currency held) is sent
  before the payment, which leaves only after approve() and persisted(). Until then every
  refusal is a REFUSAL (an unsigned code, no reason) in a Noise message sent under a
  one-time static key, and every code that depends on the wallet or its clock (cannot pay,
  declined, resume conflict, invoice not valid now) is sent as SESSION_DECLINED; the app
  still gets the real code locally.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from nacl.signing import SigningKey

from protocol.builders import make_payment
from protocol.chain import ChainHead
from protocol.documents import Allowance, Invoice, Payment, Receipt, Verdict
from protocol.errors import ErrorCode, LocalProtocolError, ProtocolError, RemoteProtocolError
from protocol.framing import MAX_CHUNK_SIZE, MIN_CHUNK_SIZE
from protocol.keys import key_id, public_key
from protocol.money import format_amount
from protocol.negotiation import Capabilities, Feature, Offer, answer_offer
from protocol.noise import KeyPair
from protocol.session.base import SessionBase
from protocol.session.channel import Channel
from protocol.session.config import Timeouts
from protocol.session.events import (
    Completed,
    InvoiceReceived,
    ReceiptReceived,
    RecordKind,
)
from protocol.session.messages import Message, MessageKind, encode_refusal
from protocol.session.states import PAYER_TRANSITIONS, Input, PayerState
from protocol.verify import SignedDocument, check_times, open_as, verify_as

__all__ = ["PayerSession", "PayerWallet", "refusal_code"]

_WALLET_DEPENDENT: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.SESSION_WALLET_CANNOT_PAY,
        ErrorCode.SESSION_RESUME_CONFLICT,
        ErrorCode.SESSION_DECLINED,
        ErrorCode.NEGOTIATION_NO_COMMON_CURRENCY,
        # the invoice's time window judged by this device's clock: a clock offset is a
        # fingerprint a payee could measure with invoices dated on either side of it
        ErrorCode.DOC_EXPIRED,
        ErrorCode.DOC_NOT_YET_VALID,
    }
)


def refusal_code(code: ErrorCode) -> ErrorCode:
    """The code a REFUSAL carries for a local failure ``code``.

    A code that would tell the peer something about the wallet or its device (what is left,
    its currency or issuer, what it paid before, its clock) becomes SESSION_DECLINED, the
    code of a person saying no; codes about the peer's own bytes pass unchanged.
    """
    return ErrorCode.SESSION_DECLINED if code in _WALLET_DEPENDENT else code


def _no_payment(invoice_id: bytes) -> bytes | None:
    return None


@dataclass(frozen=True, kw_only=True)
class PayerWallet:
    """What the payer needs to sign one payment; the app loads it from its store."""

    identity: SigningKey
    """The wallet's Ed25519 key: signs payments and (as X25519) is the Noise static key."""
    allowance: bytes
    """The issuer-signed allowance, exact bytes."""
    head: ChainHead | None
    """The last payment persisted on this allowance's chain (None before the first):
    the next payment uses counter ``head.counter + 1`` and ``prev = head.hash``."""
    label: str | None = None
    """The name the wallet chose to show a payee; it travels only in the payment (after
    approval), never in anything the payer sends before it decided to pay."""


class PayerSession(SessionBase[PayerState]):
    """One payment as the payer. See the module docstring and :mod:`.base` for the API."""

    def __init__(
        self,
        *,
        wallet: PayerWallet,
        find_payment: Callable[[bytes], bytes | None] = _no_payment,
        max_chunk_size: int = MAX_CHUNK_SIZE,
        max_message_size: int = 4096,
        timeouts: Timeouts | None = None,
        advertised_tag: str | None = None,
        new_key: Callable[[], KeyPair] = KeyPair.generate,
    ) -> None:
        """``find_payment(invoice_id)`` returns the payment already persisted for that invoice.

        ``advertised_tag``: the session tag this payer advertised; an offer naming another
        one (or none) is refused with HANDSHAKE_TAG_MISMATCH before anything else is said.

        ``new_key``: where fresh X25519 key pairs come from, called once for the Noise
        ephemeral (here) and once more for the one-time static key of a refusal in Noise
        message 3. Random unless a transcript (``protocol/vectors/sessions.json``) fixes them.
        """
        self._wallet = wallet
        self._new_key = new_key
        self._advertised_tag = advertised_tag
        self._allowance: SignedDocument[Allowance] = open_as(wallet.allowance, Allowance)
        if self._allowance.doc.wallet != public_key(wallet.identity):
            raise LocalProtocolError(ErrorCode.PAYMENT_PAYER_NOT_WALLET, "allowance of another key")
        self._find_payment = find_payment
        self._timeouts = timeouts or Timeouts()
        self._capabilities = Capabilities(
            max_message_size=max_message_size,
            max_chunk_size=max_chunk_size,
            currencies=(self._allowance.doc.currency,),
        )
        super().__init__(
            table=PAYER_TRANSITIONS,
            initial=PayerState.AWAIT_OFFER,
            terminal=(PayerState.COMPLETED, PayerState.FAILED),
            channel=Channel(
                opener=False,
                static=None,  # revealed with the payment only (see the module docstring)
                chunk_size=MIN_CHUNK_SIZE,  # until the offer says more
                reassembly_timeout_ms=self._timeouts.reassembly_ms,
                ephemeral=new_key(),
            ),
            identity=wallet.identity,
        )
        self._invoice: SignedDocument[Invoice] | None = None
        self._payment: SignedDocument[Payment] | None = None
        self._resumption = False
        self._started = False

    def _phase(self, state: PayerState) -> tuple[int, ErrorCode] | None:
        return {
            PayerState.AWAIT_INVOICE: (
                self._timeouts.invoice_ms,
                ErrorCode.SESSION_HANDSHAKE_TIMEOUT,
            ),
            PayerState.AWAIT_APPROVAL: (
                self._timeouts.approval_ms,
                ErrorCode.SESSION_APPROVAL_TIMEOUT,
            ),
            PayerState.AWAIT_RECEIPT: (
                self._timeouts.receipt_ms,
                ErrorCode.SESSION_RECEIPT_TIMEOUT,
            ),
        }.get(state)

    # --- app inputs -------------------------------------------------------------------

    def start(self, now: int) -> None:
        """Begin at ``now`` (ms), when the central's START arrived: arm the offer timer.

        The whole offer must then arrive within ``Timeouts.offer_ms``, else the session
        fails with SESSION_HANDSHAKE_TIMEOUT (nothing is sent: the payee has not spoken).
        Call once, before the first chunk; it changes no state (the payer has nothing to
        send first). Without it the session has no clock until its first chunk.
        """
        if self._state is not PayerState.AWAIT_OFFER or self._started:
            raise LocalProtocolError(
                ErrorCode.SESSION_API_MISUSE, f"start in state {self._state.name}"
            )
        self._started = True
        self._tick(now)
        self._deadline = self._now + self._timeouts.offer_ms
        self._timeout_code = ErrorCode.SESSION_HANDSHAKE_TIMEOUT

    def approve(self, *, now: int | None = None) -> None:
        """The user agreed to pay the invoice: sign the payment and ask the app to persist it."""
        self._check_app_input(Input.APPROVE)
        self._tick(now)
        invoice = self._invoice
        assert invoice is not None  # AWAIT_APPROVAL is only reached with an invoice
        try:
            self._payment = make_payment(
                self._wallet.identity,
                invoice=invoice,
                allowance=self._allowance,
                head=self._wallet.head,
                label=self._wallet.label,
            )
        except ProtocolError as exc:
            self._fail(ErrorCode.SESSION_WALLET_CANNOT_PAY, f"{exc.code.name}: {exc.message}")
            return
        self._move(Input.APPROVE)
        self._require_persist(RecordKind.PAYMENT, self._payment, invoice=invoice)

    def decline(self, reason: str = "declined", *, now: int | None = None) -> None:
        """The user refused: Abort to the payee and fail with SESSION_DECLINED."""
        self._check_app_input(Input.DECLINE)
        self._tick(now)
        self._fail(ErrorCode.SESSION_DECLINED, reason, cause=Input.DECLINE)

    def persisted(self, record_id: str, *, now: int | None = None) -> None:
        """The app stored the payment named ``record_id`` (and its counter); send it."""
        self._confirm_persisted(record_id, now)
        payment = self._payment
        assert payment is not None
        self._send_payment(payment)
        self._move(Input.PERSISTED)

    def _send_payment(self, payment: SignedDocument[Payment]) -> None:
        """Noise message 3: the wallet's static key and the payment (the payer reveals itself)."""
        self._channel.reveal(KeyPair.from_ed25519_seed(bytes(self._wallet.identity)))
        self._send(MessageKind.PAYMENT, payment.raw)

    def _send_abort(self, code: ErrorCode, reason: str) -> None:
        """A signed Abort once the payee knows us; before, an unsigned Refusal (code only)."""
        if self._channel.revealed:
            super()._send_abort(code, reason)
            return
        with contextlib.suppress(ProtocolError):  # else the peer times out
            if self._channel.needs_static:
                self._channel.reveal(self._new_key())  # a key nobody will see again
            self._send(MessageKind.REFUSAL, encode_refusal(refusal_code(code)))

    def _session_hashes(self) -> tuple[bytes | None, bytes | None]:
        invoice, payment = self._invoice, self._payment
        return (
            None if invoice is None else invoice.hash,
            None if payment is None else payment.hash,
        )

    # --- messages ---------------------------------------------------------------------

    def _on_message(self, message: Message) -> None:
        handlers = {
            MessageKind.OFFER: self._on_offer,
            MessageKind.INVOICE: self._on_invoice,
            MessageKind.RECEIPT: self._on_receipt,
        }
        handler = handlers.get(message.kind)
        if handler is None:
            raise RemoteProtocolError(ErrorCode.SESSION_UNEXPECTED_MESSAGE, message.kind.name)
        handler(message.body)

    def _on_offer(self, body: bytes) -> None:
        self._expect(Input.OFFER)
        offer = Offer.decode(body)
        if self._advertised_tag is not None and offer.tag != self._advertised_tag:
            raise RemoteProtocolError(
                ErrorCode.HANDSHAKE_TAG_MISMATCH, f"the offer names tag {offer.tag!r}"
            )
        self._channel.use_chunk_size(min(offer.chunk_size, self._capabilities.max_chunk_size))
        # Every currency offered is answered: which one the wallet holds is not told to a
        # payee that has proven nothing (an invoice in another one is declined later).
        answer = answer_offer(offer, replace(self._capabilities, currencies=offer.currencies))
        self._resumption = answer.has(Feature.RESUMPTION)
        self._channel.apply(answer)
        self._send(MessageKind.ANSWER, answer.encode())
        self._move(Input.OFFER)

    def _on_invoice(self, body: bytes) -> None:
        self._expect(Input.INVOICE, Input.INVOICE_RESUMED)
        invoice = verify_as(body, Invoice, now=self._now // 1000)
        self._check_peer_key(invoice.doc.payee)
        self._invoice = invoice
        sas = self._channel.sas or ""
        stored = self._find_payment(invoice.doc.id)
        if stored is not None:
            if not self._resumption:
                raise RemoteProtocolError(
                    ErrorCode.SESSION_RESUME_CONFLICT, "paid before, but the payee cannot resume"
                )
            payment = open_as(stored, Payment)
            if payment.doc.invoice != invoice.hash:
                raise RemoteProtocolError(
                    ErrorCode.SESSION_RESUME_CONFLICT, "invoice id reused with other bytes"
                )
            self._payment = payment
            self._events.append(InvoiceReceived(invoice=invoice, sas=sas, resumed=True))
            self._send_payment(payment)
            self._move(Input.INVOICE_RESUMED)
            return
        self._check_can_pay(invoice.doc)
        self._events.append(InvoiceReceived(invoice=invoice, sas=sas, resumed=False))
        self._move(Input.INVOICE)

    def _check_can_pay(self, invoice: Invoice) -> None:
        """Refuse before approval what the payee would refuse after a counter is spent."""
        allowance = self._allowance.doc
        head = self._wallet.head
        if invoice.currency != allowance.currency:
            why = "invoice currency is not the allowance's"
        elif (head.spent if head else 0) + invoice.amount > allowance.limit:
            left = allowance.limit - (head.spent if head else 0)
            why = (
                f"{format_amount(invoice.amount, invoice.currency)} {invoice.currency} is over "
                f"what is left of the allowance: {format_amount(left, allowance.currency)} "
                f"{allowance.currency}"
            )
        elif invoice.issuers is not None and key_id(allowance.issuer) not in invoice.issuers:
            why = "the payee does not accept this allowance's issuer"
        else:
            try:
                check_times(allowance, now=self._now // 1000)
            except ProtocolError as exc:
                why = f"allowance not valid now: {exc.code.name}"
            else:
                return
        raise RemoteProtocolError(ErrorCode.SESSION_WALLET_CANNOT_PAY, why)

    def _on_receipt(self, body: bytes) -> None:
        self._expect(Input.RECEIPT)
        receipt = verify_as(body, Receipt, now=self._now // 1000)
        invoice, payment = self._invoice, self._payment
        assert invoice is not None and payment is not None
        if receipt.doc.payee != invoice.doc.payee or receipt.doc.payment != payment.hash:
            raise RemoteProtocolError(ErrorCode.SESSION_DOCUMENT_MISMATCH, "receipt")
        if receipt.doc.verdict is not Verdict.ACCEPTED:
            code = receipt.doc.code or int(ErrorCode.SESSION_PEER_ABORTED)
            self._events.append(ReceiptReceived(receipt=receipt))
            self._fail_rejected(code)
            return
        self._events.append(ReceiptReceived(receipt=receipt))
        self._move(Input.RECEIPT)
        self._events.append(Completed(invoice_id=invoice.doc.id, receipt=receipt))

    def _fail_rejected(self, code: int) -> None:
        try:
            known = ErrorCode(code)
        except ValueError:
            known = ErrorCode.SESSION_PEER_ABORTED
        self._fail(
            known, "payee rejected the payment", cause=Input.ABORT, by_peer=True, peer_code=code
        )
