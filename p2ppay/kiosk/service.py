"""The kiosk as one object: what the API calls, and the tasks that run behind it.

:class:`Kiosk` owns the job board, the adapter supervisor, the cashier, the optional
syncer and the metrics, for one unlocked payee wallet. :meth:`Kiosk.run` runs the
background tasks until :meth:`Kiosk.shutdown` (the daemon calls it on SIGTERM).

Invariants:
- The invoice is signed and stored when the request is accepted (before it queues), so
  the id the point of sale gets back is the invoice id and is in the store from then on;
  after a restart its status is read back from the store (:func:`stored_view`).
- Shutdown: no new request (KIOSK_STOPPING); queued requests fail with KIOSK_STOPPING;
  the payment in flight gets ``shutdown_grace`` seconds to finish, then is interrupted and
  ends in the state the store holds (never half-done); then the tasks stop.
- Store recovery runs when the wallet opens (before this object exists); what it moved
  is logged once at start.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio

from gatt.link import LinkOptions
from gatt.spec import TAG_ALPHABET, TAG_LENGTH
from p2ppay.clock import Clock, wall_ms
from p2ppay.errors import AppError, AppErrorCode
from p2ppay.kiosk.adapter import AdapterSupervisor, CentralFactory
from p2ppay.kiosk.cashier import Cashier, final_state
from p2ppay.kiosk.config import KioskConfig
from p2ppay.kiosk.jobs import Job, JobBoard, JobState
from p2ppay.kiosk.metrics import KioskMetrics
from p2ppay.kiosk.syncer import Syncer, SyncFn, backlog
from p2ppay.roles import PayeeRole, code_name
from p2ppay.roles.radio import payee_central
from p2ppay.store import Side
from p2ppay.wallet import Wallet
from protocol import ProtocolError, format_amount, parse_amount

__all__ = ["Kiosk", "stored_view"]

log = logging.getLogger("p2ppay.kiosk")


def stored_view(wallet: Wallet, request_id: str) -> dict[str, Any] | None:
    """A request's status read from the store (after a restart), or None if unknown."""
    try:
        invoice_id = bytes.fromhex(request_id)
    except ValueError:
        return None
    invoice = wallet.store.payments.invoice(invoice_id)
    if invoice is None or invoice.payee_key != wallet.identity.public_key:
        return None
    state = final_state(wallet, invoice_id)
    attempts = [s for s in wallet.store.sessions.for_invoice(invoice_id) if s.role is Side.PAYEE]
    last = attempts[-1] if attempts else None
    error: str | None = None
    reason = ""
    if state is not JobState.COMPLETED:
        if last is not None and last.error_code is not None:
            error, reason = code_name(last.error_code), last.detail
        else:
            error = AppErrorCode.SESSION_INTERRUPTED.name
            reason = "the kiosk stopped before this request was served"
    return {
        "seq": None,
        "id": request_id,
        "state": state.value,
        "at_ms": None if last is None else last.updated_at * 1000,
        "error": error,
        "reason": reason,
        "payer_tag": None,
        "payer_rssi": None,
        "sas": None,
        "invoice_id": request_id,
        "amount": format_amount(invoice.amount_minor, invoice.currency),
        "currency": invoice.currency,
        "memo": invoice.memo,
        "tag": None,
        "expires_at": invoice.expires_at,
        "phases_ms": {},
        "from_store": True,
    }


class Kiosk:
    """An unattended payee: the API's operations and the background tasks."""

    def __init__(
        self,
        *,
        config: KioskConfig,
        wallet: Wallet,
        central_factory: CentralFactory | None = None,
        sync: SyncFn | None = None,
        clock: Clock = wall_ms,
    ) -> None:
        """``clock``: Unix ms, the one clock of the kiosk (invoices, sessions, the store,
        the screens, job timestamps and the syncer)."""
        self.config = config
        self.wallet = wallet
        self.clock = clock
        self.metrics = KioskMetrics()
        self.board = JobBoard(queue_size=config.payments.queue_size, clock=clock)
        radio = config.radio
        options = LinkOptions(max_att_mtu=radio.max_att_mtu, connect_timeout=radio.connect_timeout)
        daemon = config.daemon
        self.adapter = AdapterSupervisor(
            central_factory or (lambda: payee_central(radio.adapter, options)),
            backoff_initial=daemon.backoff_initial,
            backoff_max=daemon.backoff_max,
            health_interval=daemon.health_interval,
            on_restart=self._count_restart,
        )
        self.syncer = (
            None
            if sync is None
            else Syncer(
                sync, interval=config.ledger.sync_interval, metrics=self.metrics, clock=clock
            )
        )
        self.cashier = Cashier(
            wallet=wallet,
            config=config,
            board=self.board,
            adapter=self.adapter,
            metrics=self.metrics,
            on_stored=self.syncer.poke if self.syncer is not None else lambda: None,
            clock=clock,
        )
        self._role = PayeeRole(wallet=wallet, clock=clock)
        self._stop = anyio.Event()
        self._stopped = anyio.Event()

    # -- the API's operations -------------------------------------------------------------

    def create(
        self, *, amount: str, currency: str | None, memo: str = "", tag: str | None = None
    ) -> Job:
        """Sign and store an invoice and queue it. KIOSK_BAD_REQUEST, INVOICE_NOT_PAYABLE,
        KIOSK_QUEUE_FULL, KIOSK_STOPPING."""
        if self.board.closed:
            raise AppError(AppErrorCode.KIOSK_STOPPING, "the kiosk is shutting down")
        payments = self.config.payments
        wanted = currency or payments.currency
        if wanted != payments.currency:
            raise AppError(
                AppErrorCode.INVOICE_NOT_PAYABLE, f"this kiosk takes {payments.currency} only"
            )
        if tag is not None and (len(tag) != TAG_LENGTH or set(tag) - set(TAG_ALPHABET)):
            raise AppError(
                AppErrorCode.KIOSK_BAD_REQUEST,
                f"tag must be {TAG_LENGTH} characters of {TAG_ALPHABET}",
            )
        try:
            minor = parse_amount(amount, wanted)
        except ProtocolError as exc:
            raise AppError(
                AppErrorCode.INVOICE_NOT_PAYABLE, f"{exc.code.name}: {amount!r}"
            ) from exc
        if payments.max_amount is not None and minor > payments.max_amount:
            limit = format_amount(payments.max_amount, wanted)
            raise AppError(AppErrorCode.INVOICE_NOT_PAYABLE, f"above this kiosk's limit {limit}")
        if self.board.depth >= payments.queue_size:
            # Refuse before signing: a full queue must not leave stored invoices behind.
            raise AppError(
                AppErrorCode.KIOSK_QUEUE_FULL, f"{self.board.depth} requests already waiting"
            )
        invoice = self._role.new_invoice(
            amount=minor, currency=wanted, memo=memo, ttl=payments.invoice_ttl
        )
        job = Job(invoice=invoice, tag=tag, created_ms=float(self.clock()))
        self.board.submit(job)
        self.metrics.requests += 1
        log.info(
            "payment requested",
            extra={
                "request_id": job.request_id,
                "amount_minor": minor,
                "currency": wanted,
                "tag": tag,
                "queue_depth": self.board.depth,
            },
        )
        return job

    def view(self, request_id: str) -> dict[str, Any]:
        """A request's status: from memory, else from the store; KIOSK_NOT_FOUND."""
        job = self.board.get(request_id)
        if job is not None:
            return job.view()
        stored = stored_view(self.wallet, request_id)
        if stored is None:
            raise AppError(AppErrorCode.KIOSK_NOT_FOUND, f"no payment request {request_id}")
        return stored

    def cancel(self, request_id: str) -> dict[str, Any]:
        """Cancel a request not yet connected to a payer (KIOSK_TOO_LATE_TO_CANCEL after)."""
        job = self.board.get(request_id)
        if job is None:
            self.view(request_id)  # KIOSK_NOT_FOUND for an unknown id
            raise AppError(AppErrorCode.KIOSK_TOO_LATE_TO_CANCEL, "the request already ended")
        self.cashier.cancel(job)
        return job.view()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the kiosk can take a payment now, and why not."""
        stopping = self.board.closed
        ok = self.adapter.up and not stopping
        current = self.cashier.current
        return ok, {
            "status": "ok" if ok else ("stopping" if stopping else "adapter_down"),
            "adapter": self.config.radio.adapter,
            "adapter_up": self.adapter.up,
            "adapter_error": None if self.adapter.up else self.adapter.last_error,
            "queue_depth": self.board.depth,
            "in_progress": None if current is None else current.request_id,
            "sync_backlog": backlog(self.wallet.store),
        }

    def render_metrics(self) -> str:
        """The /metrics body."""
        return self.metrics.render(
            queue_depth=self.board.depth,
            adapter_up=self.adapter.up,
            sync_backlog=lambda: backlog(self.wallet.store),
        )

    # -- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run the adapter, the cashier and the syncer until :meth:`shutdown`."""
        for recovered in self.wallet.store.recovered:
            log.warning(
                "session recovered at start",
                extra={
                    "session_id": recovered.session_id,
                    "role": recovered.role.value,
                    "invoice_id": None
                    if recovered.invoice_id is None
                    else recovered.invoice_id.hex(),
                    "was": recovered.previous.value,
                    "now": recovered.state.value,
                },
            )
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.adapter.run)
                if self.syncer is not None:
                    tg.start_soon(self.syncer.run)
                tg.start_soon(self.cashier.run)
                await self._stop.wait()
                await self._drain()
                tg.cancel_scope.cancel()
        finally:
            self._stopped.set()

    async def _drain(self) -> None:
        for job in self.board.close():
            self.cashier.drop(job, AppErrorCode.KIOSK_STOPPING, "the kiosk shut down")
        with anyio.move_on_after(self.config.daemon.shutdown_grace):
            await self.cashier.wait_idle()
        if self.cashier.current is not None:
            log.warning(
                "shutdown grace over: interrupting the payment in flight",
                extra={"request_id": self.cashier.current.request_id},
            )
            self.cashier.interrupt("shutdown")
            with anyio.move_on_after(10):
                await self.cashier.wait_idle()

    def shutdown(self) -> None:
        """Begin the shutdown described in the module docstring."""
        if not self._stop.is_set():
            log.info("shutting down", extra={"in_progress": self.cashier.current is not None})
        self._stop.set()

    async def wait_stopped(self) -> None:
        """Return once :meth:`run` has finished."""
        await self._stopped.wait()

    def _count_restart(self) -> None:
        self.metrics.adapter_restarts += 1
