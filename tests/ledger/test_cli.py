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

from p2ppay.api.ids import wallet_id_of
from p2ppay.cli import main
from p2ppay.store.settlement import Settlement, settlements
from tests.ledger.world import Party, ledger_in_thread, new_party, pay_offline

TOKEN = "cli-token-0123456789-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def ledger_url(tmp_path: Path) -> Iterator[str]:
    with ledger_in_thread(f"sqlite:///{tmp_path / 'ledger.db'}", admin_token=TOKEN) as url:
        yield url


def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "admin-token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


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
        capsys,
        "ledger",
        "deposit",
        account["wallet_id"],
        "50.00",
        "EUR",
        "--ledger",
        ledger_url,
        "--admin-token-file",
        str(token_file(tmp_path)),
        "--json",
    )
    assert (code, deposit["balance"]) == (0, "50.00")
    allowance = cli(capsys, payer, "allowance", "request", "20.00", "EUR")
    assert (allowance["limit"], allowance["currency"]) == ("20.00", "EUR")
    cli(capsys, payee, "sync")  # learns the ledger's issuer key
    pay_offline(payer, payee, 12_50)

    counts = cli(capsys, payee, "sync")
    assert {k: counts[k] for k in ("settled", "duplicate", "rejected", "fraud")} == {
        "settled": 1,
        "duplicate": 0,
        "rejected": 0,
        "fraud": 0,
    }
    payer_sync = cli(capsys, payer, "sync")
    assert payer_sync["duplicate"] == 1
    # The payer's own record, settled by the payee's upload: settled, with the ledger's word.
    assert [(r["role"], r["status"]) for r in payer_sync["records"]] == [("payer", "settled")]
    assert cli(capsys, payer, "statement")["currencies"]["EUR"] == {
        "balance": "30.00",
        "reserve": "7.50",
        "claims": "0.00",
        "held": "0.00",
    }
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
    command = [
        sys.executable,
        "-m",
        "p2ppay",
        "ledger",
        "serve",
        "--db",
        f"sqlite:///{tmp_path / 'served.db'}",
        "--port",
        str(port),
    ]
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
            [
                "ledger",
                "serve",
                "--db",
                f"sqlite:///{tmp_path / 'l.db'}",
                "--port",
                port,
                "--admin-token-file",
                str(token_file(tmp_path)),
            ]
        )
    assert code == 3
    assert "LEDGER_CANNOT_LISTEN" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--admin-token", TOKEN], {}),  # on the command line: visible in ps
        ([], {"P2PPAY_ADMIN_TOKEN": "short-token"}),  # under 128 bits
        ([], {"P2PPAY_ADMIN_TOKEN": "a" * 40}),  # one repeated character
        ([], {}),  # none at all
    ],
)
def test_ledger_serve_refuses_an_admin_token_from_argv_or_under_128_bits(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
) -> None:
    monkeypatch.delenv("P2PPAY_ADMIN_TOKEN", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["ledger", "serve", "--db", f"sqlite:///{tmp_path / 'l.db'}", "--port", "0", *argv])
    assert code == 3
    assert "LEDGER_WEAK_ADMIN_TOKEN" in capsys.readouterr().err
    assert not (tmp_path / "l.db").exists()


def test_token_strength_is_estimated_from_length_and_alphabet() -> None:
    from p2ppay.cli.ledger_cmd import MIN_TOKEN_BITS, token_bits

    assert token_bits("0123456789abcdef" * 2) == 128  # 32 hex digits
    assert token_bits("0123456789abcdef0123456789abcde") < MIN_TOKEN_BITS
    assert token_bits("Aa0-" * 6) >= MIN_TOKEN_BITS  # 24 chars of 94 symbols


def test_a_wallet_revokes_itself_and_the_operator_revokes_another(
    capsys: pytest.CaptureFixture[str],
    ledger_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lost, stolen, payee = (new_party(tmp_path, n) for n in ("lost", "stolen", "payee"))
    for party in (lost, stolen, payee):
        cli(capsys, party, "register", "--ledger", ledger_url)
    mine = cli(capsys, lost, "revoke")
    assert (mine["revoked"], mine["version"]) == (True, 1)
    monkeypatch.setenv("P2PPAY_ADMIN_TOKEN", TOKEN)
    with stolen.open() as wallet:
        stolen_id = wallet_id_of(wallet.identity.public_key)
    code, theirs = run(
        capsys,
        "ledger",
        "revoke",
        stolen_id,
        "--ledger",
        ledger_url,
        "--reason",
        "reported stolen",
        "--json",
    )
    assert (code, theirs["version"]) == (0, 2)
    # Every payee gets both at its next sync and refuses them offline from then on.
    cli(capsys, payee, "sync")
    with payee.open() as wallet:
        revoked = wallet.store.trust.revoked_keys()
    assert {lost.public, stolen.public} <= set(revoked)
    code, refused = run(
        capsys, "--home", str(stolen.home.root), "allowance", "request", "1.00", "EUR", "--json"
    )
    assert code != 0 and "LEDGER_WALLET_REVOKED" in json.dumps(refused)


def test_release_held_pays_from_the_funded_guarantee_account(
    capsys: pytest.CaptureFixture[str],
    ledger_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("P2PPAY_ADMIN_TOKEN", TOKEN)
    payee = new_party(tmp_path, "payee")
    account = cli(capsys, payee, "register", "--ledger", ledger_url)
    code, out = run(
        capsys,
        "ledger",
        "release-held",
        account["wallet_id"],
        "1.00",
        "EUR",
        "--reason",
        "nothing held",
        "--ledger",
        ledger_url,
        "--json",
    )
    # The ledger's own code for an operator's refused request, not SYNC_REFUSED.
    assert code == 3 and out["error"].startswith("LEDGER_") and out["error"] != "SYNC_REFUSED"
    code, funded = run(
        capsys, "ledger", "deposit", "guarantee", "10.00", "EUR", "--ledger", ledger_url, "--json"
    )
    assert (code, funded["balance"]) == (0, "10.00")


def _refused_payment(
    capsys: pytest.CaptureFixture[str], ledger_url: str, root: Path
) -> tuple[Party, str]:
    """A funded payer whose payment the payee answered with a signed "rejected" receipt."""
    from p2ppay.store.documents import receipt_record
    from protocol.builders import make_receipt
    from protocol.bundle import decode_bundle
    from protocol.documents import Invoice, Payment, Verdict
    from protocol.errors import ErrorCode
    from protocol.verify import open_as
    from tests.ledger.world import now_s

    payer, payee = new_party(root, "payer"), new_party(root, "payee")
    account = cli(capsys, payer, "register", "--ledger", ledger_url)
    cli(capsys, payee, "register", "--ledger", ledger_url)
    run(
        capsys,
        "ledger",
        "deposit",
        account["wallet_id"],
        "20.00",
        "EUR",
        "--ledger",
        ledger_url,
        "--admin-token-file",
        str(token_file(root)),
        "--json",
    )
    cli(capsys, payer, "allowance", "request", "10.00", "EUR")
    cli(capsys, payee, "sync")
    invoice_raw, payment_raw, _ = decode_bundle(pay_offline(payer, payee, 2_00, receipt_lost=True))
    invoice, payment = open_as(invoice_raw, Invoice), open_as(payment_raw, Payment)
    refusal = make_receipt(
        payee.key,
        payment_hash=payment.hash,
        verdict=Verdict.REJECTED,
        now=now_s(),
        code=ErrorCode.ACCEPT_AMOUNT_MISMATCH,
    )
    with payer.open() as wallet:
        wallet.store.payments.persist_receipt(
            receipt_record(refusal, invoice_id=invoice.doc.id), now=now_s()
        )
    return payer, invoice.doc.id.hex()


def test_sync_says_why_each_record_was_rejected(
    capsys: pytest.CaptureFixture[str], ledger_url: str, tmp_path: Path
) -> None:
    payer, invoice_id = _refused_payment(capsys, ledger_url, tmp_path / "json")
    synced = cli(capsys, payer, "sync")
    assert synced["rejected"] == 1
    assert synced["records"] == [
        {
            "invoice_id": invoice_id,
            "role": "payer",
            "status": "rejected",
            "why": "LEDGER_RECEIPT_REJECTED",
        },
    ]
    assert cli(capsys, payer, "sync")["records"] == []  # nothing new decided
    payer, invoice_id = _refused_payment(capsys, ledger_url, tmp_path / "text")
    assert main(["--home", str(payer.home.root), "sync"]) == 0
    text = capsys.readouterr().out
    assert f"{invoice_id[:12]} (paid): rejected: LEDGER_RECEIPT_REJECTED" in text
