"""Run the ledger on uvicorn: forever (``ledger serve``) or for a block (demo, tests, bench).

Invariants:
- The listening socket is bound before the server starts, so the URL handed out is final
  and a free port (``port=0``) is never raced for.
- With ``tls=(cert, key)`` (PEM files) the server speaks only TLS (uvicorn's ssl options)
  and the URL handed out is ``https://``; on loopback it names ``localhost``, the name a
  test certificate is made for.
- :func:`running_ledger` stops the server and closes the database when its block ends,
  also on error; a temporary SQLite database it created is deleted.
"""

from __future__ import annotations

import secrets
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from p2ppay.clock import seconds, wall_ms
from p2ppay.errors import AppErrorCode
from p2ppay.ledger.api import create_app
from p2ppay.ledger.errors import LedgerError
from p2ppay.ledger.service import LedgerConfig, LedgerService

__all__ = ["RunningLedger", "Tls", "running_ledger", "serve"]

Tls = tuple[Path, Path]
"""A PEM certificate chain file and its private key file."""


def _clock() -> int:
    return seconds(wall_ms)


@dataclass(frozen=True, kw_only=True)
class RunningLedger:
    """A ledger listening on loopback."""

    url: str
    """Base URL, e.g. ``http://127.0.0.1:40123``."""
    admin_token: str
    """The admin token it accepts."""
    service: LedgerService
    """The service behind it (for in-process checks)."""


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise LedgerError(AppErrorCode.LEDGER_CANNOT_LISTEN, f"{host}:{port}: {exc}") from exc
    sock.setblocking(False)
    return sock


def _server(service: LedgerService, *, log_level: str, tls: Tls | None = None) -> object:
    import uvicorn

    config = uvicorn.Config(
        create_app(service),
        lifespan="off",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=2,
        ssl_certfile=None if tls is None else str(tls[0]),
        ssl_keyfile=None if tls is None else str(tls[1]),
    )
    if tls is not None:
        try:
            config.load()  # builds the SSL context now: a bad file is an error here
        except (OSError, ValueError) as exc:
            raise LedgerError(AppErrorCode.LEDGER_CANNOT_LISTEN, f"TLS files: {exc}") from exc
    return uvicorn.Server(config)


def _url(host: str, port: int, tls: Tls | None) -> str:
    if tls is None:
        return f"http://{host}:{port}"
    name = "localhost" if host in ("127.0.0.1", "::1") else host
    return f"https://{name}:{port}"


async def serve(
    config: LedgerConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    on_ready: Callable[[str], None] | None = None,
    log_level: str = "warning",
    tls: Tls | None = None,
) -> None:
    """Serve until cancelled or interrupted (``p2ppay ledger serve``)."""
    service = await LedgerService.open(config)
    try:
        sock = _bind(host, port)
        bound_port = sock.getsockname()[1]
        server = _server(service, log_level=log_level, tls=tls)
        if on_ready is not None:
            on_ready(_url(host, bound_port, tls))
        await server.serve(sockets=[sock])  # type: ignore[attr-defined]
    finally:
        await service.close()


@asynccontextmanager
async def running_ledger(
    *,
    db_url: str | None = None,
    admin_token: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Callable[[], int] | None = None,
    grace: int | None = None,
    tls: Tls | None = None,
) -> AsyncIterator[RunningLedger]:
    """A ledger on loopback for the block's duration (the demo's sync step, tests).

    ``db_url`` None uses a fresh SQLite file in a temporary directory; ``admin_token`` None
    makes a random one; ``port`` 0 picks a free port. Yields a :class:`RunningLedger`.
    """
    with tempfile.TemporaryDirectory(prefix="p2ppay-ledger-") as tmp:
        url = db_url or f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}"
        extra: dict[str, Any] = {} if grace is None else {"grace": grace}
        if not url.startswith("sqlite:"):
            extra["issuer_key_file"] = Path(tmp) / "issuer.key"
        config = LedgerConfig(
            db_url=url,
            admin_token=admin_token or secrets.token_urlsafe(24),
            clock=clock or _clock,
            **extra,
        )
        service = await LedgerService.open(config)
        try:
            sock = _bind(host, port)
            server = _server(service, log_level="warning", tls=tls)
            bound = _url(host, sock.getsockname()[1], tls)
            ended = anyio.Event()
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_run, server, sock, ended)
                    try:
                        await _started(server, ended)
                        yield RunningLedger(
                            url=bound, admin_token=config.admin_token, service=service
                        )
                    finally:
                        server.should_exit = True  # type: ignore[attr-defined]
            except BaseExceptionGroup as group:
                # The caller's own error, not wrapped: the server task ends cleanly.
                if len(group.exceptions) == 1:
                    raise group.exceptions[0] from None
                raise
        finally:
            await service.close()


async def _run(server: object, sock: socket.socket, ended: anyio.Event) -> None:
    try:
        await server.serve(sockets=[sock])  # type: ignore[attr-defined]
    finally:
        sock.close()
        ended.set()


async def _started(server: object, ended: anyio.Event) -> None:
    # uvicorn offers no event for "listening": poll its flag, and give up if it stopped.
    for _ in range(3000):
        if server.started:  # type: ignore[attr-defined]
            return
        if ended.is_set():
            raise RuntimeError("the ledger server stopped while starting")
        await anyio.sleep(0.01)
    raise RuntimeError("the ledger server did not start in 30 s")
