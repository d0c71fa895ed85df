"""The cashier: takes one payment request at a time off the queue and gets it paid.

For each job: wait for the adapter (bounded by the invoice's expiry), hold the radio, run
:meth:`PayeeRole.collect` through a :class:`PhaseCentral` that reports the phases, and end
the job in the state the store holds.

Invariants:
- One job at a time per adapter: the radio is held (:meth:`AdapterSupervisor.use`) for
  the whole job.
- A job's final state is read back from the store (``completed`` if a receipt is stored,
  ``resumable`` if only the payment is, else ``failed``), never assumed from memory, so
  what the point of sale is told is what a restart would show.
- A cancelled or interrupted job leaves no session unfinished in the store: open sessions
  are ended at once (``failed``, or ``resumable`` if its payment was stored).
- Any exception of one job ends that job (``failed`` with KIOSK_JOB_CRASHED, or
  ``resumable`` if its payment was stored), is logged with its traceback, and the cashier
  takes the next job: one hostile peer or one bug never stops the daemon.
- The SAS is published (a ``handshake`` event with ``sas`` set) as soon as the payee role
  learns it, before the payer's approval, for the customer display.
- Only a job that reached no payer is ever retried after an adapter failure (sent back to
  the head of the queue); after a link to a payer existed, the role's own retry (the same
  payer, the same invoice) is the only one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import anyio

from gatt.errors import AdapterUnavailable, GattError
from gatt.link import Central, Link, ScanResult
from p2ppay.clock import Clock, seconds, wall_ms
from p2ppay.errors import AppError, AppErrorCode
from p2ppay.kiosk.adapter import AdapterSupervisor
from p2ppay.kiosk.config import KioskConfig
from p2ppay.kiosk.jobs import Job, JobBoard, JobState
from p2ppay.kiosk.metrics import KioskMetrics
from p2ppay.roles import PayeeRole, PayerChoice
from p2ppay.wallet import Wallet
from protocol.session import Timeouts

__all__ = ["Cashier", "PhaseCentral", "final_state"]

log = logging.getLogger("p2ppay.kiosk.cashier")

_PAYMENT_VERIFIED = "payment verified"
"""Prefix of the payee role's progress line once the payment verified (persistence next)."""


class PhaseCentral(Central):
    """A central that reports the phases of a payment while delegating to the real one."""

    def __init__(self, central: Central, *, board: JobBoard, job: Job) -> None:
        self._central = central
        self._board = board
        self._job = job

    async def start(self) -> None:
        await self._central.start()

    async def aclose(self) -> None:
        await self._central.aclose()

    def scan(self) -> AbstractAsyncContextManager[AsyncIterator[ScanResult]]:
        if self._job.state is not JobState.SCANNING:
            self._board.publish(self._job, JobState.SCANNING)
        return self._central.scan()

    async def connect(self, result: ScanResult) -> Link:
        self._board.publish(
            self._job, JobState.CONNECTING, payer_tag=result.tag, payer_rssi=result.rssi
        )
        link = await self._central.connect(result)
        self._board.publish(self._job, JobState.HANDSHAKE)
        return link


def final_state(wallet: Wallet, invoice_id: bytes) -> JobState:
    """What the store says about an invoice: completed, resumable or failed."""
    payments = wallet.store.payments
    if payments.receipt(invoice_id) is not None:
        return JobState.COMPLETED
    if payments.payment(invoice_id) is not None:
        return JobState.RESUMABLE
    return JobState.FAILED


@dataclass(kw_only=True)
class _Ending:
    error: str | None
    reason: str
    sas: str | None = None


class Cashier:
    """Serves the queue, one job at a time."""

    def __init__(
        self,
        *,
        wallet: Wallet,
        config: KioskConfig,
        board: JobBoard,
        adapter: AdapterSupervisor,
        metrics: KioskMetrics,
        on_stored: Callable[[], None] = lambda: None,
        clock: Clock = wall_ms,
    ) -> None:
        self._clock = clock
        self._wallet = wallet
        self._config = config
        self._board = board
        self._adapter = adapter
        self._metrics = metrics
        self._on_stored = on_stored
        self._current: Job | None = None
        self._interrupt_reason: str | None = None
        self._idle = anyio.Event()
        self._idle.set()

    @property
    def current(self) -> Job | None:
        """The job in progress, if any."""
        return self._current

    async def run(self) -> None:
        """Serve jobs until the board is closed and drained."""
        while True:
            job = await self._board.next_job()
            if job is None:
                return
            self._current, self._idle = job, anyio.Event()
            try:
                await self._serve(job)
            except Exception:
                # Whatever one job raised (a bug, a hostile value the store cannot hold),
                # the daemon keeps serving: that request ends, the next one is taken.
                log.exception("payment request crashed", extra={"request_id": job.request_id})
                try:
                    self._fail_crashed(job)
                except Exception:
                    log.exception(
                        "could not end the crashed request", extra={"request_id": job.request_id}
                    )
            finally:
                self._current = None
                self._idle.set()

    async def wait_idle(self) -> None:
        """Return once no job is in progress."""
        await self._idle.wait()

    def cancel(self, job: Job) -> None:
        """Cancel ``job`` (queued or scanning); KIOSK_TOO_LATE_TO_CANCEL once a payer is
        connected. The caller reads the job's state for the outcome."""
        if job.done:
            return
        if job.state is JobState.QUEUED and job is not self._current:
            self._board.cancel_queued(job)
            self._end(job, JobState.CANCELLED, _Ending(error=None, reason="cancelled"))
            return
        if job.state in {JobState.QUEUED, JobState.SCANNING} and job.cancel_scope is not None:
            self._interrupt_reason = "cancelled"
            job.cancel_scope.cancel()
            return
        raise AppError(
            AppErrorCode.KIOSK_TOO_LATE_TO_CANCEL,
            f"the payment is {job.state.value}: a payer is connected",
        )

    def drop(self, job: Job, code: AppErrorCode, reason: str) -> None:
        """End a job that never left the queue as failed with ``code``."""
        if not job.done:
            self._board.cancel_queued(job)
            self._end(job, JobState.FAILED, _Ending(error=code.name, reason=reason))

    def interrupt(self, reason: str) -> None:
        """Stop the job in progress whatever its phase (shutdown grace ran out)."""
        job = self._current
        if job is not None and job.cancel_scope is not None:
            self._interrupt_reason = reason
            job.cancel_scope.cancel()

    async def _serve(self, job: Job) -> None:
        expires_in = job.invoice.doc.expires - self._clock() / 1000
        if expires_in <= 0:
            expired = _Ending(
                error=AppErrorCode.KIOSK_QUEUE_TIMEOUT.name,
                reason="the invoice expired in the queue",
            )
            self._end(job, JobState.FAILED, expired)
            return
        ending: _Ending | None = None
        with anyio.CancelScope() as scope:
            job.cancel_scope = scope
            with anyio.move_on_after(max(0.0, expires_in)) as waiting:
                await self._adapter.wait_up()
            if waiting.cancelled_caught:
                ending = _Ending(
                    error=AppErrorCode.KIOSK_QUEUE_TIMEOUT.name,
                    reason="the invoice expired waiting for the adapter",
                )
            else:
                ending = await self._collect(job)
        job.cancel_scope = None
        if scope.cancelled_caught:
            reason = self._interrupt_reason or "interrupted"
            self._interrupt_reason = None
            self._close_open_sessions(reason)
            state = final_state(self._wallet, job.invoice.doc.id)
            if state is JobState.FAILED and reason == "cancelled":
                self._end(job, JobState.CANCELLED, _Ending(error=None, reason=reason))
            else:
                interrupted = AppErrorCode.SESSION_INTERRUPTED.name
                code = None if state is JobState.COMPLETED else interrupted
                self._end(job, state, _Ending(error=code, reason=reason))
            return
        if ending is None:  # requeued: the adapter failed before any payer was reached
            return
        state = final_state(self._wallet, job.invoice.doc.id)
        if state is JobState.COMPLETED:
            ending = _Ending(error=None, reason="", sas=ending.sas)
        self._end(job, state, ending)

    async def _collect(self, job: Job) -> _Ending | None:
        radio = self._config.radio
        choice = PayerChoice(
            tag=job.tag,
            # A tag read off the customer's screen is their choice: no proximity gate then.
            min_rssi=-127 if job.tag else radio.min_rssi,
            margin_db=radio.margin_db,
            listen=radio.listen,
            tag_listen=radio.tag_listen,
            within=radio.scan_timeout,
        )
        role = PayeeRole(
            wallet=self._wallet,
            choice=choice,
            attempts=self._config.payments.attempts,
            progress=lambda line: self._progress(job, line),
            on_sas=lambda sas: self._publish_sas(job, sas),
            risk=self._config.risk_policy(),
            timeouts=Timeouts(payment_ms=int(self._config.payments.payer_wait * 1000)),
            clock=self._clock,
        )
        try:
            async with self._adapter.use() as central:
                self._board.publish(job, JobState.SCANNING)
                outcome = await role.collect(
                    PhaseCentral(central, board=self._board, job=job), job.invoice
                )
        except AdapterUnavailable as exc:
            if not self._wallet.store.sessions.for_invoice(job.invoice.doc.id):
                self._board.requeue_front(job, reason=f"adapter lost: {exc.message}")
                return None
            return _Ending(error=AppErrorCode.ADAPTER_FAILED.name, reason=exc.message)
        except GattError as exc:
            return _Ending(error=AppErrorCode.ADAPTER_FAILED.name, reason=exc.message)
        except AppError as exc:
            return _Ending(error=exc.code.name, reason=exc.message)
        except Exception as exc:
            # Not one of ours: logged with its traceback; the sessions it left open are
            # ended, and the store says whether a payment was kept (failed or resumable).
            log.exception("payment request crashed", extra={"request_id": job.request_id})
            self._close_open_sessions(f"crashed: {type(exc).__name__}")
            return _Ending(
                error=AppErrorCode.KIOSK_JOB_CRASHED.name,
                reason=f"internal error ({type(exc).__name__}); nothing else was affected",
            )
        return _Ending(error=outcome.error, reason=outcome.reason, sas=outcome.sas)

    def _fail_crashed(self, job: Job) -> None:
        """End ``job`` after an exception escaped :meth:`_serve` (last line of defence)."""
        job.cancel_scope = None
        self._close_open_sessions("crashed")
        if job.done:
            return
        try:
            state = final_state(self._wallet, job.invoice.doc.id)
        except Exception:  # the store itself is failing: say failed, recovery will tell
            state = JobState.FAILED
        code = None if state is JobState.COMPLETED else AppErrorCode.KIOSK_JOB_CRASHED.name
        self._end(job, state, _Ending(error=code, reason="internal error"))

    def _publish_sas(self, job: Job, sas: str) -> None:
        if job.state is JobState.HANDSHAKE and job.last.sas != sas:
            self._board.publish(job, JobState.HANDSHAKE, sas=sas)

    def _progress(self, job: Job, line: str) -> None:
        log.debug("payee progress", extra={"request_id": job.request_id, "line": line.strip()})
        if line.startswith(_PAYMENT_VERIFIED) and job.state is JobState.HANDSHAKE:
            self._board.publish(job, JobState.PERSISTING)

    def _close_open_sessions(self, reason: str) -> None:
        store = self._wallet.store
        now = seconds(self._clock)
        for record in store.sessions.unfinished():
            store.sessions.fail(
                record.session_id,
                now=now,
                error_code=AppErrorCode.SESSION_INTERRUPTED,
                detail=f"kiosk: {reason}",
            )

    def _end(self, job: Job, state: JobState, ending: _Ending) -> None:
        event = self._board.publish(
            job, state, error=ending.error, reason=ending.reason, sas=ending.sas
        )
        invoice = job.invoice.doc
        self._metrics.finished(
            status=state.value,
            error=ending.error,
            phases_ms=job.phase_ms,
            total_ms=event.at_ms - job.created_ms,
            currency=invoice.currency,
            amount_minor=invoice.amount,
        )
        if state in {JobState.COMPLETED, JobState.RESUMABLE}:
            self._on_stored()
        log.info(
            "payment finished",
            extra={
                "request_id": job.request_id,
                "state": state.value,
                "error": ending.error,
                "reason": ending.reason,
                "payer_tag": event.payer_tag,
                "payer_rssi": event.payer_rssi,
                "amount_minor": invoice.amount,
                "currency": invoice.currency,
                "total_ms": round(event.at_ms - job.created_ms, 1),
                "phases_ms": {k: round(v, 1) for k, v in job.phase_ms.items()},
            },
        )
