"""A thief or another local user reads nothing: the home is private and so is every store file.

The invariant a user cares about: no file holding the wallet's history, counterparties,
memos or trust is readable by anyone but its owner, and a home others can enter is refused
with the command that fixes it, before anything is read or written in it.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from p2ppay.errors import AppErrorCode, WalletError
from p2ppay.store.connection import connect
from p2ppay.wallet import KdfParams, WalletHome, init_wallet, open_store, open_wallet
from tests.cli_world import cli

FAST = KdfParams.minimum()
NOW = 1_800_000_000

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX mode bits")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_and_its_wal_and_shm_files_are_owner_only(tmp_path: Path) -> None:
    home = WalletHome(root=tmp_path / "alice")
    old = os.umask(0o022)  # the usual umask: SQLite alone would create 0644 files
    try:
        init_wallet(home, passphrase=None, now=NOW, kdf=FAST)
        with open_wallet(home, passphrase=None, now=NOW) as wallet:
            wallet.trust_issuer(b"\x01" * 32, now=NOW)  # a write: the WAL and SHM exist now
            files = [home.store_file.with_name(home.store_file.name + s) for s in ("-wal", "-shm")]
            assert all(f.exists() for f in files)
            for f in (home.store_file, *files, home.store_file.with_name("store.sqlite3.lock")):
                assert _mode(f) == 0o600, f"{f.name} is {_mode(f):04o}"
    finally:
        os.umask(old)
    assert _mode(home.root) == 0o700


def test_a_store_an_older_version_left_world_readable_is_tightened_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    connect(path, readonly=False, busy_timeout_ms=1000).close()
    assert _mode(path) == 0o600


@pytest.mark.parametrize("mode", [0o755, 0o750, 0o701, 0o707])
def test_a_home_others_can_enter_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    home = WalletHome(root=tmp_path / "alice")
    init_wallet(home, passphrase=None, now=NOW, kdf=FAST)
    os.chmod(home.root, mode)
    before = {p.name: p.read_bytes() for p in home.root.iterdir()}
    for opening in (
        lambda: open_wallet(home, passphrase=None, now=NOW),
        lambda: open_store(home, now=NOW, readonly=True),
        lambda: init_wallet(home, passphrase=None, now=NOW, kdf=FAST),
    ):
        with pytest.raises(WalletError) as err:
            opening()
        assert err.value.code is AppErrorCode.HOME_NOT_PRIVATE
        assert f"chmod 700 {home.root}" in err.value.message
    assert {p.name: p.read_bytes() for p in home.root.iterdir()} == before


def test_the_cli_refuses_a_shared_home_with_a_json_error_and_exit_3(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    result = cli("--home", str(shared), "init", "--no-passphrase", "--json", check=False)
    assert result.returncode == 3
    error = json.loads(result.stdout)
    assert error["error"] == "HOME_NOT_PRIVATE"
    assert not (shared / "wallet.key").exists()
