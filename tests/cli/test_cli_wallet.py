"""The wallet commands' contract: passphrases, refusals that overwrite nothing, JSON shapes,
and a long-running payer that SIGTERM ends cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from p2ppay.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_init_then_id_give_the_same_identity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(tmp_path / "w")
    code, created = run(capsys, "--home", home, "init", "--no-passphrase", "--json")
    assert code == 0 and created["encrypted"] is False
    code, ident = run(capsys, "--home", home, "id", "--json")
    assert code == 0
    assert ident["wallet_id"] == created["wallet_id"]
    assert ident["public_key"] == created["public_key"]
    assert len(bytes.fromhex(str(ident["public_key"]))) == 32


def test_a_second_init_is_refused_and_keeps_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "w"
    run(capsys, "--home", str(home), "init", "--no-passphrase", "--json")
    before = (home / "wallet.key").read_bytes()
    code, error = run(capsys, "--home", str(home), "init", "--no-passphrase", "--json")
    assert (code, error["error"]) == (3, "WALLET_EXISTS")
    assert (home / "wallet.key").read_bytes() == before


def test_an_encrypted_wallet_needs_its_passphrase(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = str(tmp_path / "w")
    issuer = "ab" * 32
    monkeypatch.setenv("P2PPAY_PASSPHRASE", "correct horse")
    code, created = run(capsys, "--home", home, "init", "--json")
    assert code == 0 and created["encrypted"] is True
    monkeypatch.delenv("P2PPAY_PASSPHRASE")
    code, error = run(capsys, "--home", home, "trust-issuer", issuer, "--json")
    assert (code, error["error"]) == (3, "PASSPHRASE_REQUIRED")
    monkeypatch.setenv("P2PPAY_PASSPHRASE", "wrong")
    code, error = run(capsys, "--home", home, "trust-issuer", issuer, "--json")
    assert (code, error["error"]) == (3, "WRONG_PASSPHRASE")
    monkeypatch.setenv("P2PPAY_PASSPHRASE", "correct horse")
    code, trusted = run(capsys, "--home", home, "trust-issuer", issuer, "--json")
    assert (code, trusted["trusted"]) == (0, issuer)


def test_an_amount_with_too_many_decimals_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(tmp_path / "w")
    run(capsys, "--home", home, "init", "--no-passphrase", "--json")
    code, error = run(capsys, "--home", home, "request", "12.505", "EUR", "--json")
    assert (code, error["error"]) == (2, "MONEY_BAD_DECIMAL")  # a typo is usage


def test_history_of_a_new_wallet_is_an_empty_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(tmp_path / "w")
    run(capsys, "--home", home, "init", "--no-passphrase", "--json")
    assert main(["--home", home, "history", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"entries": [], "count": 0}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_serving_payer_stops_cleanly_on_a_signal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], signum: signal.Signals
) -> None:
    from tests.world import make_homes

    homes = make_homes(tmp_path)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "p2ppay",
            "--home",
            str(homes.payer.root),
            "pay",
            "--auto-approve-up-to",
            "5.00",
            "--json",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "P2PPAY_PASSPHRASE": ""},
    )
    try:
        deadline = time.monotonic() + 30
        assert proc.stderr is not None
        for line in proc.stderr:  # wait until it advertises
            if "advertising" in line or time.monotonic() > deadline:
                break
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out == ""
