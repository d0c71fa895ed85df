"""What the operator page shows: health, queue, last payments, today's totals, sync.

Read from the same sources as ``/healthz`` and ``/metrics`` (the kiosk's in-memory board
and metrics) and from the wallet's store (payments survive restarts there), at ``now``.

Invariants:
- Totals count only payments the store holds, received as payee, stored since local
  midnight of ``now`` (one aggregate query): money stored, never money asked.
- Bounded work per page view: the last payments come from the newest sessions only.
- Read-only: nothing here writes to the store or changes a job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from p2ppay.kiosk.service import Kiosk
from p2ppay.roles import code_name
from p2ppay.store import SessionStatus, Side
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


def _state(status: SessionStatus, has_payment: bool, has_receipt: bool) -> str:
    if has_receipt:
        return "completed"
    if has_payment:
        return "resumable"
    return status.value


def overview(kiosk: Kiosk, *, now: float, last: int = 20) -> Overview:
    """The operator page's content at ``now`` (Unix seconds)."""
    ok, health = kiosk.health()
    midnight = (
        datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    )
    received = kiosk.wallet.store.lookups.received_since(int(midnight))
    return Overview(
        health={**health, "ok": ok},
        queue=_queue(kiosk),
        payments=_last_payments(kiosk, last),
        totals={cur: format_amount(minor, cur) for cur, (_, minor) in received.items()},
        today_count=sum(count for count, _ in received.values()),
        sync_backlog=int(health["sync_backlog"]),
        last_sync=kiosk.metrics.last_sync_success,
        sync_runs=dict(kiosk.metrics.sync_runs),
        ledger=None if kiosk.config.ledger.url is None else str(kiosk.config.ledger.url),
    )


def _last_payments(kiosk: Kiosk, last: int) -> list[PaymentLine]:
    """Finished requests since start (from memory: they carry the payer tag and the requests
    that reached no payer), then older ones from the store's history; newest first."""
    lines: dict[str, PaymentLine] = {}
    for job in kiosk.board.recent(last * 4):
        if not job.done or len(lines) >= last:
            continue
        invoice = job.invoice.doc
        lines[job.request_id] = PaymentLine(
            at=int(job.last.at_ms // 1000),
            amount=format_amount(invoice.amount, invoice.currency),
            currency=invoice.currency,
            memo=invoice.memo,
            state=job.state.value,
            error=job.last.error,
            payer_tag=job.last.payer_tag,
        )
    for entry in kiosk.wallet.store.sessions.history(limit=4 * last):
        if len(lines) >= last:
            break
        if entry.role is not Side.PAYEE or entry.invoice_id is None:
            continue
        if entry.amount_minor is None or entry.currency is None:
            continue
        key = entry.invoice_id.hex()
        if key in lines or kiosk.board.get(key) is not None:
            continue
        lines[key] = PaymentLine(
            at=entry.updated_at,
            amount=format_amount(entry.amount_minor, entry.currency),
            currency=entry.currency,
            memo=entry.memo or "",
            state=_state(entry.status, entry.has_payment, entry.has_receipt),
            error=None
            if entry.has_payment or entry.error_code is None
            else code_name(entry.error_code),
            payer_tag=None,  # not kept in the store: the tag is per session, on the air
        )
    return sorted(lines.values(), key=lambda line: line.at, reverse=True)


def _queue(kiosk: Kiosk) -> list[dict[str, Any]]:
    return [
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
