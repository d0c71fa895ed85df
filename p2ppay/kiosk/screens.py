"""The kiosk's two screens, server-rendered HTML with a small script (no build step):

    GET  /display          the customer display (read-only; public, see the guard)
    GET  /display/state    its current state as JSON (what the page starts from)
    GET  /display/events   server-sent events: one ``display`` event per change of it
    GET  /                 the operator page (token or operator cookie, else its login form)
    POST /login            {"token": "..."} -> 204 and the operator cookie; 401 if wrong
    GET  /static/{name}    the pages' CSS and scripts, from this package (no CDN)

Invariants:
- Every asset is served by the kiosk from ``p2ppay/kiosk/static/`` (a fixed list, never a
  path from the request): the display works with no network at all.
- Everything written into HTML goes through :func:`html.escape` (a memo is free text).
- The display stream sends a view only when it differs from the last one sent; it ends
  once the kiosk is stopping and idle, so a shutdown never waits for a browser.
"""

from __future__ import annotations

import hmac
import html
import json
from collections.abc import AsyncIterator
from datetime import datetime
from importlib import resources
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from p2ppay.kiosk.display import display_view
from p2ppay.kiosk.guard import COOKIE, GuardPolicy, operator_cookie
from p2ppay.kiosk.overview import Overview, overview
from p2ppay.kiosk.service import Kiosk

__all__ = ["STATIC", "screen_routes"]

STATIC: dict[str, str] = {
    "display.css": "text/css; charset=utf-8",
    "display.js": "text/javascript; charset=utf-8",
    "operator.css": "text/css; charset=utf-8",
    "login.js": "text/javascript; charset=utf-8",
}
"""The only files ``/static/`` serves, with their media types."""

KEEPALIVE_S = 15.0
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class _Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=512)


def _current(kiosk: Kiosk) -> dict[str, Any]:
    job = kiosk.cashier.current or kiosk.board.latest()
    return display_view(job, now_ms=float(kiosk.clock()))


def screen_routes(kiosk: Kiosk, policy: GuardPolicy) -> list[Route]:
    """The routes of both screens for ``kiosk`` behind ``policy``."""
    assets = {
        name: resources.files("p2ppay.kiosk").joinpath("static", name).read_bytes()
        for name in STATIC
    }

    async def display(request: Request) -> Response:
        return HTMLResponse(_display_html(_current(kiosk)), headers=_HEADERS)

    async def display_state(request: Request) -> Response:
        return JSONResponse(_current(kiosk), headers={"Cache-Control": "no-store"})

    async def display_events(request: Request) -> Response:
        return StreamingResponse(
            _display_stream(kiosk),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return JSONResponse(
                {"error": "KIOSK_NOT_FOUND", "code": 1402, "message": f"no asset {name}"},
                status_code=404,
            )
        return Response(
            assets[name],
            media_type=STATIC[name],
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    async def operator(request: Request) -> Response:
        if not request.scope.get("p2ppay.operator", False):
            return HTMLResponse(_login_html(), status_code=401, headers=_HEADERS)
        content = overview(kiosk, now=kiosk.clock() / 1000)
        page = _operator_html(content, kiosk.config.payments.currency)
        return HTMLResponse(page, headers=_HEADERS)

    async def login(request: Request) -> Response:
        refused = JSONResponse(
            {"error": "KIOSK_UNAUTHORIZED", "code": 1408, "message": "wrong token"},
            status_code=401,
        )
        if policy.token is None:
            return refused  # a Unix socket: the page needs no login
        try:
            body = _Login.model_validate_json(await request.body())
        except ValidationError:
            return refused
        if not hmac.compare_digest(body.token.encode(), policy.token.encode()):
            return refused
        response = Response(status_code=204)
        response.set_cookie(
            COOKIE, operator_cookie(policy.token), httponly=True, samesite="strict", path="/"
        )
        return response

    return [
        Route("/", operator, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/display", display, methods=["GET"]),
        Route("/display/state", display_state, methods=["GET"]),
        Route("/display/events", display_events, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
    ]


async def _display_stream(kiosk: Kiosk) -> AsyncIterator[str]:
    last: dict[str, Any] | None = None
    yield "retry: 1000\n\n"
    while True:
        changed = kiosk.board.changed()
        view = _current(kiosk)
        if view != last:
            yield f"event: display\ndata: {json.dumps(view)}\n\n"
            last = view
        if kiosk.board.closed and kiosk.cashier.current is None:
            return
        wait = 0.2 if kiosk.board.closed else KEEPALIVE_S
        if view.get("hold_ms"):
            wait = min(wait, view["hold_ms"] / 1000 + 0.05)  # back to idle on time
        with anyio.move_on_after(wait) as idle:
            await changed.wait()
        if idle.cancelled_caught and not kiosk.board.closed and not view.get("hold_ms"):
            yield ": keepalive\n\n"


# -- HTML ---------------------------------------------------------------------------------

_e = html.escape


def _display_html(view: dict[str, Any]) -> str:
    sas = view["sas"] or ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>p2ppay: pay here</title>
<link rel="stylesheet" href="/static/display.css">
<script src="/static/display.js" defer></script>
</head>
<body>
<main id="screen" data-screen="{_e(view["screen"])}" data-state="{_e(view["state"])}"
      data-id="{_e(view["id"] or "")}">
  <p id="connection" class="connection" role="status" hidden>Reconnecting to the kiosk…</p>
  <h1 id="title">{_e(view["title"])}</h1>
  <p id="status" class="status">{_e(view["status"])}</p>
  <p id="memo" class="memo">{_e(view["memo"])}</p>
  <p id="reason" class="reason" role="alert">{_e(view["reason"])}</p>
  <p id="instruction" class="instruction" aria-live="polite">{_e(view["instruction"])}</p>
  <section id="sas-box" class="sas-box" aria-labelledby="sas-label"{"" if sas else " hidden"}>
    <h2 id="sas-label">Security code</h2>
    <p id="sas" class="sas">{_e(sas)}</p>
  </section>
</main>
<script type="application/json" id="initial">{_json_in_html(view)}</script>
</body>
</html>
"""


def _json_in_html(value: object) -> str:
    # Inside <script>, only "</" can end the element: escape it (and & for good measure).
    return json.dumps(value).replace("<", "\\u003c").replace("&", "\\u0026")


def _login_html() -> str:
    return """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>p2ppay kiosk: operator login</title>
<link rel="stylesheet" href="/static/operator.css">
<script src="/static/login.js" defer></script>
</head>
<body>
<main>
<h1>p2ppay kiosk</h1>
<p>This page needs the kiosk's API token (<code>api.token_file</code> or
<code>P2PPAY_KIOSK_TOKEN</code>).</p>
<form id="login">
  <label for="token">API token</label>
  <input id="token" name="token" type="password" autocomplete="current-password" required>
  <button type="submit">Open the operator page</button>
  <p id="login-error" role="alert"></p>
</form>
</main>
</body>
</html>
"""


def _when(seconds: float | None) -> str:
    if not seconds:
        return "never"
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def _operator_html(data: Overview, currency: str) -> str:
    health = data.health
    status = "OK" if health["ok"] else f"NOT OK: {health['status']}"
    adapter = "up" if health["adapter_up"] else f"DOWN ({health.get('adapter_error') or '?'})"
    runs = data.sync_runs
    ledger = data.ledger or "none configured (payments stay in the outbox)"
    totals = (
        "".join(
            f"<tr><th scope='row'>{_e(cur)}</th><td class='num'>{_e(total)}</td></tr>"
            for cur, total in data.totals.items()
        )
        or f"<tr><th scope='row'>{_e(currency)}</th><td class='num'>0</td></tr>"
    )
    queue = (
        "".join(
            f"<tr><td><code>{_e(j['id'][:12])}</code></td><td>{_e(j['state'])}</td>"
            f"<td class='num'>{_e(j['amount'])} {_e(j['currency'])}</td><td>{_e(j['memo'])}</td>"
            f"<td>{_e(j['tag'] or '')}</td></tr>"
            for j in data.queue
        )
        or "<tr><td colspan='5'>empty</td></tr>"
    )
    payments = (
        "".join(
            f"<tr data-state='{_e(p.state)}'><td>{_e(_when(p.at))}</td>"
            f"<td class='num'>{_e(p.amount)} {_e(p.currency)}</td><td>{_e(p.memo)}</td>"
            f"<td>{_e(p.state)}{' (' + _e(p.error) + ')' if p.error else ''}</td>"
            f"<td>{_e(p.payer_tag or '')}</td></tr>"
            for p in data.payments
        )
        or "<tr><td colspan='5'>none yet</td></tr>"
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5">
<title>p2ppay kiosk: operator</title>
<link rel="stylesheet" href="/static/operator.css">
</head>
<body>
<main>
<h1>p2ppay kiosk</h1>
<section aria-labelledby="h-health">
<h2 id="h-health">Health</h2>
<dl>
  <dt>Status</dt><dd id="status" data-ok="{str(health["ok"]).lower()}">{_e(status)}</dd>
  <dt>Adapter</dt><dd id="adapter">{_e(str(health["adapter"]))}: {_e(adapter)}</dd>
  <dt>Ledger</dt><dd id="ledger">{_e(ledger)}</dd>
  <dt>Sync backlog</dt><dd id="backlog">{data.sync_backlog} record(s) not yet settled</dd>
  <dt>Last sync</dt><dd id="last-sync">{_e(_when(data.last_sync))}
    (ok {runs.get("ok", 0)}, failed {runs.get("error", 0)} since start)</dd>
</dl>
</section>
<section aria-labelledby="h-today">
<h2 id="h-today">Today ({data.today_count} payment(s))</h2>
<table id="totals"><tbody>{totals}</tbody></table>
</section>
<section aria-labelledby="h-queue">
<h2 id="h-queue">Queue</h2>
<table id="queue"><thead><tr><th>Request</th><th>State</th><th>Amount</th><th>Memo</th>
<th>Tag</th></tr></thead><tbody>{queue}</tbody></table>
</section>
<section aria-labelledby="h-payments">
<h2 id="h-payments">Last payments</h2>
<table id="payments"><thead><tr><th>Time</th><th>Amount</th><th>Memo</th><th>State</th>
<th>Payer tag</th></tr></thead><tbody>{payments}</tbody></table>
</section>
</main>
</body>
</html>
"""
