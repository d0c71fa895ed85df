"""The ledger's signed trust lists (issuer set, revocation list) and how a wallet updates them.

A payee's offline checks rest on two lists it learnt from the ledger: the allowance issuers
it trusts and the wallet keys it refuses. Both arrive as COSE_Sign1 documents signed by the
**ledger key**, which the wallet pinned out of band or at registration (SPEC section 4.1).

Invariants:
- :func:`open_list` returns a list only if it is a valid, correctly signed document of the
  kind asked for, not issued in the future (beyond the clock skew), and signed by the
  pinned ledger key (``TRUST_WRONG_LEDGER`` otherwise). A list signed by anyone else never
  reaches the store, whatever the transport did.
- A revocation list's ``version`` is its number of keys and keys are only appended, so
  :func:`check_revocation_update` accepts a new list only if its first ``cached.version``
  keys are exactly the cached keys (``TRUST_FORK``); a smaller version is a rollback
  (``TRUST_ROLLBACK``). A list with a huge version cannot be signed without listing that
  many keys, so no single answer can freeze the list: the ledger's next real list extends
  whatever the wallet cached from it.
- Neither list's ``issued`` time may go backwards (``TRUST_ISSUED_BACKWARDS``): an old
  signed answer replayed cannot make a stale list look fresh.
- Pure: time, the pinned key and the cached lists are arguments.
"""

from __future__ import annotations

from collections.abc import Iterable

from nacl.signing import SigningKey

from protocol.documents import IssuerSet, RevocationList
from protocol.errors import ErrorCode, RemoteProtocolError
from protocol.keys import public_key
from protocol.verify import MAX_CLOCK_SKEW, D, SignedDocument, sign, verify_as

__all__ = [
    "check_issuer_set_update",
    "check_revocation_update",
    "make_issuer_set",
    "make_revocation_list",
    "open_list",
]


def make_issuer_set(
    ledger_key: SigningKey, *, issuers: Iterable[bytes], now: int
) -> SignedDocument[IssuerSet]:
    """The ledger's issuer set at ``now`` (keys sorted and deduplicated here)."""
    doc = IssuerSet(ledger=public_key(ledger_key), issued=now, issuers=tuple(sorted(set(issuers))))
    return sign(ledger_key, doc)


def make_revocation_list(
    ledger_key: SigningKey, *, keys: Iterable[bytes], now: int
) -> SignedDocument[RevocationList]:
    """The ledger's revocation list at ``now``; ``keys`` in revocation order."""
    listed = tuple(keys)
    doc = RevocationList(
        ledger=public_key(ledger_key), issued=now, version=len(listed), keys=listed
    )
    return sign(ledger_key, doc)


def open_list(
    data: bytes, cls: type[D], *, ledger: bytes, now: int, skew: int = MAX_CLOCK_SKEW
) -> SignedDocument[D]:
    """Verify a trust list of kind ``cls`` signed by the pinned ``ledger`` key (module doc)."""
    opened = verify_as(data, cls, now=now, skew=skew)
    if opened.signer != ledger:
        raise RemoteProtocolError(
            ErrorCode.TRUST_WRONG_LEDGER, f"signed by {opened.signer.hex()[:16]}..."
        )
    return opened


def check_issuer_set_update(cached: IssuerSet | None, new: IssuerSet) -> None:
    """Raise unless ``new`` may replace ``cached`` (it must not be older)."""
    if cached is not None and new.issued < cached.issued:
        raise RemoteProtocolError(
            ErrorCode.TRUST_ISSUED_BACKWARDS, f"issued {new.issued} < cached {cached.issued}"
        )


def check_revocation_update(cached: RevocationList | None, new: RevocationList) -> None:
    """Raise unless ``new`` extends ``cached`` (module doc); an equal list passes."""
    if cached is None:
        return
    if new.version < cached.version:
        raise RemoteProtocolError(
            ErrorCode.TRUST_ROLLBACK, f"version {new.version} < cached {cached.version}"
        )
    if new.keys[: cached.version] != cached.keys:
        raise RemoteProtocolError(
            ErrorCode.TRUST_FORK, f"the first {cached.version} keys are not the cached list"
        )
    if new.issued < cached.issued:
        raise RemoteProtocolError(
            ErrorCode.TRUST_ISSUED_BACKWARDS, f"issued {new.issued} < cached {cached.issued}"
        )
