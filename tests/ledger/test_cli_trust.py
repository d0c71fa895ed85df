"""The CLI of ledger trust: register pins and prints the fingerprint, ``--ledger-key``
refuses another ledger, ``trust-ledger`` pins a kiosk, doctor and statement show the list's
age, and plain http:// off loopback is refused with its code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p2ppay.cli import main
from p2ppay.sync import fingerprint
from tests.ledger.world import Party, ledger_in_thread, new_party

TOKEN = "cli-token-0123456789-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def ledger_url(tmp_path: Path) -> Iterator[str]:
    with ledger_in_thread(f"sqlite:///{tmp_path / 'ledger.db'}", admin_token=TOKEN) as url:
        yield url


def run(capsys: pytest.CaptureFixture[str], party: Party, *argv: str) -> tuple[int, Any]:
    code = main(["--home", str(party.home.root), *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_register_pins_the_ledger_key_and_prints_its_fingerprint(
    capsys: pytest.CaptureFixture[str], ledger_url: str, tmp_path: Path
) -> None:
    payee = new_party(tmp_path, "payee")
    code, out = run(capsys, payee, "register", "--ledger", ledger_url)
    assert code == 0, out
    key = bytes.fromhex(out["ledger_key"])
    assert out["fingerprint"] == fingerprint(key)
    assert out["pinned"] == "register"
    with payee.open() as wallet:
        pin = wallet.store.trust.ledger_pin()
        assert pin is not None and pin.public_key == key
        assert wallet.store.trust.issuer_keys() == {key}
    code, doctor = run(capsys, payee, "doctor")
    assert doctor["trust"]["fingerprint"] == out["fingerprint"]
    assert doctor["trust"]["version"] == 0 and doctor["trust"]["stale"] is False
    code, statement = run(capsys, payee, "statement")
    assert code == 0, statement
    assert statement["revocation_list"]["age"] >= 0
    assert statement["revocation_list"]["version"] == 0


def test_register_with_another_ledger_key_is_refused_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], ledger_url: str, tmp_path: Path
) -> None:
    payee = new_party(tmp_path, "payee")
    code, out = run(capsys, payee, "register", "--ledger", ledger_url, "--ledger-key", "ab" * 32)
    assert out["error"] == "SYNC_LEDGER_KEY_MISMATCH", out
    assert code != 0
    with payee.open() as wallet:
        assert wallet.store.trust.ledger_pin() is None
        assert wallet.store.trust.issuer_keys() == frozenset()
        assert wallet.store.trust.revocation_info() is None


def test_trust_ledger_pins_a_wallet_that_never_registers(
    capsys: pytest.CaptureFixture[str], ledger_url: str, tmp_path: Path
) -> None:
    first, kiosk = new_party(tmp_path, "first"), new_party(tmp_path, "kiosk")
    key = run(capsys, first, "trust-ledger", ledger_url)[1]["ledger_key"]
    code, out = run(capsys, kiosk, "trust-ledger", ledger_url, "--ledger-key", key)
    assert code == 0, out
    assert (out["ledger_key"], out["pinned"]) == (key, "out-of-band")
    code, again = run(capsys, kiosk, "sync")  # the remembered URL, the pinned key
    assert (code, again["trust"]) == (0, "updated"), again


def test_plain_http_to_another_host_is_refused_naming_the_fix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    payee = new_party(tmp_path, "payee")
    code, out = run(capsys, payee, "register", "--ledger", "http://ledger.example.com")
    assert out["error"] == "SYNC_INSECURE_URL"
    assert "https://" in out["message"] and code != 0
