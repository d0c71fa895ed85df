"""The long-running process: the kiosk's tasks, the HTTP server, and the signals.

:func:`serve` runs until SIGTERM or SIGINT (or ``stop`` is set), then shuts down as
:class:`~p2ppay.kiosk.service.Kiosk` describes: no new request, the payment in flight
finishes or is cleanly failed within ``daemon.shutdown_grace``, the server stops, return.

Invariants:
- uvicorn's own signal handlers are not installed (:class:`_Server`): SIGTERM means
  "finish the payment, then exit", which only the kiosk knows how to do.
- Every request passes :class:`~p2ppay.kiosk.guard.Guard` first (no token on TCP, a
  cross-site page, a rebound Host, a non-JSON body: refused before any route).
- The API is up only while the kiosk runs; it stops accepting connections after the
  kiosk stopped, so a point of sale never talks to a half-stopped daemon.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import stat
from collections.abc import Callable, Iterator

import anyio
import uvicorn

from p2ppay.errors import AppError, AppErrorCode
from p2ppay.kiosk.api import build_app
from p2ppay.kiosk.guard import GuardPolicy
from p2ppay.kiosk.service import Kiosk

__all__ = ["serve"]

log = logging.getLogger("p2ppay.kiosk")


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers (the daemon decides what SIGTERM means)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


SOCKET_UMASK = 0o117
"""The umask the API's Unix socket is bound under: it is born 0660 (the kiosk's user and
group only). Never chmod-ed after bind: between bind and a chmod anyone could connect."""


def _listen(kiosk: Kiosk) -> socket.socket:
    """The API's listening socket, bound here so a bad address fails before anything runs."""
    api = kiosk.config.api
    path = api.unix_path
    if path is not None:
        family: socket.AddressFamily = socket.AF_UNIX
    else:
        host, port = api.host_port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if path is not None:
            if stat.S_ISSOCK(_mode(path)):
                os.unlink(path)  # a stale socket from a previous run
            previous = os.umask(SOCKET_UMASK)
            try:
                sock.bind(path)
            finally:
                os.umask(previous)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise AppError(
            AppErrorCode.KIOSK_CONFIG_INVALID, f"api.listen {api.listen}: {exc.strerror or exc}"
        ) from exc
    sock.setblocking(False)
    return sock


def _mode(path: str) -> int:
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        return 0


async def serve(
    kiosk: Kiosk,
    *,
    stop: anyio.Event | None = None,
    on_ready: Callable[[], None] = lambda: None,
    handle_signals: bool = True,
    token: str | None = None,
) -> None:
    """Run ``kiosk`` and its API until a signal (or ``stop``), then shut down cleanly.

    ``token``: the API's bearer token (:func:`~p2ppay.kiosk.guard.resolve_token`); required
    when ``api.listen`` is TCP (KIOSK_CONFIG_INVALID before anything binds)."""
    policy = GuardPolicy.for_listener(kiosk.config.api, token)
    sock = _listen(kiosk)
    config = uvicorn.Config(
        build_app(kiosk, policy),
        log_config=None,
        lifespan="off",
        timeout_graceful_shutdown=2,
        access_log=False,
        server_header=False,
    )
    server = _Server(config)

    async def watch_signals() -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                log.info("signal received", extra={"signal": signal.Signals(signum).name})
                kiosk.shutdown()

    async def watch_stop() -> None:
        assert stop is not None
        await stop.wait()
        kiosk.shutdown()

    server_done = anyio.Event()

    async def run_server() -> None:
        try:
            await server.serve(sockets=[sock])
        finally:
            server_done.set()

    async def announce() -> None:
        # uvicorn offers a flag, not an event, for "listening".
        while not server.started:  # noqa: ASYNC110
            await anyio.sleep(0.02)
        log.info(
            "kiosk ready",
            extra={"listen": kiosk.config.api.listen, "adapter": kiosk.config.radio.adapter},
        )
        on_ready()

    async with anyio.create_task_group() as tg:
        if handle_signals:
            tg.start_soon(watch_signals)
        if stop is not None:
            tg.start_soon(watch_stop)
        tg.start_soon(kiosk.run)
        tg.start_soon(run_server)
        tg.start_soon(announce)
        await kiosk.wait_stopped()
        server.should_exit = True
        # Streams of finished jobs have ended; give the server its own graceful stop.
        with anyio.move_on_after(5):
            await server_done.wait()
        tg.cancel_scope.cancel()
    sock.close()
    if kiosk.config.api.unix_path is not None:
        with contextlib.suppress(OSError):
            os.unlink(kiosk.config.api.unix_path)
    log.info("kiosk stopped")
