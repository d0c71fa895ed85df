"""The scripted CLI contract: register, ledger deposit, allowance request, sync, statement,
and ``ledger serve`` as a process (JSON on stdout, typed errors)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from p2ppay.cli import main
from p2ppay.store.settlement import Settlement, settlements
from tests.ledger.world import Party, ledger_in_thread, new_party, pay_offline

TOKEN = "cli-token"


@pytest.fixture
def ledger_url(tmp_path: Path) -> Iterator[str]:
    with ledger_in_thread(f"sqlite:///{tmp_path / 'ledger.db'}", admin_token=TOKEN) as url:
        yield url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def cli(capsys: pytest.CaptureFixture[str], party: Party, *argv: str) -> Any:
    code, out = run(capsys, "--home", str(party.home.root), *argv, "--json")
    assert code == 0, out
    return out


def test_the_scripted_flow_prints_the_contracted_json(
    capsys: pytest.CaptureFixture[str], ledger_url: str, tmp_path: Path
) -> None:
    payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")
    account = cli(capsys, payer, "register", "--ledger", ledger_url)
    cli(capsys, payee, "register", "--ledger", ledger_url)
    code, deposit = run(
        capsys, "ledger", "deposit", account["wallet_id"], "50.00", "EUR",
        "--ledger", ledger_url, "--admin-token", TOKEN, "--json",
    )  # fmt: skip
    assert (code, deposit["balance"]) == (0, "50.00")
    allowance = cli(capsys, payer, "allowance", "request", "20.00", "EUR")
    assert (allowance["limit"], allowance["currency"]) == ("20.00", "EUR")
    cli(capsys, payee, "sync")  # learns the ledger's issuer key
    pay_offline(payer, payee, 12_50)

    counts = cli(capsys, payee, "sync")
    assert {k: counts[k] for k in ("settled", "duplicate", "rejected", "fraud")} == {
        "settled": 1, "duplicate": 0, "rejected": 0, "fraud": 0,
    }  # fmt: skip
    assert cli(capsys, payer, "sync")["duplicate"] == 1
    assert cli(capsys, payer, "statement")["currencies"]["EUR"] == {
        "balance": "30.00", "reserve": "7.50", "claims": "0.00",
    }  # fmt: skip
    assert cli(capsys, payee, "statement")["currencies"]["EUR"]["balance"] == "12.50"
    with payer.open() as wallet:
        assert set(settlements(wallet.store).values()) == {Settlement.SETTLED}


def test_sync_without_a_ledger_is_a_typed_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    party = new_party(tmp_path, "lonely")
    code, out = run(capsys, "--home", str(party.home.root), "sync", "--json")
    assert (code, out["error"]) == (3, "SYNC_NO_LEDGER")


def test_an_unreachable_ledger_is_a_typed_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    party = new_party(tmp_path, "p")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    code, out = run(
        capsys, "--home", str(party.home.root), "statement", "--ledger", closed, "--json"
    )
    assert (code, out["error"]) == (3, "SYNC_UNREACHABLE")


def test_ledger_serve_runs_as_its_own_process(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "p2ppay", "ledger", "serve", "--db",
               f"sqlite:///{tmp_path / 'served.db'}", "--port", str(port)]  # fmt: skip
    env = {**os.environ, "P2PPAY_ADMIN_TOKEN": TOKEN}
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE) as process:
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    answer = httpx.get(
                        f"http://127.0.0.1:{port}/v1/admin/totals",
                        headers={"authorization": f"Bearer {TOKEN}"},
                    )
                    break
                except httpx.TransportError:
                    assert process.poll() is None and time.monotonic() < deadline
                    time.sleep(0.1)
            assert (answer.status_code, answer.json()) == (200, {"currencies": {}})
        finally:
            process.terminate()


def test_ledger_serve_on_a_busy_port_is_a_typed_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = str(busy.getsockname()[1])
        code = main(
            ["ledger", "serve", "--db", f"sqlite:///{tmp_path / 'l.db'}", "--port", port,
             "--admin-token", TOKEN]
        )  # fmt: skip
    assert code == 3
    assert "LEDGER_CANNOT_LISTEN" in capsys.readouterr().err
