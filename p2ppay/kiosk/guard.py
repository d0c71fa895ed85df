"""Who may talk to the kiosk's HTTP listener: the point of sale, not a web page.

A browser runs on the same box as the kiosk (its customer display), and any page it opens
can send requests to loopback. This ASGI middleware refuses, before any route runs, what
a web page can send and the point of sale never does:

1. ``Host`` (TCP only) not naming the configured listen address: ``KIOSK_BAD_HOST`` (403).
   A DNS-rebinding page reaches the kiosk under its own host name.
2. ``Origin`` other than the kiosk's own origin, or ``Sec-Fetch-Site`` other than
   ``same-origin`` / ``none``: ``KIOSK_CROSS_SITE`` (403).
3. On TCP, an API call without ``Authorization: Bearer TOKEN``: ``KIOSK_UNAUTHORIZED``
   (401). On a Unix socket the file's permissions are the authentication (a browser cannot
   open one).
4. A request with a body whose ``Content-Type`` is not ``application/json``:
   ``KIOSK_NOT_JSON`` (415). Forms and ``text/plain`` are what a page sends without asking.

Three kinds of path:

- the API (``/invoices...``, ``/healthz``, ``/metrics``): all four checks;
- the operator page (``/``): checks 1, 2, 4; the token, or the operator cookie that
  ``POST /login`` sets (HMAC of the token: it opens the page, never the API), decides
  whether the page or its login form is shown (``scope["p2ppay.operator"]``);
- the customer display (``/display...``, ``/static/...``, ``/login``): checks 1, 2, 4 and no
  token, since it only shows what the customer's screen shows anyway.

Invariants:
- A refused request never reaches a route: nothing is created, cancelled or read.
- The token is compared in constant time and never logged; the cookie cannot be turned
  back into the token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import TYPE_CHECKING

from p2ppay.errors import AppError, AppErrorCode
from p2ppay.kiosk.config import ApiConfig

if TYPE_CHECKING:  # the guard's ASGI types only; `--check` runs without the kiosk extra
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "COOKIE",
    "TOKEN_ENV",
    "Guard",
    "GuardPolicy",
    "operator_cookie",
    "resolve_token",
]

log = logging.getLogger("p2ppay.kiosk.guard")

TOKEN_ENV = "P2PPAY_KIOSK_TOKEN"
"""Environment variable holding the API token when ``api.token_file`` is not set."""

COOKIE = "p2ppay_operator"
"""The operator page's cookie (HttpOnly, SameSite=Strict)."""

MIN_TOKEN_LENGTH = 16

_PUBLIC_PREFIXES = ("/display", "/static/", "/login")
_SAFE_FETCH_SITES = {"same-origin", "none"}


def resolve_token(api: ApiConfig, environ: Mapping[str, str]) -> str | None:
    """The API token: ``api.token_file``'s first line, else ``$P2PPAY_KIOSK_TOKEN``.

    KIOSK_CONFIG_INVALID for an unreadable, world-readable or short token file, or when
    the API listens on TCP without any token.
    """
    token: str | None = None
    if api.token_file is not None:
        path = Path(api.token_file)
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AppError(
                AppErrorCode.KIOSK_CONFIG_INVALID, f"api.token_file {path}: {exc}"
            ) from exc
        if stat.S_IMODE(mode) & 0o007:
            raise AppError(
                AppErrorCode.KIOSK_CONFIG_INVALID,
                f"api.token_file {path} is readable by others (chmod 600 {path})",
            )
        token = (text.splitlines() or [""])[0].strip()
    elif environ.get(TOKEN_ENV):
        token = environ[TOKEN_ENV].strip()
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise AppError(
            AppErrorCode.KIOSK_CONFIG_INVALID,
            f"the API token must be at least {MIN_TOKEN_LENGTH} characters",
        )
    if token is None and api.unix_path is None:
        raise AppError(
            AppErrorCode.KIOSK_CONFIG_INVALID,
            f"api.listen {api.listen} is TCP: set api.token_file or {TOKEN_ENV} "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')",
        )
    return token


def operator_cookie(token: str) -> str:
    """The operator cookie's value for ``token`` (opens the page, not the API)."""
    return hmac.new(token.encode(), b"p2ppay kiosk operator page", hashlib.sha256).hexdigest()


@dataclass(frozen=True, kw_only=True)
class GuardPolicy:
    """What the guard accepts on one listener."""

    token: str | None
    """The bearer token (required on TCP); None on a Unix socket without one."""
    host: str | None
    """The ``Host`` the listener answers to (``127.0.0.1:8421``); None on a Unix socket."""

    @classmethod
    def for_listener(cls, api: ApiConfig, token: str | None) -> GuardPolicy:
        """The policy for ``api.listen``; KIOSK_CONFIG_INVALID for TCP without a token."""
        if api.unix_path is not None:
            return cls(token=token, host=None)
        if token is None:
            raise AppError(
                AppErrorCode.KIOSK_CONFIG_INVALID,
                f"api.listen {api.listen} is TCP: set api.token_file or {TOKEN_ENV}",
            )
        return cls(token=token, host=api.listen.lower())


class Guard:
    """ASGI middleware applying a :class:`GuardPolicy` to every HTTP request."""

    def __init__(self, app: ASGIApp, policy: GuardPolicy) -> None:
        self._app = app
        self._policy = policy
        self._cookie = None if policy.token is None else operator_cookie(policy.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = _headers(scope)
        path: str = scope["path"]
        refusal, operator = self._check(scope["method"], path, headers)
        if refusal is not None:
            # INFO, not WARNING: any page can cause these, and they must not flood the journal.
            log.info(
                "request refused",
                extra={
                    "error": refusal.code.name,
                    "method": scope["method"],
                    "path": path,
                    "origin": headers.get("origin"),
                    "host": headers.get("host"),
                },
            )
            await _refuse(refusal, send)
            return
        scope["p2ppay.operator"] = operator
        await self._app(scope, receive, send)

    def _check(
        self, method: str, path: str, headers: dict[str, str]
    ) -> tuple[AppError | None, bool]:
        policy = self._policy
        host = headers.get("host", "").lower()
        if policy.host is not None and host != policy.host:
            return AppError(
                AppErrorCode.KIOSK_BAD_HOST, f"Host {host!r} is not this kiosk ({policy.host})"
            ), False
        own_origin = f"http://{policy.host or host}"
        origin = headers.get("origin")
        if origin is not None and origin.lower() != own_origin:
            return AppError(AppErrorCode.KIOSK_CROSS_SITE, f"Origin {origin!r} refused"), False
        site = headers.get("sec-fetch-site")
        if site is not None and site.lower() not in _SAFE_FETCH_SITES:
            return AppError(AppErrorCode.KIOSK_CROSS_SITE, f"Sec-Fetch-Site {site!r}"), False
        bearer = self._bearer_ok(headers)
        public = path.startswith(_PUBLIC_PREFIXES)
        page = path == "/"
        operator = bearer or (page and self._cookie_ok(headers))
        if not (public or page or bearer):
            return AppError(
                AppErrorCode.KIOSK_UNAUTHORIZED, "this API needs Authorization: Bearer TOKEN"
            ), False
        if _has_body(method, headers) and not _is_json(headers.get("content-type", "")):
            return AppError(
                AppErrorCode.KIOSK_NOT_JSON, "the body must be Content-Type: application/json"
            ), False
        return None, operator

    def _bearer_ok(self, headers: dict[str, str]) -> bool:
        if self._policy.token is None:
            return self._policy.host is None  # a Unix socket: its permissions decide
        scheme, _, value = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self._policy.token.encode()
        )

    def _cookie_ok(self, headers: dict[str, str]) -> bool:
        if self._cookie is None:
            return False
        jar = SimpleCookie()
        try:
            jar.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is no cookie
            return False
        morsel = jar.get(COOKIE)
        return morsel is not None and hmac.compare_digest(
            morsel.value.encode(), self._cookie.encode()
        )


def _headers(scope: Scope) -> dict[str, str]:
    # Repeated headers: the last one wins, but Origin/Host repeated are refused below anyway
    # because their joined value never equals a single expected value.
    out: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _has_body(method: str, headers: dict[str, str]) -> bool:
    if method in {"POST", "PUT", "PATCH", "DELETE"}:
        # A body, or a declared type (a page's empty form post still says its type); only
        # a bare POST with neither (cancel) carries nothing to check.
        return headers.get("content-length", "0") not in {"", "0"} or (
            "transfer-encoding" in headers or "content-type" in headers
        )
    return False


def _is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


async def _refuse(error: AppError, send: Send) -> None:
    status = {
        AppErrorCode.KIOSK_UNAUTHORIZED: 401,
        AppErrorCode.KIOSK_NOT_JSON: 415,
    }.get(error.code, 403)
    body = json.dumps(
        {"error": error.code.name, "code": int(error.code), "message": error.message}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="p2ppay-kiosk"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
