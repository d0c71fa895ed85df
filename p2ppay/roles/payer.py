"""The payer role: advertise, accept one payee at a time, approve, pay, keep the receipt.

Per session: a fresh session tag on air, a :class:`~protocol.session.PayerSession` built from
the store's payer state, driven over the accepted Link by :func:`p2ppay.roles.driver.run_session`,
and every event answered from the store.

Invariants:
- Persist before send: the payment (with its counter bump and chain head) is committed by
  ``store.payments.persist_outgoing`` before ``persisted()`` lets the session send it. If
  that write fails, the session is not told, nothing leaves, and the link is closed.
- One counter per invoice: the session asks ``find_payment`` first and re-sends a stored
  payment for a known invoice id; the store refuses a second one besides.
- Every session is in the store's log from the moment a payee connects, and ends there as
  completed, resumable (paid, receipt missing), refused (paid, and the payee's signed Abort
  refused it) or failed, with the code.
- Nobody holds the payer: the whole offer must arrive within ``timeouts.offer_ms`` of the
  session's start (``PayerSession.start`` when the link is accepted; the peripheral
  already bounds connect-to-START), and a session that
  ends before a valid invoice arrived is reported to the peripheral as wasted, which backs
  off from that central's address (:mod:`gatt.backoff`).
- Crash points (:mod:`p2ppay.roles.crashpoints`, off unless ``P2PPAY_CRASH_AT`` names one) sit
  around each durable step: before/after the payment is stored, after it is sent, and
  before/after the receipt is stored.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from gatt.errors import LinkClosed
from gatt.link import Link, Peripheral
from gatt.spec import new_session_tag
from p2ppay.clock import Clock, seconds, wall_ms
from p2ppay.errors import AppError, AppErrorCode
from p2ppay.roles.approval import Approver, Decision
from p2ppay.roles.crashpoints import CrashPlan, CrashPoint
from p2ppay.roles.driver import Outcome, run_session
from p2ppay.roles.outcome import SessionOutcome, code_name, end_session, fail_on_store_error
from p2ppay.store import Side
from p2ppay.store.documents import (
    find_payment,
    invoice_record,
    payer_head,
    payment_in,
    receipt_record,
)
from p2ppay.store.outbox import REFUSED_BY_PAYEE
from p2ppay.wallet import Wallet
from p2ppay.wallet.contacts import sendable_label
from protocol import Invoice, Payment, SignedDocument, format_amount
from protocol.session import (
    Completed,
    Event,
    Failed,
    InvoiceReceived,
    PayerSession,
    PayerState,
    PayerWallet,
    PersistRequired,
    ReceiptReceived,
    Timeouts,
)

__all__ = ["PayerRole"]

Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class PayerRole:
    """Serve payees on one peripheral with one wallet."""

    wallet: Wallet
    approver: Approver
    timeouts: Timeouts = field(default_factory=Timeouts)
    clock: Clock = wall_ms
    progress: Progress = lambda _: None
    currency: str | None = None
    """Pay from the active allowance in this currency (None: the active one)."""
    linger: float = 0.25
    """Seconds a failed session waits for the payee to hang up after our last refusal or
    abort, before the peripheral advertises again (the link drains its queue anyway)."""
    crash: CrashPlan = field(default_factory=CrashPlan.from_environment)
    """Where to die on purpose (reliability tests); by default from ``P2PPAY_CRASH_AT``."""

    def _session(self, link: Link, *, tag: str) -> PayerSession:
        state = self.wallet.store.allowances.payer_position(self.currency)
        if state.allowance is None:
            raise AppError(AppErrorCode.NO_ALLOWANCE, "import an allowance before paying")
        return PayerSession(
            wallet=PayerWallet(
                identity=self.wallet.identity.signing_key,
                allowance=state.allowance.signed,
                head=payer_head(state.allowance),
                label=sendable_label(self.wallet.config.label),  # sent with the payment only
            ),
            find_payment=find_payment(self.wallet.store),
            max_chunk_size=link.max_chunk,
            timeouts=self.timeouts,
            advertised_tag=tag,
        )

    def check_can_pay(self) -> None:
        """Raise NO_ALLOWANCE (saying which currencies the wallet holds) or ALLOWANCE_EXPIRED
        (saying when), so a payer never advertises what it cannot pay with."""
        store = self.wallet.store
        allowance = store.allowances.payer_position(self.currency).allowance
        if allowance is None:
            held = sorted({a.currency for a in store.allowances.all() if a.active})
            wanted = f" in {self.currency}" if self.currency else ""
            hint = (
                f" (this wallet holds {', '.join(held)}: pass --currency)"
                if held
                else ": `allowance import FILE` or `allowance request AMOUNT CURRENCY`"
            )
            raise AppError(AppErrorCode.NO_ALLOWANCE, f"no allowance{wanted}{hint}")
        if self._seconds() > allowance.not_after:
            until = format_amount(allowance.remaining_minor, allowance.currency)
            raise AppError(
                AppErrorCode.ALLOWANCE_EXPIRED,
                f"the {allowance.currency} allowance ({until} left) expired on "
                f"{dt.datetime.fromtimestamp(allowance.not_after, dt.UTC):%Y-%m-%d %H:%M} UTC: "
                "get a new one "
                "(`allowance request` or from your issuer)",
            )

    async def serve_one(
        self, peripheral: Peripheral, *, same_address: bool = False
    ) -> SessionOutcome:
        """Advertise with a fresh tag, serve the first payee that connects, return how it went.

        ``same_address``: advertise from the last session's address, for a payee whose link
        was lost after our payment went out (the last outcome ``resumable``): its retry follows
        that address. Otherwise every session has a fresh one (nothing links two sessions
        before the payer pays; after it paid, that payee knows who paid it anyway).
        """
        # Fail before advertising when there is nothing to pay with.
        self.check_can_pay()
        tag = new_session_tag()
        self.progress(f"advertising as payer, session tag {tag}; waiting for a payee")
        link = await peripheral.accept(tag=tag, same_address=same_address)
        async with link:
            self.progress(f"payee connected (ATT MTU {link.peer.att_mtu})")
            session = self._session(link, tag=tag)
            record = self.wallet.store.sessions.start(
                Side.PAYER, now=self._seconds(), peer_label=link.peer.address
            )
            handler = _PayerEvents(
                role=self, session=session, session_id=record.session_id, link=link
            )
            # The offer timer runs from here: a central that connects and then says
            # nothing, or dribbles its offer, holds the payer for at most ``offer_ms``.
            session.start(self.clock())
            try:
                outcome: Outcome = await run_session(
                    session,
                    link,
                    handler,
                    clock=self.clock,
                    linger=self.linger,
                    on_sent=handler.sent,
                )
            except AppError as exc:
                fail_on_store_error(self.wallet.store, record.session_id, exc, now=self._seconds())
                raise
            if handler.invoice is None:
                peripheral.wasted(link.peer)  # it never asked for anything: back off from it
            return end_session(
                self.wallet.store,
                record.session_id,
                outcome,
                now=self._seconds(),
                tag=tag,
                sas=session.sas,
            )

    def _seconds(self) -> int:
        return seconds(self.clock)


@dataclass(kw_only=True)
class _PayerEvents:
    """Answers one payer session's events (the driver's event handler)."""

    role: PayerRole
    session: PayerSession
    session_id: str
    link: Link
    invoice: SignedDocument[Invoice] | None = None
    """The session's invoice, as the session verified it (None until it arrived)."""
    sending: CrashPoint | None = None
    """The crash point to reach once the chunks now queued are sent (the payment's)."""

    def sent(self) -> None:
        """The driver handed the queued chunks to the link."""
        if self.sending is not None:
            point, self.sending = self.sending, None
            self.role.crash.reach(point)

    async def _decide(self, event: InvoiceReceived) -> Decision | None:
        """Ask the approver, but never past the session: a chunk from the payee (its Abort),
        the link going down or the approval timer ends the question unanswered (None), so a
        late "yes" can never sign a payment nobody is there to receive."""
        decision: Decision | None = None
        arrived: bytes | None = None
        closed: LinkClosed | None = None
        failed: Exception | None = None
        async with anyio.create_task_group() as tg:

            async def ask() -> None:
                nonlocal decision, failed
                try:
                    decision = await self.role.approver(event.invoice.doc, event.sas)
                except Exception as exc:  # re-raised below as itself, not in an ExceptionGroup
                    failed = exc
                tg.cancel_scope.cancel()

            async def watch() -> None:
                nonlocal arrived, closed
                deadline = self.session.get_timer()
                seconds = math.inf if deadline is None else max(0, deadline - self.role.clock())
                with anyio.move_on_after(seconds / 1000):
                    try:
                        arrived = await self.link.receive()
                    except LinkClosed as exc:
                        closed = exc
                tg.cancel_scope.cancel()

            tg.start_soon(ask)
            tg.start_soon(watch)
        if failed is not None:
            raise failed
        if arrived is not None:  # first: the payee may have ended the session meanwhile
            self.session.receive_data(arrived, self.role.clock())
        if closed is not None:
            raise closed  # the driver ends the session as LinkLost: nothing was signed
        if decision is not None and self.session.state is PayerState.AWAIT_APPROVAL:
            return decision
        if decision is None and arrived is None:
            self.session.handle_timer(self.role.clock())  # the approval timer
        self.role.progress("the question was withdrawn: the payee or the link ended the session")
        return None

    async def __call__(self, event: Event) -> None:
        store = self.role.wallet.store
        now_ms = self.role.clock()
        now = now_ms // 1000
        if isinstance(event, InvoiceReceived):
            self.invoice = event.invoice
            store.payments.record_invoice(
                invoice_record(event.invoice), now=now, session_id=self.session_id
            )
            self.role.progress(_describe_invoice(event))
            if event.resumed:
                self.role.progress("this invoice is already paid: re-sending the same payment")
                # The driver writes queued chunks before it hands out events: the stored
                # payment is already on the link.
                self.role.crash.reach(CrashPoint.PAYER_AFTER_SEND_PAYMENT)
                return
            decision = await self._decide(event)
            if decision is None:
                return  # the link, the payee or the timer ended the session meanwhile
            if decision.approve:
                self.session.approve(now=self.role.clock())
            else:
                self.role.progress(f"declined: {decision.reason}")
                self.session.decline(decision.reason, now=self.role.clock())
        elif isinstance(event, PersistRequired):
            payment = event.document
            assert isinstance(payment.doc, Payment), "a payer only persists its payment"
            self.role.crash.reach(CrashPoint.PAYER_BEFORE_PERSIST_PAYMENT)
            store.payments.persist_outgoing(
                payment_in(payment, invoice=event.invoice),
                now=now,
                session_id=self.session_id,
            )
            self.role.crash.reach(CrashPoint.PAYER_AFTER_PERSIST_PAYMENT)
            self.role.progress(f"payment signed with counter {payment.doc.counter} and stored")
            self.session.persisted(event.record_id, now=self.role.clock())
            self.sending = CrashPoint.PAYER_AFTER_SEND_PAYMENT
        elif isinstance(event, ReceiptReceived):
            assert self.invoice is not None, "a receipt only follows an invoice"
            self.role.crash.reach(CrashPoint.PAYER_BEFORE_PERSIST_RECEIPT)
            store.payments.persist_receipt(
                receipt_record(event.receipt, invoice_id=self.invoice.doc.id),
                now=now,
                session_id=self.session_id,
            )
            self.role.crash.reach(CrashPoint.PAYER_AFTER_PERSIST_RECEIPT)
            self.role.progress(f"receipt received: {event.receipt.doc.verdict.name.lower()}")
        elif isinstance(event, Failed) and event.abort is not None and self.invoice is not None:
            # The payee's signed word on a payment we sent: evidence for the ledger.
            invoice_id = self.invoice.doc.id
            if store.payments.payment(invoice_id) is not None:
                # The payee refused the payment it received: the session ends refused (no
                # receipt will come, nothing to resume), it is synced as refused, and the
                # ledger is still asked for its final word (the kept Abort is the evidence).
                store.sessions.refuse(
                    self.session_id,
                    abort=event.abort,
                    now=now,
                    error_code=event.code,
                    detail=f"{REFUSED_BY_PAYEE}: {code_name(event.code)}",
                )
        elif isinstance(event, Completed | Failed):
            return


def _describe_invoice(event: InvoiceReceived) -> str:
    invoice = event.invoice.doc
    amount = format_amount(invoice.amount, invoice.currency)
    return (
        f"invoice {invoice.id.hex()}: {amount} {invoice.currency} memo {invoice.memo!r}; "
        f"short authentication string {event.sas}"
    )
