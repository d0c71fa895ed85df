"""The store's schema, as an append-only list of migrations keyed by ``PRAGMA user_version``.

Invariants:
- ``MIGRATIONS[n]`` takes the schema from version ``n`` to ``n + 1``. A released migration
  is never edited; a change is a new entry at the end.
- Each migration runs in one transaction together with its ``user_version`` bump, so a crash
  mid-migration leaves the previous version intact and the next open simply runs it again.
  Foreign keys are off while it runs (SQLite's procedure for rebuilding a table to change a
  CHECK) and checked in full before it commits: a migration that broke one is rolled back.
- A store whose ``user_version`` is above :data:`SCHEMA_VERSION` (written by a newer p2ppay) is
  refused, never downgraded.
- Money rules the application also checks are repeated as constraints (positive amounts,
  spent within the limit, one payment per invoice, one payment per chain counter), so even a
  bug above cannot write a record that breaks them. Tables are STRICT: no silent type mixing.
"""

from __future__ import annotations

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store.connection import Database

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate", "schema_version"]

_ROLE = "role TEXT NOT NULL CHECK (role IN ('payer', 'payee'))"
_KEY = "CHECK (length({0}) = 32)"

_V1: tuple[str, ...] = (
    f"""CREATE TABLE wallet_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        public_key BLOB NOT NULL {_KEY.format("public_key")},
        created_at INTEGER NOT NULL
    ) STRICT""",
    f"""CREATE TABLE allowances (
        id INTEGER PRIMARY KEY,
        issuer_key BLOB NOT NULL {_KEY.format("issuer_key")},
        serial INTEGER NOT NULL,
        wallet_key BLOB NOT NULL {_KEY.format("wallet_key")},
        currency TEXT NOT NULL,
        limit_minor INTEGER NOT NULL CHECK (limit_minor >= 0),
        not_before INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        spent_minor INTEGER NOT NULL DEFAULT 0
            CHECK (spent_minor >= 0 AND spent_minor <= limit_minor),
        last_counter INTEGER CHECK (last_counter >= 1),
        chain_head BLOB,
        active INTEGER NOT NULL CHECK (active IN (0, 1)),
        allowance_hash BLOB NOT NULL UNIQUE,
        signed BLOB NOT NULL,
        imported_at INTEGER NOT NULL,
        UNIQUE (issuer_key, serial),
        CHECK ((last_counter IS NULL) = (chain_head IS NULL)),
        CHECK ((last_counter IS NULL) = (spent_minor = 0))
    ) STRICT""",
    "CREATE UNIQUE INDEX allowances_one_active ON allowances (currency) WHERE active = 1",
    f"""CREATE TABLE invoices (
        invoice_id BLOB PRIMARY KEY,
        payee_key BLOB NOT NULL {_KEY.format("payee_key")},
        amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
        currency TEXT NOT NULL,
        memo TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        invoice_hash BLOB NOT NULL UNIQUE,
        signed BLOB NOT NULL,
        recorded_at INTEGER NOT NULL
    ) STRICT""",
    f"""CREATE TABLE payments (
        invoice_id BLOB PRIMARY KEY REFERENCES invoices (invoice_id),
        {_ROLE},
        payer_key BLOB NOT NULL {_KEY.format("payer_key")},
        amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
        currency TEXT NOT NULL,
        counter INTEGER NOT NULL CHECK (counter >= 1),
        prev_hash BLOB,
        cumulative_minor INTEGER NOT NULL CHECK (cumulative_minor >= amount_minor),
        allowance_issuer BLOB NOT NULL,
        allowance_serial INTEGER NOT NULL,
        payment_hash BLOB NOT NULL UNIQUE,
        signed BLOB NOT NULL,
        recorded_at INTEGER NOT NULL,
        UNIQUE (allowance_issuer, allowance_serial, counter),
        CHECK ((counter = 1) = (prev_hash IS NULL))
    ) STRICT""",
    """CREATE TABLE receipts (
        invoice_id BLOB PRIMARY KEY REFERENCES payments (invoice_id),
        payment_hash BLOB NOT NULL REFERENCES payments (payment_hash),
        verdict INTEGER NOT NULL,
        issued_at INTEGER NOT NULL,
        receipt_hash BLOB NOT NULL UNIQUE,
        signed BLOB NOT NULL,
        recorded_at INTEGER NOT NULL
    ) STRICT""",
    f"""CREATE TABLE sessions (
        seq INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL UNIQUE,
        {_ROLE},
        state TEXT NOT NULL CHECK (state IN ('open', 'payment_persisted',
            'receipt_persisted', 'completed', 'resumable', 'failed')),
        invoice_id BLOB REFERENCES invoices (invoice_id),
        peer_key BLOB,
        peer_label TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        error_code INTEGER,
        detail TEXT NOT NULL,
        recovered INTEGER NOT NULL CHECK (recovered IN (0, 1))
    ) STRICT""",
    "CREATE INDEX sessions_by_invoice ON sessions (invoice_id, role)",
    "CREATE INDEX sessions_by_state ON sessions (state)",
    """CREATE TABLE session_events (
        seq INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions (session_id),
        at INTEGER NOT NULL,
        state TEXT NOT NULL,
        error_code INTEGER,
        detail TEXT NOT NULL
    ) STRICT""",
    "CREATE INDEX session_events_by_session ON session_events (session_id)",
    f"""CREATE TABLE counterparties (
        public_key BLOB PRIMARY KEY {_KEY.format("public_key")},
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        payments_in INTEGER NOT NULL DEFAULT 0 CHECK (payments_in >= 0),
        payments_out INTEGER NOT NULL DEFAULT 0 CHECK (payments_out >= 0)
    ) STRICT""",
    f"""CREATE TABLE outbox (
        invoice_id BLOB PRIMARY KEY REFERENCES payments (invoice_id),
        {_ROLE},
        status TEXT NOT NULL
            CHECK (status IN ('pending', 'sent', 'settled', 'rejected', 'fraud')),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        detail TEXT NOT NULL
    ) STRICT""",
    "CREATE INDEX outbox_by_status ON outbox (status)",
    """CREATE TABLE seen_chains (
        issuer_key BLOB NOT NULL,
        serial INTEGER NOT NULL,
        wallet_key BLOB NOT NULL,
        last_counter INTEGER NOT NULL CHECK (last_counter >= 1),
        last_hash BLOB NOT NULL,
        last_spent INTEGER NOT NULL CHECK (last_spent >= 0),
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (issuer_key, serial)
    ) STRICT""",
    f"""CREATE TABLE trusted_issuers (
        public_key BLOB PRIMARY KEY {_KEY.format("public_key")},
        label TEXT NOT NULL,
        added_at INTEGER NOT NULL
    ) STRICT""",
    "CREATE TABLE revoked_keys (public_key BLOB PRIMARY KEY, listed_at INTEGER NOT NULL) STRICT",
    """CREATE TABLE revocation_list (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL,
        fetched_at INTEGER NOT NULL,
        signed BLOB
    ) STRICT""",
)

_V2: tuple[str, ...] = (
    # The pinned ledger key (SPEC 4.1): trust lists are accepted only under its signature.
    f"""CREATE TABLE ledger_pin (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        public_key BLOB NOT NULL {_KEY.format("public_key")},
        url TEXT NOT NULL,
        how TEXT NOT NULL,
        pinned_at INTEGER NOT NULL
    ) STRICT""",
    # The last accepted signed issuer set (its exact COSE_Sign1 bytes and issued time).
    """CREATE TABLE issuer_set (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        issued INTEGER NOT NULL,
        signed BLOB NOT NULL
    ) STRICT""",
    # Revoked keys in the signed list's order, so a new list is checked against it.
    "ALTER TABLE revoked_keys ADD COLUMN position INTEGER NOT NULL DEFAULT 0",
    # Signed Aborts received after a payment: evidence a wallet uploads (store/aborts.py).
    """CREATE TABLE received_aborts (
        abort_hash BLOB PRIMARY KEY,
        invoice_id BLOB NOT NULL REFERENCES invoices (invoice_id),
        signed BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        uploaded_at INTEGER
    ) STRICT""",
)

_SESSIONS_V3 = f"""CREATE TABLE sessions_v3 (
        seq INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL UNIQUE,
        {_ROLE},
        state TEXT NOT NULL CHECK (state IN ('open', 'payment_persisted',
            'receipt_persisted', 'completed', 'resumable', 'failed', 'refused')),
        invoice_id BLOB REFERENCES invoices (invoice_id),
        peer_key BLOB,
        peer_label TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        error_code INTEGER,
        detail TEXT NOT NULL,
        recovered INTEGER NOT NULL CHECK (recovered IN (0, 1))
    ) STRICT"""

_REFUSED_IN_V2 = """role = 'payer' AND state = 'resumable' AND invoice_id IN (
    SELECT invoice_id FROM outbox WHERE role = 'payer' AND detail LIKE 'refused by the payee%')"""

_V3: tuple[str, ...] = (
    # A payer's session whose payment the payee refused with a signed Abort ends
    # 'refused' (terminal), never 'resumable'. SQLite cannot alter a CHECK: the table is
    # rebuilt (same columns, same order, same rows, same seq), then its indexes.
    _SESSIONS_V3,
    "INSERT INTO sessions_v3 SELECT * FROM sessions",
    "DROP TABLE sessions",
    "ALTER TABLE sessions_v3 RENAME TO sessions",
    "CREATE INDEX sessions_by_invoice ON sessions (invoice_id, role)",
    "CREATE INDEX sessions_by_state ON sessions (state)",
    # Sessions that ended 'resumable' for a payment the payee had refused (before this
    # version the outbox was the only place that said so) are refused too, and the audit
    # trail says when and why.
    f"""INSERT INTO session_events (session_id, at, state, error_code, detail)
        SELECT session_id, updated_at, 'refused', error_code, 'refused by the payee: ' ||
               'set by store migration 3' FROM sessions WHERE {_REFUSED_IN_V2} ORDER BY seq""",
    f"UPDATE sessions SET state = 'refused' WHERE {_REFUSED_IN_V2}",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3)
"""``MIGRATIONS[n]``: the statements from ``user_version`` n to n + 1. Append only."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The ``user_version`` this build writes and reads."""


def schema_version(db: Database) -> int:
    """The store's ``user_version``."""
    with db.read() as conn:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(db: Database) -> int:
    """Bring the store up to :data:`SCHEMA_VERSION`; return the version it started at."""
    start = schema_version(db)
    if start > SCHEMA_VERSION:
        raise StoreError(
            AppErrorCode.STORE_SCHEMA_TOO_NEW,
            f"store schema {start} is newer than this p2ppay ({SCHEMA_VERSION})",
        )
    if start < SCHEMA_VERSION and db.readonly:
        raise StoreError(
            AppErrorCode.STORE_SCHEMA_OUTDATED,
            f"store schema {start} needs migrating to {SCHEMA_VERSION}; open it for writing",
        )
    for version in range(start, SCHEMA_VERSION):
        with db.write(schema_change=True) as conn:
            # Re-read under the write lock: another opener may have migrated meanwhile.
            if conn.execute("PRAGMA user_version").fetchone()[0] != version:
                continue
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
    return start
