"""Two ledger processes on one PostgreSQL database: still exactly one settlement per payment."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest

from p2ppay.sync import AdminClient
from tests.ledger.conftest import new_pg_database
from tests.ledger.pg import PgServer
from tests.ledger.world import fund, new_party, pay_offline, trust_ledger

pytestmark = pytest.mark.anyio

TOKEN = "two-processes-token-0123456789-abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Remote:
    url: str
    admin_token: str = TOKEN


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ledger process exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@pytest.fixture
def two_ledgers(postgres: PgServer, tmp_path: Path) -> Iterator[tuple[Remote, Remote]]:
    db = new_pg_database(postgres)
    key = tmp_path / "issuer.key"  # one key file for both processes
    processes: list[subprocess.Popen[bytes]] = []
    remotes: list[Remote] = []
    try:
        for _ in range(2):  # started together: they also race to migrate
            port = free_port()
            command = [sys.executable, "-m", "p2ppay", "ledger", "serve", "--db", db]
            command += ["--port", str(port), "--issuer-key-file", str(key)]
            processes.append(
                subprocess.Popen(
                    command,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env={**os.environ, "PYTHONWARNINGS": "ignore", "P2PPAY_ADMIN_TOKEN": TOKEN},
                )
            )
            remotes.append(Remote(url=f"http://127.0.0.1:{port}"))
        for remote, process in zip(remotes, processes, strict=True):
            wait_healthy(remote.url, process)
        yield remotes[0], remotes[1]
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=15)


async def test_two_ledger_processes_settle_each_bundle_once(
    two_ledgers: tuple[Remote, Remote], tmp_path: Path
) -> None:
    a, b = two_ledgers
    payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")
    await fund(a, payer, deposit=100_00, allowance=50_00)
    await trust_ledger(b, payee)  # b knows the issuer key a used: one key per database
    bundles = [base64.b64encode(pay_offline(payer, payee, 2_00)).decode() for _ in range(5)]
    statuses: dict[int, list[str]] = {i: [] for i in range(len(bundles))}
    clients = [payer.client(a), payee.client(b), payer.client(b), payee.client(a)]

    async def upload(n: int, i: int) -> None:
        answer = await clients[n % 4].sync([bundles[i]], [])
        statuses[i].append(answer.results[0].status)

    async with anyio.create_task_group() as tg:
        for n in range(50):
            for i in range(len(bundles)):
                tg.start_soon(upload, n, i)
    for client in clients:
        await client.aclose()
    for seen in statuses.values():
        assert sorted(seen) == ["duplicate"] * 49 + ["settled"]
    async with AdminClient(b.url, TOKEN) as admin:
        eur = (await admin.totals()).currencies["EUR"]
    assert (eur.balances, eur.reserves, eur.claims) == (100_00 - 50_00 + 10_00, 40_00, 0)
