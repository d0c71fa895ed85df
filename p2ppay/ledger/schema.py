"""The ledger schema: an append-only list of migrations, run the same way on both databases.

Each migration is written once with three type holes (``{bytes}``, ``{int}``, ``{id}``)
filled per dialect. ``ledger_schema`` holds the version; a migration and its version bump
commit together, so a crash leaves the previous version and the next start runs it again.
On PostgreSQL an advisory lock makes concurrent starts of several ledger processes migrate
once.

Tables (amounts are integer minor units, keys raw bytes, times Unix seconds):
- ``accounts``: one per wallet key (``wallet_id`` is derived from the key).
- ``balances``: per account and currency: ``balance`` (spendable, >= 0), ``reserve`` (locked
  for offline allowances, >= 0), ``claims`` (what the account owes after a double spend,
  <= 0) and ``held`` (credit for payments nothing backs yet, >= 0, never spendable).
  Conservation: the sum of the four over all accounts equals deposits minus withdrawals
  (``movements``), in every currency, always; and ``sum(held) = -sum(claims)`` (every unit
  owed is held by exactly one creditor, ``debts``), so spendable money
  (``balance + reserve``) is always backed by deposits.
- ``debts``: the unbacked part of a payment, owed by the payer to whoever holds it.
- ``allowances``: issued allowances; ``serial`` is the row id; ``reserve_left`` is what the
  allowance can still pay from the reserve; ``released`` once the rest went back.
- ``settlements``: one row per settled payment (unique payment hash), with the bundle.
- ``fraud_proofs`` and ``revocations``: double spends found and the keys revoked for them.
- ``nonces``: request nonces seen per wallet key within the clock window (replay refusal).
- ``ledger_keys``: the issuer seed, created once by whichever process starts first.
"""

from __future__ import annotations

from p2ppay.errors import AppErrorCode
from p2ppay.ledger.database import Database, Tx
from p2ppay.ledger.errors import LedgerError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]

_V1: tuple[str, ...] = (
    """CREATE TABLE ledger_keys (
        name TEXT PRIMARY KEY,
        secret {bytes} NOT NULL
    )""",
    """CREATE TABLE accounts (
        id {id},
        public_key {bytes} NOT NULL UNIQUE,
        wallet_id TEXT NOT NULL UNIQUE,
        created_at {int} NOT NULL
    )""",
    """CREATE TABLE balances (
        account_id {int} NOT NULL REFERENCES accounts (id),
        currency TEXT NOT NULL,
        balance {int} NOT NULL DEFAULT 0 CHECK (balance >= 0),
        reserve {int} NOT NULL DEFAULT 0 CHECK (reserve >= 0),
        claims {int} NOT NULL DEFAULT 0 CHECK (claims <= 0),
        PRIMARY KEY (account_id, currency)
    )""",
    """CREATE TABLE movements (
        id {id},
        account_id {int} NOT NULL REFERENCES accounts (id),
        currency TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('deposit', 'withdrawal')),
        amount {int} NOT NULL CHECK (amount > 0),
        at {int} NOT NULL
    )""",
    """CREATE TABLE allowances (
        id {id},
        account_id {int} NOT NULL REFERENCES accounts (id),
        currency TEXT NOT NULL,
        limit_minor {int} NOT NULL CHECK (limit_minor > 0),
        reserve_left {int} NOT NULL CHECK (reserve_left >= 0 AND reserve_left <= limit_minor),
        not_before {int} NOT NULL,
        not_after {int} NOT NULL,
        released {int} NOT NULL DEFAULT 0 CHECK (released IN (0, 1)),
        signed {bytes} NOT NULL,
        created_at {int} NOT NULL
    )""",
    "CREATE INDEX allowances_to_release ON allowances (released, not_after)",
    """CREATE TABLE settlements (
        seq {id},
        payment_hash {bytes} NOT NULL UNIQUE,
        invoice_id {bytes} NOT NULL,
        allowance_id {int} NOT NULL REFERENCES allowances (id),
        counter {int} NOT NULL,
        payer_account {int} NOT NULL REFERENCES accounts (id),
        payee_account {int} NOT NULL REFERENCES accounts (id),
        currency TEXT NOT NULL,
        amount {int} NOT NULL CHECK (amount > 0),
        covered {int} NOT NULL CHECK (covered >= 0),
        claimed {int} NOT NULL CHECK (claimed >= 0 AND covered + claimed = amount),
        fraud {int} NOT NULL CHECK (fraud IN (0, 1)),
        payment {bytes} NOT NULL,
        bundle {bytes} NOT NULL,
        settled_at {int} NOT NULL
    )""",
    "CREATE INDEX settlements_by_chain ON settlements (allowance_id, counter)",
    "CREATE INDEX settlements_by_payer ON settlements (payer_account)",
    "CREATE INDEX settlements_by_payee ON settlements (payee_account)",
    """CREATE TABLE fraud_proofs (
        id {id},
        allowance_id {int} NOT NULL REFERENCES allowances (id),
        counter {int} NOT NULL,
        payer_key {bytes} NOT NULL,
        first {bytes} NOT NULL,
        second {bytes} NOT NULL,
        found_at {int} NOT NULL,
        UNIQUE (first, second)
    )""",
    """CREATE TABLE revocations (
        public_key {bytes} PRIMARY KEY,
        revoked_at {int} NOT NULL,
        proof_id {int} NOT NULL REFERENCES fraud_proofs (id)
    )""",
    """CREATE TABLE nonces (
        public_key {bytes} NOT NULL,
        nonce {bytes} NOT NULL,
        at {int} NOT NULL,
        PRIMARY KEY (public_key, nonce)
    )""",
    "CREATE INDEX nonces_by_time ON nonces (at)",
)

_V2: tuple[str, ...] = (
    # held: credit a payee got for a payment nothing backed yet (never spendable).
    "ALTER TABLE balances ADD COLUMN held {int} NOT NULL DEFAULT 0 CHECK (held >= 0)",
    # The chain facts the consistency rules need, per settled payment.
    "ALTER TABLE settlements ADD COLUMN spent {int} NOT NULL DEFAULT 0",
    "ALTER TABLE settlements ADD COLUMN prev {bytes}",
    # debts: who owes whom the unbacked part of a payment; repaid oldest first.
    """CREATE TABLE debts (
        id {id},
        debtor_account {int} NOT NULL REFERENCES accounts (id),
        creditor_account {int} NOT NULL REFERENCES accounts (id),
        currency TEXT NOT NULL,
        amount {int} NOT NULL CHECK (amount > 0),
        open_amount {int} NOT NULL CHECK (open_amount >= 0 AND open_amount <= amount),
        payment_hash {bytes} NOT NULL,
        created_at {int} NOT NULL
    )""",
    "CREATE INDEX debts_by_debtor ON debts (debtor_account, currency, open_amount)",
    "CREATE INDEX debts_by_creditor ON debts (creditor_account, currency, open_amount)",
    # Operator decisions releasing held money from the guarantee account (a log).
    """CREATE TABLE held_releases (
        id {id},
        account_id {int} NOT NULL REFERENCES accounts (id),
        currency TEXT NOT NULL,
        amount {int} NOT NULL CHECK (amount > 0),
        reason TEXT NOT NULL,
        at {int} NOT NULL
    )""",
    # Revocations without a fraud proof (lost or stolen wallets): by the wallet or an admin.
    """CREATE TABLE key_revocations (
        public_key {bytes} PRIMARY KEY,
        revoked_at {int} NOT NULL,
        reason TEXT NOT NULL
    )""",
    # Every receipt and abort the ledger was shown, refusals included (equivocation).
    """CREATE TABLE verdicts (
        payment_hash {bytes} NOT NULL,
        payee_key {bytes} NOT NULL,
        verdict {int} NOT NULL,
        receipt {bytes} NOT NULL,
        seen_at {int} NOT NULL,
        PRIMARY KEY (payment_hash, verdict)
    )""",
    # Bundles refused for a rule they break on their own (by SHA-256 of their bytes).
    """CREATE TABLE refused_bundles (
        bundle_hash {bytes} PRIMARY KEY,
        error TEXT NOT NULL,
        code {int} NOT NULL,
        message TEXT NOT NULL,
        at {int} NOT NULL
    )""",
)

_V3: tuple[str, ...] = (
    # Bundles per wallet key per minute (the rate limit, shared by every ledger process).
    """CREATE TABLE rate_windows (
        public_key {bytes} NOT NULL,
        minute {int} NOT NULL,
        bundles {int} NOT NULL,
        PRIMARY KEY (public_key, minute)
    )""",
    # Every abort the ledger is shown (a payee's abort naming a payment it also accepted is
    # an equivocation).
    """CREATE TABLE aborts (
        abort_hash {bytes} PRIMARY KEY,
        sender {bytes} NOT NULL,
        invoice {bytes},
        payment {bytes},
        abort {bytes} NOT NULL,
        seen_at {int} NOT NULL
    )""",
    "CREATE INDEX aborts_by_payment ON aborts (payment)",
    # Settled links of a chain by their intervals' upper ends (overlap look-ups).
    "CREATE INDEX settlements_by_spent ON settlements (allowance_id, spent)",
)

_V4: tuple[str, ...] = (
    # The revocation list's order (SPEC 4.1: append-only, version = number of keys): each
    # revoked key's position, handed out in commit order (p2ppay/ledger/trustlists.py).
    """CREATE TABLE revocation_order (
        position {int} PRIMARY KEY,
        public_key {bytes} NOT NULL UNIQUE,
        at {int} NOT NULL
    )""",
    """INSERT INTO revocation_order (position, public_key, at)
        SELECT ROW_NUMBER() OVER (ORDER BY first_at, public_key), public_key, first_at
        FROM (SELECT public_key, MIN(revoked_at) AS first_at FROM (
                SELECT public_key, revoked_at FROM revocations
                UNION ALL SELECT public_key, revoked_at FROM key_revocations) AS listed
              GROUP BY public_key) AS firsts""",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4)
"""``MIGRATIONS[n]`` takes the schema from version n to n + 1. Append only."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this build writes and reads."""

_TYPES = {
    "sqlite": {"bytes": "BLOB", "int": "INTEGER", "id": "INTEGER PRIMARY KEY"},
    "postgresql": {"bytes": "BYTEA", "int": "BIGINT", "id": "BIGSERIAL PRIMARY KEY"},
}

# Any constant: the advisory lock that serialises migrations across ledger processes.
_MIGRATION_LOCK = 0x70327070


async def _version(tx: Tx) -> int:
    await tx.execute(
        "CREATE TABLE IF NOT EXISTS ledger_schema "
        "(id INTEGER PRIMARY KEY, version INTEGER NOT NULL)"
    )
    await tx.execute(
        "INSERT INTO ledger_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING"
    )
    row = await tx.fetchone("SELECT version FROM ledger_schema WHERE id = 1")
    assert row is not None
    return int(row[0])


async def migrate(db: Database) -> int:
    """Bring the database to :data:`SCHEMA_VERSION`; return the version it started at."""
    start: int | None = None
    while True:
        async with db.transaction() as tx:
            if tx.dialect == "postgresql":
                await tx.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            version = await _version(tx)
            if start is None:
                start = version
            if version > SCHEMA_VERSION:
                raise LedgerError(
                    AppErrorCode.LEDGER_SCHEMA_TOO_NEW,
                    f"ledger schema {version} is newer than this build ({SCHEMA_VERSION})",
                )
            if version == SCHEMA_VERSION:
                return start
            for statement in MIGRATIONS[version]:
                await tx.execute(statement.format(**_TYPES[tx.dialect]))
            await tx.execute("UPDATE ledger_schema SET version = $1 WHERE id = 1", version + 1)
