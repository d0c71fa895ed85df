"""Opening a store: schema by ``user_version``, pragmas, owner check, one writer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store import SCHEMA_VERSION, OutboxStatus, SessionStatus, Side
from p2ppay.store.migrations import MIGRATIONS
from tests.store.records import (
    NOW,
    WALLET,
    allowance,
    invoice,
    next_link,
    open_store,
    outgoing,
)


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
        sid = store.sessions.start(Side.PAYER, now=NOW).session_id
    with open_store(path) as again:
        assert again.sessions.get(sid).role is Side.PAYER
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
        sid = writer.sessions.start(Side.PAYEE, now=NOW).session_id
        with pytest.raises(StoreError) as err:
            open_store(path)
        with open_store(path, readonly=True) as reader:
            assert reader.sessions.get(sid).role is Side.PAYEE
            assert reader.allowances.public_key() == WALLET
    assert err.value.code is AppErrorCode.STORE_IN_USE


def test_a_read_only_store_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    open_store(path).close()
    with open_store(path, readonly=True) as reader, pytest.raises(StoreError) as err:
        reader.sessions.start(Side.PAYER, now=NOW)
    assert err.value.code is AppErrorCode.STORE_READ_ONLY


def test_the_writer_lock_is_released_on_close(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    open_store(path).close()
    with open_store(path) as again:
        assert not again.readonly


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in rowid order."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}
    finally:
        conn.close()


def _as_version_2(path: Path) -> None:
    """Put the sessions table back as version 2 had it (its CHECK knows no 'refused')."""
    (old_sessions,) = (s for s in MIGRATIONS[0] if s.startswith("CREATE TABLE sessions "))
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.execute(old_sessions.replace("CREATE TABLE sessions ", "CREATE TABLE sessions_v2 "))
        conn.execute("INSERT INTO sessions_v2 SELECT * FROM sessions")
        conn.execute("DROP TABLE sessions")
        conn.execute("ALTER TABLE sessions_v2 RENAME TO sessions")
        conn.execute("CREATE INDEX sessions_by_invoice ON sessions (invoice_id, role)")
        conn.execute("CREATE INDEX sessions_by_state ON sessions (state)")
        conn.execute("PRAGMA user_version = 2")
        conn.execute("COMMIT")
        with pytest.raises(sqlite3.IntegrityError):  # version 2's CHECK
            conn.execute("UPDATE sessions SET state = 'refused'")
    finally:
        conn.close()


def test_a_version_2_store_upgrades_keeping_every_row(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with open_store(path) as store:
        store.allowances.import_allowance(allowance(), now=NOW)
        ids = []
        for n in (1, 2):
            sid = store.sessions.start(Side.PAYER, now=NOW).session_id
            inv = invoice(n)
            store.payments.record_invoice(inv, now=NOW, session_id=sid)
            link = next_link(store, amount=inv.amount_minor)
            store.payments.persist_outgoing(outgoing(inv, link), now=NOW, session_id=sid)
            store.sessions.fail(sid, now=NOW, error_code=408, detail="no receipt")
            ids.append(sid)
        # What version 2 did with a payment the payee refused: outbox rejected, session
        # left resumable.
        store.outbox.mark(
            invoice(1).invoice_id,
            OutboxStatus.REJECTED,
            now=NOW,
            detail="refused by the payee: ACCEPT_PAYER_REVOKED",
        )
        failed = store.sessions.start(Side.PAYER, now=NOW).session_id
        store.sessions.fail(failed, now=NOW, error_code=301, detail="declined")
    _as_version_2(path)
    before = _rows(path)
    assert _user_version(path) == 2

    with open_store(path) as store:
        refused, resumable = (store.sessions.get(sid) for sid in ids)
        assert refused.state is SessionStatus.REFUSED
        assert resumable.state is SessionStatus.RESUMABLE
        assert store.sessions.get(failed).state is SessionStatus.FAILED
    after = _rows(path)
    assert _user_version(path) == SCHEMA_VERSION
    # Every row of every table is kept; only the refused session's state changed, and its
    # audit trail says so.
    expected = dict(before)
    expected["sessions"] = [
        (*r[:3], "refused", *r[4:]) if r[1] == ids[0] else r for r in before["sessions"]
    ]
    *kept, event = after["session_events"]
    assert kept == before["session_events"]
    assert event[1:3] == (ids[0], NOW) and event[3] == "refused"
    expected["session_events"] = after["session_events"]
    assert after == expected
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    finally:
        conn.close()
    assert {"sessions_by_invoice", "sessions_by_state"} <= indexes
