"""The ledger's database: one small async interface over SQLite and PostgreSQL (asyncpg).

SQL is written once, PostgreSQL style (``$1, $2`` placeholders); the SQLite side rewrites
the placeholders to ``?1, ?2`` and drops row locks (``FOR UPDATE``), which it does not need
because its transactions are serialised as a whole.

Invariants:
- All work happens in :meth:`Database.transaction`: committed when the block ends, rolled
  back on any exception; nothing is ever half-written.
- SQLite: one ledger process per file (an OS lock on ``PATH.lock``), one connection, WAL,
  ``synchronous=FULL``; one transaction at a time (an anyio lock), ``BEGIN IMMEDIATE``.
  Statements run on the event loop thread (they touch the page cache only); the COMMIT,
  which waits for fsync, runs in a worker thread.
- PostgreSQL: a connection pool; READ COMMITTED plus explicit row locks taken in one global
  order (allowances by serial, then balances by account and currency), so concurrent ledger
  processes never settle twice and cannot deadlock by design. Deadlock and serialisation
  failures are retried anyway (:meth:`Database.run`).
- Driver exceptions never escape: they become ``LedgerError(LEDGER_STORAGE)``.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.files.lock import WriterLock
from p2ppay.ledger.errors import LedgerError

__all__ = ["Database", "Row", "Tx", "open_database"]

Row = tuple[Any, ...]
T = TypeVar("T")

_PLACEHOLDER = re.compile(r"\$(\d+)")
_RETRIES = 8


class Tx(ABC):
    """One open transaction."""

    dialect: str
    """``"sqlite"`` or ``"postgresql"``."""
    for_update: str
    """`` FOR UPDATE`` on PostgreSQL, empty on SQLite: append to a SELECT that locks rows."""

    @abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """All rows of a query."""

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        """The first row of a query, or None."""
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    @abstractmethod
    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; return the number of rows it changed."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run a statement once per row of arguments, in order."""


class Database(ABC):
    """A ledger database. Build it with :func:`open_database`; close it."""

    dialect: str

    @abstractmethod
    def transaction(self) -> Any:
        """``async with db.transaction() as tx``: one transaction."""

    @abstractmethod
    async def close(self) -> None:
        """Release the connection(s)."""

    async def run(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """Run ``work(tx)`` in a transaction, again if the database asks for a retry."""
        for attempt in range(_RETRIES):
            try:
                async with self.transaction() as tx:
                    return await work(tx)
            except _Retry:
                await anyio.sleep(0.005 * (2**attempt))
        raise LedgerError(AppErrorCode.LEDGER_STORAGE, "too many concurrent updates, retry")


class _Retry(Exception):
    """A deadlock or serialisation failure: run the whole transaction again."""


# --- SQLite -----------------------------------------------------------------------------


def _sqlite_sql(sql: str, cache: dict[str, str]) -> str:
    translated = cache.get(sql)
    if translated is None:
        translated = _PLACEHOLDER.sub(r"?\1", sql)
        cache[sql] = translated
    return translated


class _SqliteTx(Tx):
    dialect = "sqlite"
    for_update = ""

    def __init__(self, conn: sqlite3.Connection, cache: dict[str, str]) -> None:
        self._conn = conn
        self._cache = cache

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return self._conn.execute(_sqlite_sql(sql, self._cache), args).fetchall()

    async def execute(self, sql: str, *args: Any) -> int:
        return self._conn.execute(_sqlite_sql(sql, self._cache), args).rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._conn.executemany(_sqlite_sql(sql, self._cache), rows)


class SqliteDatabase(Database):
    """The embedded store: one file, one ledger process (a lock file beside it), one
    transaction at a time. Several ledger processes need PostgreSQL."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self._owner = WriterLock(path.with_name(path.name + ".lock"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._owner.acquire()
        except StoreError as exc:
            raise LedgerError(
                AppErrorCode.LEDGER_STORAGE,
                f"another ledger uses {path}; share a database between ledgers with PostgreSQL",
            ) from exc
        except OSError as exc:
            raise LedgerError(AppErrorCode.LEDGER_STORAGE, f"{path}: {exc}") from exc
        try:
            self._conn = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=30
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA busy_timeout = 30000")
        except (sqlite3.Error, OSError) as exc:
            self._owner.release()
            raise LedgerError(AppErrorCode.LEDGER_STORAGE, f"{path}: {exc}") from exc
        self._lock = anyio.Lock()
        self._cache: dict[str, str] = {}

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise LedgerError(AppErrorCode.LEDGER_STORAGE, str(exc)) from exc
            try:
                yield _SqliteTx(conn, self._cache)
                # Commit waits for fsync: keep the event loop free meanwhile. The lock is
                # held, so no other transaction can start on this connection.
                await anyio.to_thread.run_sync(conn.execute, "COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise LedgerError(AppErrorCode.LEDGER_STORAGE, str(exc)) from exc
                raise

    async def close(self) -> None:
        async with self._lock:
            self._conn.close()
            self._owner.release()


# --- PostgreSQL -------------------------------------------------------------------------


def _rowcount(status: str) -> int:
    # asyncpg returns the command tag, e.g. "INSERT 0 1" or "UPDATE 3".
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _PgTx(Tx):
    dialect = "postgresql"
    for_update = " FOR UPDATE"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        records = await self._conn.fetch(sql, *args)
        return [tuple(r) for r in records]

    async def execute(self, sql: str, *args: Any) -> int:
        return _rowcount(await self._conn.execute(sql, *args))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._conn.executemany(sql, rows)


class PostgresDatabase(Database):
    """A PostgreSQL database several ledger processes may share."""

    dialect = "postgresql"

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, url: str, *, min_size: int = 1, max_size: int = 8) -> PostgresDatabase:
        import asyncpg

        try:
            pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise LedgerError(AppErrorCode.LEDGER_STORAGE, f"cannot connect: {exc}") from exc
        return cls(pool)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        import asyncpg

        try:
            async with self._pool.acquire() as conn, conn.transaction():
                yield _PgTx(conn)
        except (
            asyncpg.exceptions.DeadlockDetectedError,
            asyncpg.exceptions.SerializationError,
        ) as exc:
            raise _Retry() from exc
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise LedgerError(AppErrorCode.LEDGER_STORAGE, str(exc)) from exc

    async def close(self) -> None:
        await self._pool.close()


async def open_database(url: str) -> Database:
    """A database from ``sqlite:///PATH`` or ``postgresql://USER@HOST:PORT/DB``."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if not parts.path or parts.netloc:
            raise LedgerError(AppErrorCode.LEDGER_BAD_DATABASE_URL, "use sqlite:///PATH")
        return SqliteDatabase(Path(parts.path))
    if parts.scheme in ("postgresql", "postgres"):
        return await PostgresDatabase.connect(url)
    raise LedgerError(
        AppErrorCode.LEDGER_BAD_DATABASE_URL, f"unsupported database URL scheme {parts.scheme!r}"
    )
