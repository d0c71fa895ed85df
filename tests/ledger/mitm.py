"""A man in the middle for the trust tests: a real HTTP proxy on loopback.

It forwards every request, byte for byte, to the real ledger (so the wallet's signed
requests pass the ledger's checks) and hands each JSON answer of ``/v1/sync`` and
``/v1/trust`` to a ``rewrite`` function before it goes back: whoever answers a wallet's sync
on the network path, with its own real keys.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Rewrite = Callable[[str, dict[str, Any]], dict[str, Any]]
"""(path, answer JSON) -> the answer the wallet gets."""

_REWRITTEN = frozenset({"/v1/sync", "/v1/trust"})


@asynccontextmanager
async def mitm(upstream: str, rewrite: Rewrite) -> AsyncIterator[str]:
    """A proxy to ``upstream`` on a free loopback port for the block; yields its URL."""
    async with httpx.AsyncClient(base_url=upstream, timeout=30) as client:

        async def forward(request: Request) -> Response:
            path = request.url.path
            headers = {
                k: v
                for k, v in request.headers.items()
                if k.lower() not in ("host", "content-length")
            }
            answer = await client.request(
                request.method, path, content=await request.body(), headers=headers
            )
            body = answer.content
            if path in _REWRITTEN and answer.status_code == 200:
                body = json.dumps(rewrite(path, answer.json())).encode()
            return Response(body, status_code=answer.status_code, media_type="application/json")

        app = Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        server = uvicorn.Server(
            uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: server.serve(sockets=[sock]))
            while not server.started:  # noqa: ASYNC110 - uvicorn has no "listening" event
                await anyio.sleep(0.01)
            try:
                yield f"http://127.0.0.1:{sock.getsockname()[1]}"
            finally:
                server.should_exit = True
        sock.close()
