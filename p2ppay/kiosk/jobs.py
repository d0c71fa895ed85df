"""Payment requests of the point of sale: their states, their event history, and the queue.

One :class:`Job` per invoice the API created; its id is the invoice id (hex), so a status is
found again in the wallet's store after a restart (:mod:`p2ppay.kiosk.recovery`).

States (``*`` terminal)::

    queued ──> scanning ──> connecting ──> handshake ──> persisting ──> completed*
      │ ^         │  ^          │              │             └──────> resumable*
      │ └─────────┘  └──(link lost: retry the same payer)──┘
      ├──> cancelled*     (only from queued or scanning: no payer connected yet)
      └──> failed*        (from any non-terminal state)

Invariants:
- Every state change is one :class:`StatusEvent` appended to the job's history (numbered
  from 1, never rewritten) and wakes every waiter, so an SSE stream that replays the history
  and then waits sees each change exactly once, in order.
- The queue is bounded: :meth:`JobBoard.submit` refuses (KIOSK_QUEUE_FULL) rather than
  wait; one job at a time leaves it, in submission order (a job sent back because the
  adapter failed before any payer was reached goes back to the head).
- A terminal job never changes again. The board keeps the newest ``keep`` finished jobs in
  memory; older ones are read back from the store.
- Every change of any job also wakes the board's own waiters (:meth:`JobBoard.changed`):
  the customer display follows the whole board, not one request.
- Everything here runs on the event loop's thread; nothing blocks.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import anyio

from p2ppay.clock import Clock, wall_ms
from p2ppay.errors import AppError, AppErrorCode
from protocol import Invoice, SignedDocument, format_amount

__all__ = ["TERMINAL", "Job", "JobBoard", "JobState", "StatusEvent", "now_ms"]


def now_ms() -> float:
    """Wall clock in Unix milliseconds: the default of :class:`JobBoard`'s clock."""
    return float(wall_ms())


class JobState(Enum):
    """Where a payment request stands."""

    QUEUED = "queued"
    """Waiting behind the payment in progress, or for the adapter to come back."""
    SCANNING = "scanning"
    """Listening for the payer (by its tag, or the strongest signal above the gate)."""
    CONNECTING = "connecting"
    """A payer was chosen; the link is being set up."""
    HANDSHAKE = "handshake"
    """Connected: handshake, invoice, the payer's approval, its payment on the way."""
    PERSISTING = "persisting"
    """The payment verified offline; it and the receipt are being stored, then sent."""
    COMPLETED = "completed"
    """Terminal: payment and receipt stored here, receipt sent to the payer."""
    RESUMABLE = "resumable"
    """Terminal: the payment is verified and stored here, the receipt did not reach the
    payer (the link dropped, or the kiosk restarted). The money is in the sync outbox."""
    FAILED = "failed"
    """Terminal: no payment was stored; ``error`` says why. No money moved."""
    CANCELLED = "cancelled"
    """Terminal: the point of sale cancelled before any payer was connected."""


TERMINAL = frozenset({JobState.COMPLETED, JobState.RESUMABLE, JobState.FAILED, JobState.CANCELLED})
"""States a job never leaves."""


@dataclass(frozen=True, kw_only=True)
class StatusEvent:
    """One state change of one job, as the SSE stream sends it."""

    seq: int
    """1 for the first event of the job, then +1 per change."""
    request_id: str
    state: JobState
    at_ms: float
    """Unix milliseconds."""
    error: str | None = None
    """The code name that ended a failed (or resumable) job."""
    reason: str = ""
    payer_tag: str | None = None
    payer_rssi: int | None = None
    sas: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The event's JSON body."""
        return {
            "seq": self.seq,
            "id": self.request_id,
            "state": self.state.value,
            "at_ms": round(self.at_ms, 3),
            "error": self.error,
            "reason": self.reason,
            "payer_tag": self.payer_tag,
            "payer_rssi": self.payer_rssi,
            "sas": self.sas,
        }


@dataclass(eq=False, kw_only=True)
class Job:
    """One payment request; mutated only by the board and the cashier (one task)."""

    invoice: SignedDocument[Invoice]
    tag: str | None
    created_ms: float = field(default_factory=now_ms)
    events: list[StatusEvent] = field(default_factory=list)
    entered_ms: dict[JobState, float] = field(default_factory=dict)
    """When the job last entered each state (phase durations are computed from these)."""
    phase_ms: dict[str, float] = field(default_factory=dict)
    """Time spent per non-terminal state, summed over retries."""
    cancel_scope: anyio.CancelScope | None = None
    """Set while the cashier runs the job; cancelling it stops scanning."""
    _changed: anyio.Event = field(default_factory=anyio.Event)

    @property
    def request_id(self) -> str:
        """The invoice id in hex: the API's id for this request."""
        return self.invoice.doc.id.hex()

    @property
    def last(self) -> StatusEvent:
        """The latest event (every job has at least its ``queued`` event)."""
        return self.events[-1]

    @property
    def state(self) -> JobState:
        """The current state."""
        return self.last.state

    @property
    def done(self) -> bool:
        """True once terminal."""
        return self.state in TERMINAL

    def view(self) -> dict[str, Any]:
        """The job as the API shows it."""
        invoice = self.invoice.doc
        last = self.last
        return {
            **last.as_json(),
            "invoice_id": self.request_id,
            "amount": format_amount(invoice.amount, invoice.currency),
            "currency": invoice.currency,
            "memo": invoice.memo,
            "tag": self.tag,
            "expires_at": invoice.expires,
            "phases_ms": {k: round(v, 3) for k, v in self.phase_ms.items()},
        }

    def changed(self) -> anyio.Event:
        """An event set at the next state change."""
        return self._changed

    def _record(self, event: StatusEvent) -> None:
        previous = self.events[-1].state if self.events else None
        if previous is not None:
            spent = event.at_ms - self.entered_ms[previous]
            self.phase_ms[previous.value] = self.phase_ms.get(previous.value, 0.0) + spent
        self.entered_ms[event.state] = event.at_ms
        self.events.append(event)
        changed, self._changed = self._changed, anyio.Event()
        changed.set()


class JobBoard:
    """The jobs the API knows, and the bounded queue the cashier takes them from."""

    def __init__(self, *, queue_size: int, keep: int = 1000, clock: Clock = wall_ms) -> None:
        self._clock = clock
        self._queue_size = queue_size
        self._keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._queue: deque[Job] = deque()
        self._queued = anyio.Event()
        self._closed = False
        self._any_changed = anyio.Event()

    @property
    def depth(self) -> int:
        """Jobs waiting in the queue (not the one in progress)."""
        return len(self._queue)

    @property
    def closed(self) -> bool:
        """True once the board takes no new job (shutdown)."""
        return self._closed

    def get(self, request_id: str) -> Job | None:
        """The job with that id, if still in memory."""
        return self._jobs.get(request_id)

    def changed(self) -> anyio.Event:
        """An event set at the next state change of any job (or when the board closes)."""
        return self._any_changed

    def latest(self) -> Job | None:
        """The job whose state changed last, if any is in memory."""
        return max(self._jobs.values(), key=lambda job: job.last.at_ms, default=None)

    def recent(self, limit: int) -> list[Job]:
        """Up to ``limit`` jobs in memory, the newest request first."""
        return list(reversed(self._jobs.values()))[:limit]

    def active(self) -> list[Job]:
        """Jobs not yet terminal."""
        return [job for job in self._jobs.values() if not job.done]

    def submit(self, job: Job) -> None:
        """Queue ``job``; KIOSK_STOPPING after :meth:`close`, KIOSK_QUEUE_FULL when full."""
        if self._closed:
            raise AppError(AppErrorCode.KIOSK_STOPPING, "the kiosk is shutting down")
        if len(self._queue) >= self._queue_size:
            raise AppError(
                AppErrorCode.KIOSK_QUEUE_FULL, f"{len(self._queue)} requests already waiting"
            )
        self.publish(job, JobState.QUEUED)
        self._jobs[job.request_id] = job
        self._evict()
        self._queue.append(job)
        self._queued.set()

    def requeue_front(self, job: Job, reason: str) -> None:
        """Put a started job back at the head (the adapter failed before any payer)."""
        self._queue.appendleft(job)
        self.publish(job, JobState.QUEUED, reason=reason)
        self._queued.set()

    async def next_job(self) -> Job | None:
        """The oldest queued job (skipping cancelled ones); None once closed and empty."""
        while True:
            while self._queue:
                job = self._queue.popleft()
                if not job.done:
                    return job
            if self._closed:
                return None
            self._queued = anyio.Event()
            await self._queued.wait()

    def close(self) -> list[Job]:
        """Take no new job; return (and forget) the queued ones for the caller to fail."""
        self._closed = True
        waiting = [job for job in self._queue if not job.done]
        self._queue.clear()
        self._queued.set()
        self._wake_all()
        return waiting

    def cancel_queued(self, job: Job) -> None:
        """Remove a queued job from the queue (its state is set by the caller)."""
        if job in self._queue:
            self._queue.remove(job)

    def publish(self, job: Job, state: JobState, **details: Any) -> StatusEvent:
        """Append a state change to ``job`` and wake its waiters; terminal jobs never change."""
        if job.events and job.done:
            raise RuntimeError(f"job {job.request_id} is already {job.state.value}")
        previous = job.events[-1] if job.events else None
        for key in ("payer_tag", "payer_rssi", "sas"):
            if key not in details and previous is not None:
                details[key] = getattr(previous, key)
        event = StatusEvent(
            seq=len(job.events) + 1,
            request_id=job.request_id,
            state=state,
            at_ms=float(self._clock()),
            **details,
        )
        job._record(event)
        self._wake_all()
        return event

    def _wake_all(self) -> None:
        changed, self._any_changed = self._any_changed, anyio.Event()
        changed.set()

    def _evict(self) -> None:
        finished = [key for key, job in self._jobs.items() if job.done]
        for key in finished[: max(0, len(finished) - self._keep)]:
            del self._jobs[key]
