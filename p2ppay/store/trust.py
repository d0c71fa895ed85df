"""Trust anchors the payee checks offline: issuer keys and the cached revocation list.

Invariants:
- The revocation list is replaced as a whole, in one transaction, and only by a newer
  version (or, when signed, the same version issued again): a stale list from an old sync
  can never un-revoke a key. Its keys keep the signed list's order (``position``).
- The pinned ledger key (SPEC 4.1) is set once; :meth:`Trust.store_signed` writes the
  signed issuer set and revocation list a sync verified (p2ppay/sync/trust.py) in one
  transaction, so a wallet never holds half of an answer. This module checks no signature:
  the caller verified them; it keeps the exact signed bytes for audit.
- Reads return frozensets, the shape ``protocol``'s acceptance functions take.
"""

from __future__ import annotations

from collections.abc import Iterable

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store.connection import Database
from p2ppay.store.records import LedgerPin, RevocationInfo, TrustedIssuer

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
            if row is not None and (version < row[0] or (version == row[0] and signed is None)):
                raise StoreError(
                    AppErrorCode.STORE_CONFLICT,
                    f"revocation list version {version} is not newer than {row[0]}",
                )
            ordered = list(dict.fromkeys(keys))
            conn.execute("DELETE FROM revoked_keys")
            conn.executemany(
                "INSERT INTO revoked_keys (public_key, listed_at, position) VALUES (?, ?, ?)",
                [(k, now, i) for i, k in enumerate(ordered, start=1)],
            )
            conn.execute(
                "INSERT INTO revocation_list (id, version, fetched_at, signed) "
                "VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
                "fetched_at = excluded.fetched_at, signed = excluded.signed",
                (version, now, signed),
            )
        return RevocationInfo(version=version, fetched_at=now, count=len(unique))

    def revoked_in_order(self) -> tuple[bytes, ...]:
        """The cached revoked keys in the signed list's order."""
        with self._db.read() as conn:
            rows = conn.execute("SELECT public_key FROM revoked_keys ORDER BY position").fetchall()
        return tuple(k for (k,) in rows)

    def signed_revocation_list(self) -> bytes | None:
        """The exact signed bytes of the cached revocation list (None: unsigned or none)."""
        with self._db.read() as conn:
            row = conn.execute("SELECT signed FROM revocation_list WHERE id = 1").fetchone()
        return None if row is None else row[0]

    def signed_issuer_set(self) -> bytes | None:
        """The exact signed bytes of the last accepted issuer set."""
        with self._db.read() as conn:
            row = conn.execute("SELECT signed FROM issuer_set WHERE id = 1").fetchone()
        return None if row is None else row[0]

    def ledger_pin(self) -> LedgerPin | None:
        """The pinned ledger key, if any."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT public_key, url, how, pinned_at FROM ledger_pin WHERE id = 1"
            ).fetchone()
        if row is None:
            return None
        return LedgerPin(public_key=row[0], url=row[1], how=row[2], pinned_at=row[3])

    def pin_ledger(self, public_key: bytes, *, url: str, how: str, now: int) -> LedgerPin:
        """Pin ``public_key`` as the ledger key; the same key again only updates the URL.
        Another key while one is pinned is ``STORE_CONFLICT`` (the caller names the fix)."""
        _check_key(public_key)
        with self._db.write() as conn:
            row = conn.execute("SELECT public_key FROM ledger_pin WHERE id = 1").fetchone()
            if row is not None and row[0] != public_key:
                raise StoreError(
                    AppErrorCode.STORE_CONFLICT,
                    f"another ledger key is pinned ({bytes(row[0]).hex()[:16]}...)",
                )
            conn.execute(
                "INSERT INTO ledger_pin (id, public_key, url, how, pinned_at) "
                "VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET url = excluded.url",
                (public_key, url, how, now),
            )
        pin = self.ledger_pin()
        assert pin is not None
        return pin

    def store_signed(
        self,
        *,
        issuers: Iterable[bytes],
        issuer_set: bytes,
        issued: int,
        revoked: Iterable[bytes],
        revocation_list: bytes,
        version: int,
        as_of: int,
        now: int,
    ) -> None:
        """Keep a verified issuer set and revocation list (module doc), in one transaction.

        ``issuers`` become the ledger-labelled trusted issuers (a key the ledger dropped is
        no longer trusted; keys the user trusted by hand stay); ``as_of`` is the list's
        signed ``issued`` time (its age counts from there)."""
        issuer_keys = list(issuers)
        for key in issuer_keys:
            _check_key(key)
        with self._db.write() as conn:
            conn.execute("DELETE FROM trusted_issuers WHERE label = 'ledger'")
            conn.executemany(
                "INSERT INTO trusted_issuers (public_key, label, added_at) VALUES (?, 'ledger', ?) "
                "ON CONFLICT (public_key) DO NOTHING",
                [(k, now) for k in issuer_keys],
            )
            conn.execute(
                "INSERT INTO issuer_set (id, issued, signed) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET issued = excluded.issued, signed = excluded.signed",
                (issued, issuer_set),
            )
            ordered = list(revoked)
            conn.execute("DELETE FROM revoked_keys")
            conn.executemany(
                "INSERT INTO revoked_keys (public_key, listed_at, position) VALUES (?, ?, ?)",
                [(k, now, i) for i, k in enumerate(ordered, start=1)],
            )
            conn.execute(
                "INSERT INTO revocation_list (id, version, fetched_at, signed) "
                "VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
                "fetched_at = excluded.fetched_at, signed = excluded.signed",
                (version, as_of, revocation_list),
            )

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
