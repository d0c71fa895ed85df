"""Trust anchors the payee checks offline: issuer keys and the cached revocation list.

Invariants:
- The revocation list is replaced as a whole, in one transaction, and only by a newer
  version: a stale list from an old sync can never un-revoke a key.
- Reads return frozensets, the shape ``protocol``'s acceptance functions take.
"""

from __future__ import annotations

from collections.abc import Iterable

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store.connection import Database
from p2ppay.store.records import RevocationInfo, TrustedIssuer

__all__ = ["Trust"]


def _check_key(key: bytes) -> None:
    if len(key) != 32:
        raise StoreError(AppErrorCode.STORE_INTEGRITY, "an Ed25519 public key is 32 bytes")


class Trust:
    """Trusted issuer keys and revoked wallet keys."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add_issuer(self, public_key: bytes, *, now: int, label: str = "") -> TrustedIssuer:
        """Trust ``public_key`` as an allowance issuer (idempotent; a new label replaces)."""
        _check_key(public_key)
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO trusted_issuers (public_key, label, added_at) VALUES (?, ?, ?) "
                "ON CONFLICT (public_key) DO UPDATE SET label = CASE WHEN excluded.label = '' "
                "THEN label ELSE excluded.label END",
                (public_key, label, now),
            )
            row = conn.execute(
                "SELECT label, added_at FROM trusted_issuers WHERE public_key = ?", (public_key,)
            ).fetchone()
        return TrustedIssuer(public_key=public_key, label=row[0], added_at=row[1])

    def remove_issuer(self, public_key: bytes) -> bool:
        """Stop trusting an issuer; True if it was trusted."""
        with self._db.write() as conn:
            cursor = conn.execute("DELETE FROM trusted_issuers WHERE public_key = ?", (public_key,))
            return cursor.rowcount > 0

    def issuers(self) -> list[TrustedIssuer]:
        """Every trusted issuer, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT public_key, label, added_at FROM trusted_issuers ORDER BY added_at, rowid"
            ).fetchall()
        return [TrustedIssuer(public_key=k, label=lbl, added_at=at) for k, lbl, at in rows]

    def issuer_keys(self) -> frozenset[bytes]:
        """The trusted issuer keys, for the offline acceptance check."""
        return frozenset(i.public_key for i in self.issuers())

    def replace_revocations(
        self, keys: Iterable[bytes], *, version: int, now: int, signed: bytes | None = None
    ) -> RevocationInfo:
        """Replace the cached list with ``keys`` if ``version`` is newer than the cached one."""
        unique = frozenset(keys)
        with self._db.write() as conn:
            row = conn.execute("SELECT version FROM revocation_list WHERE id = 1").fetchone()
            if row is not None and version <= row[0]:
                raise StoreError(
                    AppErrorCode.STORE_CONFLICT,
                    f"revocation list version {version} is not newer than {row[0]}",
                )
            conn.execute("DELETE FROM revoked_keys")
            conn.executemany(
                "INSERT INTO revoked_keys (public_key, listed_at) VALUES (?, ?)",
                [(k, now) for k in sorted(unique)],
            )
            conn.execute(
                "INSERT INTO revocation_list (id, version, fetched_at, signed) "
                "VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
                "fetched_at = excluded.fetched_at, signed = excluded.signed",
                (version, now, signed),
            )
        return RevocationInfo(version=version, fetched_at=now, count=len(unique))

    def revoked_keys(self) -> frozenset[bytes]:
        """The cached revoked wallet keys."""
        with self._db.read() as conn:
            rows = conn.execute("SELECT public_key FROM revoked_keys").fetchall()
        return frozenset(k for (k,) in rows)

    def revocation_info(self) -> RevocationInfo | None:
        """Which list is cached, if any."""
        with self._db.read() as conn:
            row = conn.execute("SELECT version, fetched_at FROM revocation_list").fetchone()
            count = conn.execute("SELECT count(*) FROM revoked_keys").fetchone()[0]
        if row is None:
            return None
        return RevocationInfo(version=row[0], fetched_at=row[1], count=count)
