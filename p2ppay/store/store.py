"""The store facade: open (migrate, check owner, recover), then one object per concern.

Invariants:
- Opening for writing takes the writer lock, migrates, checks (or records) the wallet key
  the store belongs to, and recovers every unfinished session, in that order, before any
  caller can write; :attr:`Store.recovered` says what recovery did.
- A read-only open (for ``history``, ``show``, ``export`` while a role runs) takes no lock,
  never writes and never recovers: what it shows as ``open`` may be live in another process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store import allowances as allowances_module
from p2ppay.store import sessions as sessions_module
from p2ppay.store.aborts import ReceivedAborts
from p2ppay.store.allowances import Allowances
from p2ppay.store.connection import Database, connect
from p2ppay.store.counterparties import Counterparties
from p2ppay.store.lookups import Lookups
from p2ppay.store.migrations import migrate
from p2ppay.store.outbox import Outbox
from p2ppay.store.payments import Payments
from p2ppay.store.records import RecoveredSession
from p2ppay.store.sessions import SessionLog
from p2ppay.store.trust import Trust

__all__ = ["DEFAULT_BUSY_TIMEOUT_MS", "Store"]

DEFAULT_BUSY_TIMEOUT_MS = 5000
"""How long a write waits for another connection's lock before ``STORE_LOCKED``."""


class Store:
    """A wallet's SQLite store. Build it with :meth:`open`; close it (or use ``with``)."""

    def __init__(self, db: Database, *, path: Path, recovered: tuple[RecoveredSession, ...]):
        self._db = db
        self._path = path
        self._recovered = recovered
        self.allowances = Allowances(db)
        """Payer state (counter, chain head) and allowances."""
        self.payments = Payments(db)
        """Invoices, payments and receipts: the money steps."""
        self.lookups = Lookups(db)
        """Reads for the CLI, sync and kiosk: one invoice's story, ids from hex prefixes."""
        self.sessions = SessionLog(db)
        """The session log and history."""
        self.counterparties = Counterparties(db)
        """Peers and the chain position last seen from each payer."""
        self.outbox = Outbox(db)
        """The sync outbox."""
        self.trust = Trust(db)
        """Trusted issuer keys and the revocation list."""
        self.aborts = ReceivedAborts(db)
        """Signed Aborts received after a payment, kept for the ledger."""

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        wallet_key: bytes | None,
        now: int,
        readonly: bool = False,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        on_connect: Callable[[sqlite3.Connection], None] | None = None,
    ) -> Store:
        """Open (creating and migrating if needed) the store at ``path``.

        ``wallet_key`` is the owner's public key: recorded on first open, checked after
        (``STORE_WRONG_WALLET``); ``None`` skips the check (read-only tools). ``now`` (Unix
        seconds) stamps recovered sessions. ``on_connect`` runs on the raw connection right
        after the pragmas: a seam for fault injection in tests, not for application code.
        """
        db = connect(
            path, readonly=readonly, busy_timeout_ms=busy_timeout_ms, on_connect=on_connect
        )
        try:
            migrate(db)
            recovered: tuple[RecoveredSession, ...] = ()
            if readonly:
                with db.read() as conn:
                    owner = allowances_module.owner(conn)
                if wallet_key is not None and owner != wallet_key:
                    raise StoreError(
                        AppErrorCode.STORE_WRONG_WALLET, "this store belongs to another wallet"
                    )
            else:
                with db.write() as conn:
                    if wallet_key is not None:
                        allowances_module.ensure_owner(conn, wallet_key, now=now)
                    else:
                        allowances_module.owner(conn)
                    recovered = sessions_module.recover(conn, now=now)
        except BaseException:
            db.close()
            raise
        return cls(db, path=path, recovered=recovered)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def readonly(self) -> bool:
        """True when opened read-only."""
        return self._db.readonly

    @property
    def recovered(self) -> tuple[RecoveredSession, ...]:
        """Sessions this open found unfinished and moved to a settled state."""
        return self._recovered

    def close(self) -> None:
        """Close the connection and release the writer lock (idempotent)."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
