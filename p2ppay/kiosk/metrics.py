"""The kiosk's metrics, rendered in the Prometheus text exposition format (version 0.0.4).

Names (all prefixed ``p2ppay_kiosk_``):

- ``requests_total``: payment requests the API accepted.
- ``payments_total{status}``: finished requests by final state (completed, resumable,
  failed, cancelled).
- ``failures_total{code}``: failed or resumable requests by error code name.
- ``received_minor_total{currency}``: money verified and stored, in minor units.
- ``phase_seconds{phase}`` (histogram): time per phase of a finished request (queued,
  scanning, connecting, handshake, persisting).
- ``payment_seconds`` (histogram): from the API request to the final state.
- ``queue_depth``, ``adapter_up``, ``adapter_restarts_total``.
- ``sync_backlog``: outbox records not yet settled (pending or sent), read at each scrape.
- ``sync_runs_total{result}``, ``last_sync_success_timestamp_seconds``.

Invariants: counters only grow; everything is computed on the event loop's thread, so a
scrape sees one consistent snapshot. Label values are code names or fixed words, never
free text (bounded cardinality).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["BUCKETS", "Histogram", "KioskMetrics"]

BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
"""Histogram upper bounds in seconds (+Inf is implied)."""

_PREFIX = "p2ppay_kiosk_"


@dataclass(kw_only=True)
class Histogram:
    """A cumulative histogram of seconds."""

    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: int = 0
    sum: float = 0.0

    def observe(self, seconds: float) -> None:
        """Count one observation."""
        self.total += 1
        self.sum += seconds
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1

    def lines(self, name: str, labels: str) -> list[str]:
        """Its ``_bucket``, ``_sum`` and ``_count`` samples."""
        sep = "," if labels else ""
        out = [
            f'{name}_bucket{{{labels}{sep}le="{bound:g}"}} {count}'
            for bound, count in zip(BUCKETS, self.counts, strict=True)
        ]
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.total}')
        wrapped = f"{{{labels}}}" if labels else ""
        out.append(f"{name}_sum{wrapped} {self.sum:.6f}")
        out.append(f"{name}_count{wrapped} {self.total}")
        return out


@dataclass(kw_only=True)
class KioskMetrics:
    """Counters and histograms the daemon updates; :meth:`render` is the /metrics body."""

    requests: int = 0
    payments: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    received: Counter[str] = field(default_factory=Counter)
    phases: dict[str, Histogram] = field(default_factory=dict)
    payment: Histogram = field(default_factory=Histogram)
    adapter_restarts: int = 0
    sync_runs: Counter[str] = field(default_factory=Counter)
    last_sync_success: float | None = None

    def finished(
        self,
        *,
        status: str,
        error: str | None,
        phases_ms: dict[str, float],
        total_ms: float,
        currency: str,
        amount_minor: int,
    ) -> None:
        """Record a request that reached its final state."""
        self.payments[status] += 1
        if error is not None:
            self.failures[error] += 1
        if status in {"completed", "resumable"}:
            self.received[currency] += amount_minor
        for phase, ms in phases_ms.items():
            self.phases.setdefault(phase, Histogram()).observe(ms / 1000)
        self.payment.observe(total_ms / 1000)

    def render(
        self,
        *,
        queue_depth: int,
        adapter_up: bool,
        sync_backlog: Callable[[], int],
    ) -> str:
        """The Prometheus text body."""
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> str:
            full = _PREFIX + name
            out.append(f"# HELP {full} {help_text}")
            out.append(f"# TYPE {full} {kind}")
            return full

        name = family("requests_total", "counter", "Payment requests accepted by the API.")
        out.append(f"{name} {self.requests}")
        name = family("payments_total", "counter", "Finished payment requests by final state.")
        for status in ("completed", "resumable", "failed", "cancelled"):
            out.append(f'{name}{{status="{status}"}} {self.payments[status]}')
        name = family("failures_total", "counter", "Failed or unconfirmed requests by code.")
        for code, count in sorted(self.failures.items()):
            out.append(f'{name}{{code="{code}"}} {count}')
        name = family("received_minor_total", "counter", "Money stored, in minor units.")
        for currency, amount in sorted(self.received.items()):
            out.append(f'{name}{{currency="{currency}"}} {amount}')
        name = family("phase_seconds", "histogram", "Time per phase of a finished request.")
        for phase, histogram in sorted(self.phases.items()):
            out.extend(histogram.lines(name, f'phase="{phase}"'))
        name = family("payment_seconds", "histogram", "From the API request to the end.")
        out.extend(self.payment.lines(name, ""))
        name = family("queue_depth", "gauge", "Requests waiting behind the one in progress.")
        out.append(f"{name} {queue_depth}")
        name = family("adapter_up", "gauge", "1 while the BLE adapter is open and answering.")
        out.append(f"{name} {int(adapter_up)}")
        name = family("adapter_restarts_total", "counter", "Times the adapter was reopened.")
        out.append(f"{name} {self.adapter_restarts}")
        name = family("sync_backlog", "gauge", "Outbox records not yet settled by the ledger.")
        out.append(f"{name} {sync_backlog()}")
        name = family("sync_runs_total", "counter", "Background syncs by result.")
        for result in ("ok", "error"):
            out.append(f'{name}{{result="{result}"}} {self.sync_runs[result]}')
        name = family(
            "last_sync_success_timestamp_seconds", "gauge", "Unix time of the last good sync."
        )
        out.append(f"{name} {self.last_sync_success or 0:.3f}")
        return "\n".join(out) + "\n"
