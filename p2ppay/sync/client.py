"""The HTTP client of the ledger API: signed wallet calls, admin calls, retries with backoff.

Invariants:
- Every wallet call is signed afresh on every attempt (new timestamp and nonce,
  :mod:`p2ppay.api.signing`), so a retry is never refused as a replay.
- Only what may not have reached the ledger is retried: connection failures, timeouts, 429
  and 5xx answers, up to :attr:`RetryPolicy.attempts` times with exponential backoff. Every
  ledger call is idempotent (sync by payment hash, register by key) except an allowance
  request, which is never retried after the request may have been delivered.
- A 4xx answer is a :class:`SyncError` (``SYNC_REFUSED``) carrying the ledger's code name;
  an answer that does not parse is ``SYNC_BAD_ANSWER``; no retry left is ``SYNC_UNREACHABLE``.
- A ledger URL is ``https://`` (httpx verifies the certificate against the system CAs, or
  against ``ca_file`` for a private CA); ``http://`` is refused (``SYNC_INSECURE_URL``)
  unless the host is loopback (tests, a ledger on the same machine).
- The transport is injectable (``httpx.MockTransport``, ``httpx.ASGITransport``) for tests;
  the sleep function too, so backoff costs no time in tests.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import httpx
from nacl.signing import SigningKey
from pydantic import BaseModel, ValidationError

from p2ppay.api import schemas
from p2ppay.api.signing import sign_request
from p2ppay.clock import seconds, wall_ms
from p2ppay.errors import AppError, AppErrorCode

__all__ = ["AdminClient", "LedgerClient", "RetryPolicy", "SyncError", "check_ledger_url"]

M = TypeVar("M", bound=BaseModel)


class SyncError(AppError):
    """The ledger could not be reached, refused, or answered nonsense.

    ``remote`` is the ledger's error code name when it refused (e.g. ``LEDGER_REPLAY``);
    ``status`` the HTTP status of the ledger's last answer, if it answered at all.
    """

    def __init__(
        self,
        code: AppErrorCode,
        message: str = "",
        *,
        remote: str | None = None,
        status: int | None = None,
    ):
        super().__init__(code, message)
        self.remote = remote
        self.status = status


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry a call that may not have arrived."""

    attempts: int = 5
    """Tries in all (1 = no retry)."""
    base_delay: float = 0.2
    """Seconds before the first retry; doubled each time."""
    max_delay: float = 5.0
    """Longest wait between two tries."""
    timeout: float = 30.0
    """Seconds for one HTTP exchange."""

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (0-based)."""
        return float(min(self.max_delay, self.base_delay * (2**attempt)))


def _clock() -> int:
    return seconds(wall_ms)


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_ledger_url(url: str) -> str:
    """``url`` if it is ``https://``, or ``http://`` on a loopback host; else
    ``SYNC_INSECURE_URL`` (anyone on the path could answer a plain-HTTP sync)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return url
    raise SyncError(
        AppErrorCode.SYNC_INSECURE_URL,
        f"{url!r}: a ledger URL must be https:// (http:// only on loopback); "
        "use https://HOST, with --ca-file PEM for a private CA",
    )


def _verify(ca_file: Path | None) -> ssl.SSLContext | bool:
    if ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise SyncError(AppErrorCode.SYNC_INSECURE_URL, f"--ca-file {ca_file}: {exc}") from exc


class _Http:
    """Shared plumbing: one httpx client, the retry loop, and answer parsing."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None,
        retry: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]],
        ca_file: Path | None = None,
    ) -> None:
        check_ledger_url(base_url)
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=retry.timeout,
            verify=_verify(ca_file),
        )
        self._retry = retry
        self._sleep = sleep

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        body: Any = None,
        headers: Callable[[bytes], dict[str, str]],
        retry: bool = True,
    ) -> M:
        content = b"" if body is None else json.dumps(body).encode()
        attempts = self._retry.attempts if retry else 1
        last: str = ""
        status: int | None = None
        for attempt in range(attempts):
            if attempt:
                await self._sleep(self._retry.delay(attempt - 1))
            try:
                response = await self._client.request(
                    method,
                    path,
                    content=content,
                    headers={**headers(content), "content-type": "application/json"},
                )
            except httpx.TransportError as exc:
                last, status = f"{type(exc).__name__}: {exc}", None
                continue
            if response.status_code == 429 or response.status_code >= 500:
                last, status = f"HTTP {response.status_code}", response.status_code
                continue
            return _parse(response, model)
        raise SyncError(
            AppErrorCode.SYNC_UNREACHABLE,
            f"{method} {path} failed {attempts} times: {last}",
            status=status,
        )


def _parse(response: httpx.Response, model: type[M]) -> M:
    if response.status_code >= 400:
        try:
            error = schemas.ErrorBody.model_validate_json(response.content)
        except ValidationError:
            raise SyncError(
                AppErrorCode.SYNC_BAD_ANSWER, f"HTTP {response.status_code} without an error body"
            ) from None
        raise SyncError(
            AppErrorCode.SYNC_REFUSED,
            f"{error.error}: {error.message}",
            remote=error.error,
            status=response.status_code,
        )
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise SyncError(AppErrorCode.SYNC_BAD_ANSWER, str(exc).splitlines()[0]) from None


class LedgerClient:
    """A wallet's calls to the ledger, signed with its key. Close it (``async with``)."""

    def __init__(
        self,
        base_url: str,
        signing_key: SigningKey,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], int] = _clock,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        ca_file: Path | None = None,
    ) -> None:
        self._http = _Http(
            base_url,
            transport=transport,
            retry=retry or RetryPolicy(),
            sleep=sleep,
            ca_file=ca_file,
        )
        self._key = signing_key
        self._clock = clock
        self._url = base_url

    @property
    def url(self) -> str:
        """The ledger's base URL."""
        return self._url

    async def __aenter__(self) -> LedgerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def _signer(self, method: str, path: str) -> Callable[[bytes], dict[str, str]]:
        def headers(body: bytes) -> dict[str, str]:
            return sign_request(self._key, method=method, path=path, body=body, now=self._clock())

        return headers

    async def _call(
        self, method: str, path: str, model: type[M], body: Any = None, *, retry: bool = True
    ) -> M:
        return await self._http.call(
            method, path, model, body=body, headers=self._signer(method, path), retry=retry
        )

    async def register(self) -> schemas.AccountOut:
        """Open this wallet's account (idempotent)."""
        return await self._call("POST", "/v1/accounts", schemas.AccountOut)

    async def statement(self) -> schemas.StatementOut:
        """Balances, reserve, claims and allowances of this wallet."""
        return await self._call("GET", "/v1/accounts/me", schemas.StatementOut)

    async def request_allowance(
        self, *, currency: str, amount_minor: int, valid_for: int | None = None
    ) -> schemas.IssuedAllowanceOut:
        """Reserve money and get a signed allowance. Not retried: a lost answer would
        otherwise reserve twice; ``statement`` shows what was issued."""
        body: dict[str, Any] = {"currency": currency, "amount_minor": amount_minor}
        if valid_for is not None:
            body["valid_for"] = valid_for
        return await self._call(
            "POST", "/v1/allowances", schemas.IssuedAllowanceOut, body, retry=False
        )

    async def sync(
        self, bundles: list[str], query: list[str], aborts: list[str] | None = None
    ) -> schemas.SyncOut:
        """Upload base64 bundles (and aborts received), ask about payment hashes (hex)."""
        body: dict[str, Any] = {"bundles": bundles, "query": query}
        if aborts:
            body["aborts"] = aborts
        return await self._call("POST", "/v1/sync", schemas.SyncOut, body)

    async def trust(self) -> schemas.TrustOut:
        """The ledger's signed trust lists and its key (``GET /v1/trust``, unauthenticated)."""
        return await self._call("GET", "/v1/trust", schemas.TrustOut)

    async def revocations(self) -> schemas.RevocationsOut:
        """The current revocation list."""
        return await self._call("GET", "/v1/revocations", schemas.RevocationsOut)

    async def proofs(self) -> schemas.ProofsOut:
        """Every published fraud proof and receipt equivocation (check them yourself)."""
        return await self._call("GET", "/v1/proofs", schemas.ProofsOut)

    async def revoke(self) -> schemas.RevocationsOut:
        """Revoke this wallet's own key (lost or stolen device), for good. Idempotent."""
        return await self._call("POST", "/v1/revocations", schemas.RevocationsOut)


class AdminClient:
    """Admin calls with the ledger's admin token (deposits for tests and the demo)."""

    def __init__(
        self,
        base_url: str,
        admin_token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        ca_file: Path | None = None,
    ) -> None:
        self._http = _Http(
            base_url,
            transport=transport,
            retry=retry or RetryPolicy(),
            sleep=sleep,
            ca_file=ca_file,
        )
        self._token = admin_token

    async def __aenter__(self) -> AdminClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def _call(
        self, method: str, path: str, model: type[M], body: Any = None, *, retry: bool = True
    ) -> M:
        """An admin call with the bearer token; the ledger's refusal is raised under its own
        code name (e.g. ``LEDGER_FORBIDDEN``, ``LEDGER_INSUFFICIENT_FUNDS``): an operator's
        request is not a wallet's sync, so ``SYNC_REFUSED`` would name the wrong thing."""
        try:
            return await self._http.call(
                method, path, model, body=body, headers=self._headers, retry=retry
            )
        except SyncError as exc:
            known = AppErrorCode.__members__.get(exc.remote or "")
            if exc.code is AppErrorCode.SYNC_REFUSED and known is not None:
                raise SyncError(known, exc.message, remote=exc.remote, status=exc.status) from exc
            raise

    def _headers(self, body: bytes) -> dict[str, str]:
        del body
        return {"authorization": f"Bearer {self._token}"}

    async def _move(
        self, path: str, wallet: str, amount_minor: int, currency: str, **extra: str
    ) -> schemas.StatementOut:
        # Money moves are not idempotent: never retried once they may have arrived.
        body = {"wallet": wallet, "amount_minor": amount_minor, "currency": currency, **extra}
        return await self._call("POST", path, schemas.StatementOut, body, retry=False)

    async def deposit(self, wallet: str, amount_minor: int, currency: str) -> schemas.StatementOut:
        """Fund ``wallet`` (its id ``W-...`` or hex key). Not retried (not idempotent)."""
        return await self._move("/v1/admin/deposits", wallet, amount_minor, currency)

    async def withdraw(self, wallet: str, amount_minor: int, currency: str) -> schemas.StatementOut:
        """Take money out of ``wallet``'s balance. Not retried (not idempotent)."""
        return await self._move("/v1/admin/withdrawals", wallet, amount_minor, currency)

    async def release_held(
        self, wallet: str, amount_minor: int, currency: str, reason: str
    ) -> schemas.StatementOut:
        """Pay ``wallet``'s held credit from the guarantee account. Not retried."""
        return await self._move(
            "/v1/admin/release-held", wallet, amount_minor, currency, reason=reason
        )

    async def revoke(self, wallet: str, reason: str) -> schemas.RevocationsOut:
        """Put ``wallet`` (id or hex key) on the revocation list (idempotent)."""
        body = {"wallet": wallet, "reason": reason}
        return await self._call("POST", "/v1/admin/revocations", schemas.RevocationsOut, body)

    async def totals(self) -> schemas.TotalsOut:
        """Sums per currency (the conservation check)."""
        return await self._call("GET", "/v1/admin/totals", schemas.TotalsOut)
