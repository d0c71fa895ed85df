"""Opening a store: schema by ``user_version``, pragmas, owner check, one writer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store import SCHEMA_VERSION, Role
from p2ppay.store.migrations import MIGRATIONS
from tests.app.test_store_factory import NOW, WALLET, open_store


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    return version


def test_a_new_file_is_migrated_to_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    open_store(path).close()
    assert _user_version(path) == SCHEMA_VERSION == len(MIGRATIONS)


def test_the_connection_runs_with_the_money_pragmas(tmp_path: Path) -> None:
    conns: list[sqlite3.Connection] = []
    with open_store(tmp_path / "store.sqlite3", on_connect=conns.append):
        [conn] = conns
        pragmas = [
            conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "foreign_keys")
        ]
    assert pragmas == ["wal", 2, 1]  # synchronous 2 = FULL


def test_reopening_keeps_the_data_and_the_version(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with open_store(path) as store:
        sid = store.sessions.start(Role.PAYER, now=NOW).session_id
    with open_store(path) as again:
        assert again.sessions.get(sid).role is Role.PAYER
    assert _user_version(path) == SCHEMA_VERSION


def test_a_store_from_a_newer_p2ppay_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError) as err:
        open_store(path)
    assert err.value.code is AppErrorCode.STORE_SCHEMA_TOO_NEW


def test_a_failed_migration_leaves_the_previous_version_intact(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE outbox (x)")  # the migration's CREATE TABLE outbox will fail
    conn.close()
    with pytest.raises(StoreError):
        open_store(path)
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert _user_version(path) == 0
    assert tables == {"outbox"}


def test_a_read_only_open_of_an_unmigrated_file_asks_for_a_writable_open(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    sqlite3.connect(path).close()
    with pytest.raises(StoreError) as err:
        open_store(path, readonly=True)
    assert err.value.code is AppErrorCode.STORE_SCHEMA_OUTDATED


def test_a_read_only_open_of_a_missing_store_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as err:
        open_store(tmp_path / "absent.sqlite3", readonly=True)
    assert err.value.code is AppErrorCode.STORE_NOT_FOUND


def test_a_file_that_is_not_a_database_is_reported_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    path.write_bytes(b"this is not SQLite, just some text that is long enough" * 100)
    with pytest.raises(StoreError) as err:
        open_store(path)
    assert err.value.code is AppErrorCode.STORE_CORRUPT


def test_a_store_opened_with_another_wallet_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    open_store(path).close()
    with pytest.raises(StoreError) as err:
        open_store(path, key=bytes([7]) * 32)
    assert err.value.code is AppErrorCode.STORE_WRONG_WALLET


def test_one_writer_at_a_time_but_readers_alongside(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with open_store(path) as writer:
        sid = writer.sessions.start(Role.PAYEE, now=NOW).session_id
        with pytest.raises(StoreError) as err:
            open_store(path)
        with open_store(path, readonly=True) as reader:
            assert reader.sessions.get(sid).role is Role.PAYEE
            assert reader.wallet.public_key() == WALLET
    assert err.value.code is AppErrorCode.STORE_IN_USE


def test_a_read_only_store_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    open_store(path).close()
    with open_store(path, readonly=True) as reader, pytest.raises(StoreError) as err:
        reader.sessions.start(Role.PAYER, now=NOW)
    assert err.value.code is AppErrorCode.STORE_READ_ONLY


def test_the_writer_lock_is_released_on_close(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    open_store(path).close()
    with open_store(path) as again:
        assert not again.readonly
