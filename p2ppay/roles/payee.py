"""The payee role: sign an invoice, find the payer, verify its payment offline, give a receipt.

Invariants:
- The invoice is signed and stored before any radio work, so every attempt (and a restart)
  carries the same invoice id; a retry after a lost link resumes it.
- Persist before send: the payment is committed (``persist_incoming``) before the session
  may sign the receipt, and the receipt (``persist_receipt``) before it is sent.
- Offline checks use only what the store holds: trusted issuers, the revocation list, and
  the last chain head seen from each payer (updated in the payment's own transaction); then
  the offline risk limits (``risk``, else the wallet config's ``offline_limits``), against
  the list's age and what the payer paid us in the last 24 hours. An invoice already above
  the per-payment or stale-list limit is refused before it is signed.
- A retry after a lost link goes back to the same payer (by address), never silently to
  another one; a stored payment is only ever completed with that same payment.
- Crash points (:mod:`p2ppay.roles.crashpoints`, off unless ``P2PPAY_CRASH_AT`` names one) sit
  before/after the payment and the receipt are stored, and after the receipt is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from gatt.errors import GattError
from gatt.link import Central, Link, ScanResult
from p2ppay.clock import Clock, seconds, wall_ms
from p2ppay.errors import AppError, AppErrorCode
from p2ppay.roles.crashpoints import CrashPlan, CrashPoint
from p2ppay.roles.driver import LinkLost, Outcome, run_session
from p2ppay.roles.outcome import SessionOutcome, end_session, fail_on_store_error
from p2ppay.roles.selection import PayerChoice, choose_payer
from p2ppay.store import Side
from p2ppay.store.documents import invoice_record, last_seen, payment_in, receipt_record
from p2ppay.wallet import Wallet
from p2ppay.wallet.contacts import counterparty, load_contacts, sendable_label
from p2ppay.wallet.limits import parse_limits
from protocol import (
    Invoice,
    Payment,
    ProtocolError,
    Receipt,
    SignedDocument,
    format_amount,
    make_invoice,
)
from protocol.chain import ChainHead, ChainKey
from protocol.keys import key_id
from protocol.risk import RiskPolicy, check_risk
from protocol.session import (
    Completed,
    Event,
    Failed,
    PayeePolicy,
    PayeeResume,
    PayeeSession,
    PaymentReceived,
    PersistRequired,
    Timeouts,
)

__all__ = ["MAX_INVOICE_ISSUERS", "PayeeRole"]

MAX_INVOICE_ISSUERS = 16
"""An invoice names at most this many issuer key ids (SPEC: ``[1*16 kid]``)."""

Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class PayeeRole:
    """Collect payments with one wallet through one central."""

    wallet: Wallet
    choice: PayerChoice = field(default_factory=PayerChoice)
    attempts: int = 3
    """Sessions tried for one invoice when the link is lost (1 = no retry)."""
    timeouts: Timeouts = field(default_factory=Timeouts)
    clock: Clock = wall_ms
    progress: Progress = lambda _: None
    crash: CrashPlan = field(default_factory=CrashPlan.from_environment)
    """Where to die on purpose (reliability tests); by default from ``P2PPAY_CRASH_AT``."""
    risk: RiskPolicy | None = None
    """Offline risk limits; None: the wallet config's ``offline_limits`` (or the defaults)."""
    on_sas: Callable[[str], None] = lambda _: None
    """Told the SAS once per session, as soon as the handshake yields it (before the
    payer's approval), so a customer display can show it while the payer compares."""
    countdown: Callable[[float | None], None] = lambda _: None
    """Told, right after a ``progress`` line, the seconds the step it names may still take
    (scanning, connecting, the handshake, the payer's approval), for a "time left" display."""
    connect_timeout: float | None = None
    """The central's bound on connecting (its ``LinkOptions.connect_timeout``), shown as the
    time left while connecting; None: not shown."""

    def risk_policy(self) -> RiskPolicy:
        """The offline risk limits this role enforces."""
        return self.risk or parse_limits(self.wallet.config.offline_limits)

    def new_invoice(
        self, *, amount: int, currency: str, memo: str = "", ttl: int = 300
    ) -> SignedDocument[Invoice]:
        """Sign an invoice and store it; INVOICE_NOT_PAYABLE for a bad amount or currency.

        The invoice always lists the issuers this payee accepts (the newest
        ``MAX_INVOICE_ISSUERS`` it trusts), so a payer whose issuer it would refuse declines
        before it signs or uses a counter; ``NO_TRUSTED_ISSUER`` when it trusts none. It
        carries the wallet's label (``init --label``), if it has one, for payers to see.
        """
        now = self._seconds()
        trusted = [i.public_key for i in self.wallet.store.trust.issuers()]
        if not trusted:
            raise AppError(
                AppErrorCode.NO_TRUSTED_ISSUER,
                "this wallet accepts no issuer yet: `sync` with a ledger or `trust-issuer KEY`",
            )
        issuers = tuple(key_id(k) for k in trusted[-MAX_INVOICE_ISSUERS:])
        try:
            invoice = make_invoice(
                self.wallet.identity.signing_key,
                amount=amount,
                currency=currency,
                memo=memo,
                now=now,
                ttl=ttl,
                issuers=issuers,
                label=sendable_label(self.wallet.config.label),
            )
            self._check_limits(amount, currency, now)
        except ProtocolError as exc:
            raise AppError(
                AppErrorCode.INVOICE_NOT_PAYABLE, f"{exc.code.name}: {exc.message}"
            ) from exc
        self.wallet.store.payments.record_invoice(invoice_record(invoice), now=now)
        return invoice

    def _check_limits(self, amount: int, currency: str, now: int) -> None:
        # No payer yet: the per-payment and stale-list limits already tell.
        info = self.wallet.store.trust.revocation_info()
        check_risk(
            amount=amount,
            currency=currency,
            policy=self.risk_policy(),
            list_fetched_at=None if info is None else info.fetched_at,
            now=now,
        )

    async def collect(self, central: Central, invoice: SignedDocument[Invoice]) -> SessionOutcome:
        """Get ``invoice`` paid: choose a payer, run sessions until one ends (or retries end)."""
        choice = self.choice
        outcome: SessionOutcome | None = None
        for attempt in range(1, self.attempts + 1):
            self.progress(
                f"scanning for payers (attempt {attempt} of {self.attempts}, "
                f"up to {choice.within:g} s)"
            )
            self.countdown(choice.within)
            scan_ends = self.clock() + choice.within * 1000

            def seen(result: ScanResult, scan_ends: float = scan_ends) -> None:
                self._report_seen(result)
                self.countdown(max(0.0, scan_ends - self.clock()) / 1000)

            try:
                payer = await choose_payer(central, choice, on_seen=seen)
            except AppError as exc:
                # A retry that no longer finds the payer ends with what the last try left.
                if outcome is None or exc.code is not AppErrorCode.NO_PAYER_FOUND:
                    raise
                return outcome
            self.progress(f"connecting to payer {payer.tag} ({payer.rssi} dBm)")
            self.countdown(self.connect_timeout)
            outcome = await self._attempt(central, payer, invoice)
            # Completed (the receipt is ours on disk) or failed for a reason a retry cannot
            # change: done. Only a lost link with the payment still open is worth a retry.
            lost = outcome.error == AppErrorCode.LINK_LOST.name
            if outcome.completed or not lost or attempt == self.attempts:
                return outcome
            self.progress(f"link lost ({outcome.reason}); retrying the same invoice")
            # The payer advertises a fresh tag per session: follow its address instead.
            choice = replace(choice, tag=None, address=payer.address, margin_db=-1)
        assert outcome is not None
        return outcome

    async def _attempt(
        self, central: Central, payer: ScanResult, invoice: SignedDocument[Invoice]
    ) -> SessionOutcome:
        store = self.wallet.store
        record = store.sessions.start(Side.PAYEE, now=self._seconds(), peer_label=payer.address)
        store.sessions.attach_invoice(record.session_id, invoice.doc.id, now=self._seconds())
        try:
            link = await central.connect(payer)
        except GattError as exc:
            return end_session(
                store,
                record.session_id,
                LinkLost(reason=str(exc)),
                now=self._seconds(),
                tag=payer.tag,
                sas=None,
            )
        async with link:
            self.progress(f"connected (ATT MTU {link.peer.att_mtu}): handshake")
            self.countdown(self.timeouts.handshake_ms / 1000)
            session = self._session(link, invoice, tag=payer.tag)
            session.start(self.clock())
            handler = _PayeeEvents(
                role=self, session=session, session_id=record.session_id, invoice=invoice
            )
            try:
                outcome: Outcome = await run_session(
                    session, link, handler, clock=self.clock, on_sent=handler.sent
                )
            except AppError as exc:
                # The store refused a step: the receipt was neither signed nor sent for it.
                fail_on_store_error(store, record.session_id, exc, now=self._seconds())
                raise
            return end_session(
                store,
                record.session_id,
                outcome,
                now=self._seconds(),
                tag=payer.tag,
                sas=session.sas,
            )

    def _session(self, link: Link, invoice: SignedDocument[Invoice], *, tag: str) -> PayeeSession:
        store = self.wallet.store

        def seen(key: ChainKey) -> ChainHead | None:
            return last_seen(store.counterparties.seen_chain(key.issuer, key.serial))

        def received(payer: bytes, currency: str, since: int) -> int:
            return store.counterparties.received_from(payer, currency, since=since)

        revocations = store.trust.revocation_info()
        policy = PayeePolicy(
            trusted_issuers=store.trust.issuer_keys(),
            revoked=store.trust.revoked_keys(),
            last_seen=seen,
            risk=self.risk_policy(),
            revocations_fetched_at=None if revocations is None else revocations.fetched_at,
            received_from=received,
        )
        return PayeeSession(
            identity=self.wallet.identity.signing_key,
            invoice=invoice,
            policy=policy,
            resume=self._resume(invoice.doc.id),
            max_chunk_size=link.max_chunk,
            timeouts=self.timeouts,
            tag=tag,
        )

    def _resume(self, invoice_id: bytes) -> PayeeResume | None:
        payments = self.wallet.store.payments
        payment = payments.payment(invoice_id)
        if payment is None or payment.role is not Side.PAYEE:
            return None
        receipt = payments.receipt(invoice_id)
        return PayeeResume(
            payment=payment.signed, receipt=None if receipt is None else receipt.signed
        )

    def _report_seen(self, result: ScanResult) -> None:
        self.progress(f"  payer {result.tag} at {result.rssi} dBm ({result.address})")

    def _seconds(self) -> int:
        return seconds(self.clock)


@dataclass(kw_only=True)
class _PayeeEvents:
    """Answers one payee session's events (the driver's event handler)."""

    role: PayeeRole
    session: PayeeSession
    session_id: str
    invoice: SignedDocument[Invoice]
    sending: CrashPoint | None = None
    """The crash point to reach once the chunks now queued are sent (the receipt's)."""
    sas_told: bool = False

    def sent(self) -> None:
        """The driver handed the queued chunks to the link."""
        sas = self.session.sas
        if sas is not None and not self.sas_told:
            # The first send after the handshake carries the invoice: the payer is about to
            # show this SAS, so the payee's side shows it now too.
            self.sas_told = True
            self.role.on_sas(sas)
            self.role.progress("waiting for the payer's approval")
            timer = self.session.get_timer()
            self.role.countdown(None if timer is None else max(0, timer - self.role.clock()) / 1000)
        if self.sending is not None:
            point, self.sending = self.sending, None
            self.role.crash.reach(point)

    async def __call__(self, event: Event) -> None:
        store = self.role.wallet.store
        now = self.role.clock() // 1000
        if isinstance(event, PaymentReceived):
            payment = event.payment.doc
            amount = format_amount(payment.amount, payment.currency)
            name = load_contacts(self.role.wallet.home).name_of(payment.payer)
            payer = counterparty(payment.payer, label=payment.label, name=name)
            self.role.progress(
                f"payment verified offline: {amount} {payment.currency} from {payer}, "
                f"payer counter {payment.counter}{' (resumed)' if event.resumed else ''}"
            )
        elif isinstance(event, PersistRequired):
            crash = self.role.crash
            document = event.document
            if isinstance(document.doc, Payment):
                crash.reach(CrashPoint.PAYEE_BEFORE_PERSIST_PAYMENT)
                store.payments.persist_incoming(
                    payment_in(document, invoice=event.invoice),
                    now=now,
                    session_id=self.session_id,
                )
                crash.reach(CrashPoint.PAYEE_AFTER_PERSIST_PAYMENT)
            elif isinstance(document.doc, Receipt):
                crash.reach(CrashPoint.PAYEE_BEFORE_PERSIST_RECEIPT)
                store.payments.persist_receipt(
                    receipt_record(document, invoice_id=event.invoice_id),
                    now=now,
                    session_id=self.session_id,
                )
                crash.reach(CrashPoint.PAYEE_AFTER_PERSIST_RECEIPT)
                self.sending = CrashPoint.PAYEE_AFTER_SEND_RECEIPT
            self.session.persisted(event.record_id, now=self.role.clock())
        elif isinstance(event, Completed):
            store.sessions.complete(self.session_id, now=now)
            self.role.progress("receipt signed, stored and sent")
        elif isinstance(event, Failed):
            return
