"""The point-of-sale API (Starlette), served on loopback or a Unix socket.

Endpoints::

    POST /invoices                {"amount": "12.50", "currency": "EUR", "memo": "", "tag": null}
                                  -> 201 the request's status (its "id" is the invoice id)
    GET  /invoices/{id}           -> 200 status
    GET  /invoices/{id}/events    -> server-sent events: one "status" event per state change,
                                     replayed from the first (or after Last-Event-ID), ending
                                     after the final state
    POST /invoices/{id}/cancel    -> 200 status (cancelled), 409 once a payer is connected
    GET  /healthz                 -> 200 {"status": "ok", ...} or 503 (adapter down, stopping)
    GET  /metrics                 -> Prometheus text format

plus the customer display and the operator page (:mod:`p2ppay.kiosk.screens`).

Every request first passes :class:`~p2ppay.kiosk.guard.Guard`: on TCP a bearer token, a
``Host`` naming the listen address, no cross-site ``Origin`` / ``Sec-Fetch-Site``, and a
JSON ``Content-Type`` on any body (KIOSK_UNAUTHORIZED, KIOSK_BAD_HOST, KIOSK_CROSS_SITE,
KIOSK_NOT_JSON): a web page in a local browser cannot create or cancel anything.

Invariants:
- Every refusal is ``{"error": NAME, "code": N, "message": TEXT}`` with a stable code name
  (:class:`~p2ppay.errors.AppErrorCode`): 400 bad input, 401 no token, 403 cross-site or
  wrong Host, 404 unknown id, 415 not JSON, 409 too late,
  503 queue full or shutting down (with ``Retry-After``), 500 a store failure.
- Handlers run on the daemon's event loop and never block it: the store writes they do
  (signing and storing an invoice) are the same short transactions the roles do.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from p2ppay.errors import AppError, AppErrorCode
from p2ppay.kiosk.guard import Guard, GuardPolicy
from p2ppay.kiosk.jobs import StatusEvent
from p2ppay.kiosk.screens import screen_routes
from p2ppay.kiosk.service import Kiosk

__all__ = ["KEEPALIVE_S", "build_app"]

KEEPALIVE_S = 15.0
"""Seconds between SSE comment lines while nothing changes (keeps proxies from timing out)."""

_C = AppErrorCode
_STATUS: dict[AppErrorCode, int] = {
    _C.KIOSK_BAD_REQUEST: 400,
    _C.INVOICE_NOT_PAYABLE: 400,
    _C.KIOSK_NOT_FOUND: 404,
    _C.KIOSK_TOO_LATE_TO_CANCEL: 409,
    _C.KIOSK_QUEUE_FULL: 503,
    _C.KIOSK_STOPPING: 503,
}


class CreateInvoice(BaseModel):
    """The body of ``POST /invoices``."""

    model_config = ConfigDict(extra="forbid")
    amount: str = Field(min_length=1, max_length=32)
    """Decimal text in the currency's units, e.g. "12.50"."""
    currency: str | None = None
    """ISO 4217; must be the kiosk's currency (the default)."""
    memo: str = Field(default="", max_length=200)
    tag: str | None = None
    """The session tag the customer reads off their screen; else the nearest payer pays."""


def _error(exc: AppError) -> JSONResponse:
    status = _STATUS.get(exc.code, 500)
    headers = {"Retry-After": "2"} if status == 503 else None
    body = {"error": exc.code.name, "code": int(exc.code), "message": exc.message}
    return JSONResponse(body, status_code=status, headers=headers)


def _sse(event: StatusEvent) -> str:
    return f"id: {event.seq}\nevent: status\ndata: {json.dumps(event.as_json())}\n\n"


def build_app(kiosk: Kiosk, policy: GuardPolicy) -> Starlette:
    """The ASGI app serving ``kiosk``: the API and the screens, behind :class:`Guard`."""

    async def create(request: Request) -> Response:
        try:
            body = CreateInvoice.model_validate_json(await request.body())
        except ValidationError as exc:
            fields = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            return _error(AppError(AppErrorCode.KIOSK_BAD_REQUEST, fields))
        try:
            job = kiosk.create(
                amount=body.amount, currency=body.currency, memo=body.memo, tag=body.tag
            )
        except AppError as exc:
            return _error(exc)
        return JSONResponse(
            job.view(), status_code=201, headers={"Location": f"/invoices/{job.request_id}"}
        )

    async def status(request: Request) -> Response:
        try:
            return JSONResponse(kiosk.view(request.path_params["id"]))
        except AppError as exc:
            return _error(exc)

    async def cancel(request: Request) -> Response:
        try:
            kiosk.cancel(request.path_params["id"])
            # A scanning job ends when its task sees the cancellation: let it run first.
            job = kiosk.board.get(request.path_params["id"])
            if job is not None:
                with anyio.move_on_after(5):
                    while not job.done:
                        await job.changed().wait()
            return JSONResponse(kiosk.view(request.path_params["id"]))
        except AppError as exc:
            return _error(exc)

    async def events(request: Request) -> Response:
        request_id = request.path_params["id"]
        try:
            view = kiosk.view(request_id)
        except AppError as exc:
            return _error(exc)
        last_id = request.headers.get("last-event-id", "0")
        after = int(last_id) if last_id.isdigit() else 0
        return StreamingResponse(
            _stream(kiosk, request_id, view, after),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def healthz(request: Request) -> Response:
        ok, body = kiosk.health()
        return JSONResponse(body, status_code=200 if ok else 503)

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(
            kiosk.render_metrics(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(AppError(AppErrorCode.KIOSK_NOT_FOUND, f"no endpoint {request.url.path}"))

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return _error(AppError(AppErrorCode.KIOSK_BAD_REQUEST, f"{request.method} not allowed"))

    return Starlette(
        routes=[
            Route("/invoices", create, methods=["POST"]),
            Route("/invoices/{id}", status, methods=["GET"]),
            Route("/invoices/{id}/events", events, methods=["GET"]),
            Route("/invoices/{id}/cancel", cancel, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *screen_routes(kiosk, policy),
        ],
        middleware=[Middleware(Guard, policy=policy)],
        exception_handlers={404: not_found, 405: not_allowed},
    )


async def _stream(
    kiosk: Kiosk, request_id: str, view: dict[str, Any], after: int
) -> AsyncIterator[str]:
    job = kiosk.board.get(request_id)
    if job is None:
        # Known only to the store (a restart happened): its final state, once.
        yield f"event: status\ndata: {json.dumps(view)}\n\n"
        return
    sent = after
    while True:
        changed = job.changed()
        for event in job.events[sent:]:
            yield _sse(event)
        sent = max(sent, len(job.events))
        if job.done:
            return
        with anyio.move_on_after(KEEPALIVE_S) as idle:
            await changed.wait()
        if idle.cancelled_caught:
            yield ": keepalive\n\n"
