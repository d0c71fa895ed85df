"""One SQLite connection with the pragmas money needs, transactions, and error translation.

Invariants:
- Pragmas on every connection: WAL, ``synchronous=FULL`` (a committed payment survives a power
  cut), ``foreign_keys=ON``, a ``busy_timeout``; a writable connection also holds the home's
  writer lock, so exactly one process writes a store (others may open it read-only).
- Every write is one ``BEGIN IMMEDIATE`` transaction: it takes the write lock up front (a
  locked database fails before anything is done), and any exception, from SQLite or from
  a rule the caller checks, rolls the whole transaction back. A money step is never half-done.
- ``sqlite3`` exceptions never escape: :func:`translate` maps them onto ``StoreError`` with a
  stable code (disk full, locked, corrupt, I/O, integrity), chained ``from`` the cause.
- A writable open leaves the database, its ``-wal``/``-shm`` files and the lock file owner-only
  (0600): it creates the database file 0600 before SQLite opens it (SQLite gives the WAL and
  shared-memory files the database's mode) and tightens files an older version left looser.
- One connection per ``Database``, guarded by a lock so a worker thread may use it too; a
  transaction never nests (a nested write is a programming error and raises ``RuntimeError``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.files.lock import WriterLock

__all__ = ["Database", "connect", "translate"]

_PRIVATE_FILE = 0o600
"""History, counterparties and trust are nobody else's business: every store file is 0600."""
_SIDE_FILES = ("-wal", "-shm", "-journal", ".lock")

# Primary result codes (the low byte of an extended code).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_CONSTRAINT = 19
_SQLITE_NOTADB = 26

_BY_PRIMARY: dict[int, AppErrorCode] = {
    _SQLITE_BUSY: AppErrorCode.STORE_LOCKED,
    _SQLITE_LOCKED: AppErrorCode.STORE_LOCKED,
    _SQLITE_FULL: AppErrorCode.STORE_DISK_FULL,
    _SQLITE_CORRUPT: AppErrorCode.STORE_CORRUPT,
    _SQLITE_NOTADB: AppErrorCode.STORE_CORRUPT,
    _SQLITE_CONSTRAINT: AppErrorCode.STORE_INTEGRITY,
    _SQLITE_READONLY: AppErrorCode.STORE_IO,
    _SQLITE_IOERR: AppErrorCode.STORE_IO,
    _SQLITE_CANTOPEN: AppErrorCode.STORE_IO,
}


def translate(exc: sqlite3.Error) -> StoreError:
    """The ``StoreError`` for a ``sqlite3`` exception (raise it ``from exc``)."""
    errorcode = getattr(exc, "sqlite_errorcode", None)
    code: AppErrorCode | None = None
    if isinstance(errorcode, int):
        code = _BY_PRIMARY.get(errorcode & 0xFF)
    if code is None:
        # Older SQLite bindings give no code: fall back on the stable English messages.
        text = str(exc).lower()
        if "disk is full" in text:
            code = AppErrorCode.STORE_DISK_FULL
        elif "locked" in text or "busy" in text:
            code = AppErrorCode.STORE_LOCKED
        elif "malformed" in text or "not a database" in text:
            code = AppErrorCode.STORE_CORRUPT
        elif isinstance(exc, sqlite3.IntegrityError):
            code = AppErrorCode.STORE_INTEGRITY
        else:
            code = AppErrorCode.STORE_IO
    return StoreError(code, str(exc))


class Database:
    """A connection plus its transaction discipline. Build it with :func:`connect`."""

    def __init__(
        self, conn: sqlite3.Connection, *, readonly: bool, lock: WriterLock | None
    ) -> None:
        self._conn = conn
        self._readonly = readonly
        self._lock = lock
        self._mutex = threading.RLock()
        self._closed = False

    @property
    def readonly(self) -> bool:
        """True when opened read-only (no writer lock, no recovery, no writes)."""
        return self._readonly

    @contextlib.contextmanager
    def write(self, *, schema_change: bool = False) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on any error.

        ``schema_change`` (migrations only): foreign keys are off during the transaction, so
        a table can be rebuilt, and every one is checked before the commit (SQLite's
        documented procedure); a violation rolls it all back as ``STORE_INTEGRITY``.
        """
        if self._readonly:
            raise StoreError(AppErrorCode.STORE_READ_ONLY, "the store was opened read-only")
        with self._mutex:
            conn = self._usable()
            try:
                if schema_change:
                    conn.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise translate(exc) from exc
            try:
                yield conn
                if schema_change and conn.execute("PRAGMA foreign_key_check").fetchone():
                    raise StoreError(
                        AppErrorCode.STORE_INTEGRITY, "a migration broke a foreign key"
                    )
                conn.execute("COMMIT")
            except BaseException as exc:
                self._rollback(conn)
                if isinstance(exc, sqlite3.Error):
                    raise translate(exc) from exc
                raise
            finally:
                if schema_change:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("PRAGMA foreign_keys = ON")

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for several queries."""
        with self._mutex:
            conn = self._usable()
            try:
                conn.execute("BEGIN")
                yield conn
            except sqlite3.Error as exc:
                raise translate(exc) from exc
            finally:
                self._rollback(conn)

    def _usable(self) -> sqlite3.Connection:
        if self._closed:
            raise RuntimeError("the store is closed")
        if self._conn.in_transaction:
            raise RuntimeError("store transactions do not nest")
        return self._conn

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def close(self) -> None:
        """Close the connection and drop the writer lock (idempotent)."""
        with self._mutex:
            if not self._closed:
                self._closed = True
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                if self._lock is not None:
                    self._lock.release()


def _apply_pragmas(conn: sqlite3.Connection, *, readonly: bool, busy_timeout_ms: int) -> None:
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA trusted_schema = OFF")
    if not readonly:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(AppErrorCode.STORE_IO, f"cannot enable WAL (journal_mode={mode})")


def _make_private(path: Path) -> None:
    """Create ``path`` 0600 if missing; tighten it and its side files if they are looser."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, _PRIVATE_FILE)
    os.close(fd)
    if sys.platform == "win32":
        return
    for file in (path, *(path.with_name(path.name + suffix) for suffix in _SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError):
            if file.stat().st_mode & 0o077:
                os.chmod(file, _PRIVATE_FILE)


def connect(
    path: Path,
    *,
    readonly: bool,
    busy_timeout_ms: int,
    on_connect: Callable[[sqlite3.Connection], None] | None = None,
) -> Database:
    """Open ``path`` with the store's pragmas; a writable open takes the writer lock first."""
    lock: WriterLock | None = None
    if not readonly:
        lock = WriterLock(path.with_name(path.name + ".lock"))
        lock.acquire()
        try:
            _make_private(path)
        except OSError as exc:
            lock.release()
            raise StoreError(AppErrorCode.STORE_IO, f"{path}: {exc}") from exc
    elif not path.exists():
        raise StoreError(AppErrorCode.STORE_NOT_FOUND, f"no store at {path}")
    try:
        if readonly:
            conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                timeout=busy_timeout_ms / 1000,
                check_same_thread=False,
            )
        else:
            conn = sqlite3.connect(
                os.fspath(path),
                isolation_level=None,
                timeout=busy_timeout_ms / 1000,
                check_same_thread=False,
            )
    except sqlite3.Error as exc:
        if lock is not None:
            lock.release()
        raise translate(exc) from exc
    try:
        _apply_pragmas(conn, readonly=readonly, busy_timeout_ms=busy_timeout_ms)
        if on_connect is not None:
            on_connect(conn)
    except BaseException as exc:
        conn.close()
        if lock is not None:
            lock.release()
        if isinstance(exc, sqlite3.Error):
            raise translate(exc) from exc
        raise
    return Database(conn, readonly=readonly, lock=lock)
