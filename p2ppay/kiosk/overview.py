"""What the operator page shows: health, queue, last payments, today's totals, sync.

Read from the same sources as ``/healthz`` and ``/metrics`` (the kiosk's in-memory board
and metrics) and from the wallet's store (payments survive restarts there), at ``now``.

Invariants:
- Totals count only payments the store holds (``has_payment``), received as payee, whose
  last session changed since local midnight of ``now``: money stored, never money asked.
- Read-only: nothing here writes to the store or changes a job.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from p2ppay.kiosk.service import Kiosk
from p2ppay.roles import code_name
from p2ppay.store import Role, SessionState
from protocol import format_amount

__all__ = ["Overview", "PaymentLine", "overview"]


@dataclass(frozen=True, kw_only=True)
class PaymentLine:
    """One of the last payments."""

    at: int
    """Unix seconds of its last change."""
    amount: str
    currency: str
    memo: str
    state: str
    error: str | None
    payer_tag: str | None


@dataclass(frozen=True, kw_only=True)
class Overview:
    """Everything on the operator page."""

    health: dict[str, Any]
    queue: list[dict[str, Any]]
    payments: list[PaymentLine]
    totals: dict[str, str]
    """Currency -> formatted total received today."""
    today_count: int
    sync_backlog: int
    last_sync: float | None
    sync_runs: dict[str, int]
    ledger: str | None


def _state(status: SessionState, has_payment: bool, has_receipt: bool) -> str:
    if has_receipt:
        return "completed"
    if has_payment:
        return "resumable"
    return status.value


def overview(kiosk: Kiosk, *, now: float, last: int = 20) -> Overview:
    """The operator page's content at ``now`` (Unix seconds)."""
    ok, health = kiosk.health()
    tags = {job.request_id: job.last.payer_tag for job in kiosk.board.recent(1000)}
    midnight = (
        datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    )
    totals: Counter[str] = Counter()
    lines: list[PaymentLine] = []
    today = 0
    for entry in kiosk.wallet.store.sessions.history():
        if entry.role is not Role.PAYEE or entry.invoice_id is None:
            continue
        if entry.amount_minor is None or entry.currency is None:
            continue
        if entry.has_payment and entry.updated_at >= midnight:
            totals[entry.currency] += entry.amount_minor
            today += 1
        if len(lines) < last:
            lines.append(
                PaymentLine(
                    at=entry.updated_at,
                    amount=format_amount(entry.amount_minor, entry.currency),
                    currency=entry.currency,
                    memo=entry.memo or "",
                    state=_state(entry.status, entry.has_payment, entry.has_receipt),
                    error=None
                    if entry.has_payment or entry.error_code is None
                    else code_name(entry.error_code),
                    payer_tag=tags.get(entry.invoice_id.hex()),
                )
            )
        elif entry.updated_at < midnight:
            break  # newest first: nothing older counts today, and the list is full
    queue = [
        {
            "id": job.request_id,
            "state": job.state.value,
            "amount": job.view()["amount"],
            "currency": job.invoice.doc.currency,
            "memo": job.invoice.doc.memo,
            "tag": job.tag,
        }
        for job in kiosk.board.active()
    ]
    url = kiosk.config.ledger.url
    return Overview(
        health={**health, "ok": ok},
        queue=queue,
        payments=lines,
        totals={cur: format_amount(minor, cur) for cur, minor in sorted(totals.items())},
        today_count=today,
        sync_backlog=int(health["sync_backlog"]),
        last_sync=kiosk.metrics.last_sync_success,
        sync_runs=dict(kiosk.metrics.sync_runs),
        ledger=None if url is None else str(url),
    )
