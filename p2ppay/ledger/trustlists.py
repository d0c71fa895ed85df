"""The ledger's published trust: the revocation list's order, and signing both lists.

Invariants:
- A revoked key gets the next ``position`` in ``revocation_order`` and keeps it for good;
  the list is read in position order, so every list the ledger ever publishes is a prefix
  of every later one (SPEC 4.1: version = number of keys, append-only).
- Positions follow commit order: on PostgreSQL, appending takes a transaction-scoped
  advisory lock, so two ledger processes never hand out positions that commit out of order
  (a reader could otherwise see position 6 without 5 and publish a list that later
  "forks"); SQLite serialises whole write transactions anyway.
- Both lists are signed with the ledger key (= the issuer key, see LEDGER.md) by
  :class:`TrustSigner`, which reuses a signed copy for up to ``max_age`` seconds while the
  content is unchanged, so a busy ledger does not sign a large list per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nacl.signing import SigningKey

from p2ppay.ledger.database import Tx
from protocol.documents import IssuerSet, RevocationList
from protocol.trustlists import make_issuer_set, make_revocation_list
from protocol.verify import SignedDocument

__all__ = ["SignedTrust", "TrustSigner", "append_revocation", "revoked_in_order"]

_APPEND_LOCK = 0x70327072
"""Any constant: the advisory lock that orders revocation appends across processes."""

DEFAULT_MAX_AGE = 30
"""Seconds a signed copy of unchanged lists is reused."""


async def append_revocation(tx: Tx, key: bytes, *, now: int) -> None:
    """Give ``key`` the next position on the revocation list (idempotent)."""
    if tx.dialect == "postgresql":
        await tx.execute("SELECT pg_advisory_xact_lock($1)", _APPEND_LOCK)
    await tx.execute(
        "INSERT INTO revocation_order (position, public_key, at) "
        # "WHERE true": SQLite's parser needs it between a SELECT and ON CONFLICT.
        "SELECT COALESCE(MAX(position), 0) + 1, $1, $2 FROM revocation_order WHERE true "
        "ON CONFLICT (public_key) DO NOTHING",
        key,
        now,
    )


async def revoked_in_order(tx: Tx) -> tuple[bytes, ...]:
    """Every revoked key, in revocation order."""
    rows = await tx.fetch("SELECT public_key FROM revocation_order ORDER BY position")
    return tuple(bytes(r[0]) for r in rows)


@dataclass(frozen=True, kw_only=True)
class SignedTrust:
    """The two signed lists, as a sync answer and ``GET /v1/trust`` carry them."""

    ledger_key: bytes
    issuer_set: SignedDocument[IssuerSet]
    revocation_list: SignedDocument[RevocationList]


class TrustSigner:
    """Signs the issuer set and the revocation list, reusing a recent copy (module doc)."""

    def __init__(
        self,
        key: SigningKey,
        *,
        issuers: tuple[bytes, ...],
        clock: Callable[[], int],
        max_age: int = DEFAULT_MAX_AGE,
    ) -> None:
        self._key = key
        self._issuers = issuers
        self._clock = clock
        self._max_age = max_age
        self._cached: SignedTrust | None = None

    def sign(self, revoked: tuple[bytes, ...]) -> SignedTrust:
        """The lists for ``revoked`` (in revocation order), issued now or recently."""
        now = self._clock()
        cached = self._cached
        if (
            cached is not None
            and cached.revocation_list.doc.keys == revoked
            and 0 <= now - cached.revocation_list.doc.issued <= self._max_age
        ):
            return cached
        signed = SignedTrust(
            ledger_key=bytes(self._key.verify_key),
            issuer_set=make_issuer_set(self._key, issuers=self._issuers, now=now),
            revocation_list=make_revocation_list(self._key, keys=revoked, now=now),
        )
        self._cached = signed
        return signed
