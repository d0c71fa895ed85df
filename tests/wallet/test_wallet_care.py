"""Wallet care: a sealed backup that restores the same wallet and history, and passphrases.

The invariants a person relies on: a restored wallet is the same wallet (same key, same
history, same counter, so it can never sign a second payment at a used counter); a backup
that is damaged, forged or opened with the wrong passphrase restores nothing; a backup
never lands on top of a wallet; a new passphrase is never empty and never mistyped silently.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from p2ppay.errors import AppErrorCode, WalletError
from p2ppay.wallet import KdfParams, WalletHome, open_wallet
from p2ppay.wallet.backup import restore_backup, write_backup
from tests.cli_world import ROOT
from tests.world import make_homes, now_s, pay_once, spent

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
FAST = KdfParams.minimum()


async def test_a_restored_wallet_is_the_same_wallet_with_its_history(tmp_path: Path) -> None:
    homes = make_homes(tmp_path / "w")
    assert (await pay_once(homes, amount=7_00))[0].status == "completed"
    sealed = tmp_path / "payer.backup"
    write_backup(homes.payer, sealed, passphrase="correct horse", kdf=FAST)
    assert b"coffee" not in sealed.read_bytes()  # memos are sealed too
    restored = WalletHome(root=tmp_path / "new")
    restore_backup(restored, sealed, passphrase="correct horse")
    with open_wallet(restored, passphrase=None, now=now_s()) as wallet, homes.open_payer() as old:
        assert wallet.public == old.public
        assert spent(wallet) == spent(old) == 7_00
        assert wallet.store.allowances.payer_position().next_counter == 2
        assert len(wallet.store.sessions.history()) == len(old.store.sessions.history())
    assert (restored.root.stat().st_mode & 0o777) == 0o700


def test_a_wrong_passphrase_or_a_damaged_backup_restores_nothing(tmp_path: Path) -> None:
    homes = make_homes(tmp_path / "w")
    sealed = tmp_path / "payer.backup"
    write_backup(homes.payer, sealed, passphrase="right", kdf=FAST)
    target = WalletHome(root=tmp_path / "new")
    with pytest.raises(WalletError) as wrong:
        restore_backup(target, sealed, passphrase="wrong")
    assert wrong.value.code is AppErrorCode.WRONG_PASSPHRASE
    damaged = bytearray(sealed.read_bytes())
    damaged[-5] ^= 1
    (tmp_path / "damaged").write_bytes(bytes(damaged))
    with pytest.raises(WalletError) as broken:
        restore_backup(target, tmp_path / "damaged", passphrase="right")
    assert broken.value.code is AppErrorCode.WRONG_PASSPHRASE  # the seal's tag fails
    (tmp_path / "junk").write_bytes(b"not a backup at all")
    with pytest.raises(WalletError) as junk:
        restore_backup(target, tmp_path / "junk", passphrase="right")
    assert junk.value.code is AppErrorCode.BACKUP_CORRUPT
    assert not target.root.exists()


def test_a_backup_never_lands_on_a_wallet(tmp_path: Path) -> None:
    homes = make_homes(tmp_path / "w")
    sealed = tmp_path / "payer.backup"
    write_backup(homes.payer, sealed, passphrase="p", kdf=FAST)
    before = homes.payee.store_file.read_bytes()
    with pytest.raises(WalletError) as err:
        restore_backup(homes.payee, sealed, passphrase="p")
    assert err.value.code is AppErrorCode.WALLET_EXISTS
    assert homes.payee.store_file.read_bytes() == before


def _cli(*args: str, env: dict[str, str]) -> tuple[int, dict[str, object]]:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "p2ppay", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )
    return result.returncode, json.loads(result.stdout)


def test_the_cli_backs_up_restores_and_changes_the_passphrase(tmp_path: Path) -> None:
    home, copy, sealed = tmp_path / "alice", tmp_path / "copy", tmp_path / "alice.backup"
    assert _cli("--home", str(home), "init", env={"P2PPAY_PASSPHRASE": "first"})[0] == 0
    code, made = _cli(
        "--home",
        str(home),
        "backup",
        "--out",
        str(sealed),
        env={"P2PPAY_BACKUP_PASSPHRASE": "seal"},
    )
    assert code == 0 and made["files"] == ["config.json", "store.sqlite3", "wallet.key"]
    code, back = _cli(
        "--home", str(copy), "restore", str(sealed), env={"P2PPAY_BACKUP_PASSPHRASE": "seal"}
    )
    assert code == 0 and back["public_key"] == made["public_key"]
    env = {"P2PPAY_PASSPHRASE": "first", "P2PPAY_NEW_PASSPHRASE": "second"}
    assert _cli("--home", str(home), "passphrase", "change", env=env)[0] == 0
    code, _ = _cli("--home", str(home), "balance", env={})
    assert code == 0  # read-only commands need no passphrase
    code, wrong = _cli(
        "--home", str(home), "trust-issuer", "ab" * 32, env={"P2PPAY_PASSPHRASE": "first"}
    )
    assert code == 3 and wrong["error"] == "WRONG_PASSPHRASE"
    code, _ = _cli(
        "--home", str(home), "trust-issuer", "ab" * 32, env={"P2PPAY_PASSPHRASE": "second"}
    )
    assert code == 0


@pytest.mark.parametrize(
    ("typed", "code"),
    [(["", ""], AppErrorCode.PASSPHRASE_EMPTY), (["one", "two"], AppErrorCode.PASSPHRASES_DIFFER)],
)
def test_a_new_passphrase_is_never_empty_nor_mistyped_silently(
    monkeypatch: pytest.MonkeyPatch, typed: list[str], code: AppErrorCode
) -> None:
    from p2ppay.cli import common

    answers = iter(typed)
    monkeypatch.setattr(common, "_ask", lambda prompt: next(answers))  # the terminal seam
    monkeypatch.delenv(common.PASSPHRASE_ENV, raising=False)
    with pytest.raises(WalletError) as err:
        common.new_passphrase()
    assert err.value.code is code
