"""What a wallet trusts from its ledger: the pinned ledger key and the signed trust lists.

Invariants:
- Issuer keys and revocations enter the store only from an IssuerSet and a RevocationList
  signed by the **pinned** ledger key (SPEC 4.1) and passing the update rules of
  :mod:`protocol.trustlists` (no rollback, only extensions, ``issued`` not backwards).
  Anything else changes nothing and raises :class:`SyncError` with a stable code:

  ``SYNC_TRUST_UNSIGNED``       the answer has no signed lists
  ``SYNC_LEDGER_KEY_MISMATCH``  the answer names a ledger key other than the pinned one
  ``SYNC_TRUST_BAD_SIGNATURE``  a list is malformed or not signed by the pinned key
  ``SYNC_TRUST_ROLLBACK``       a smaller version than the cached list
  ``SYNC_TRUST_FORK``           the cached keys are not the new list's first keys
  ``SYNC_TRUST_STALE``          issued before the cached list (an old answer replayed)

- The pin is set by ``register`` (first use: its fingerprint is shown), by
  ``--ledger-key HEX`` / ``trust-ledger`` (out of band), or, for a wallet with no pin at
  all, by its first sync (first use, reported); once set it is never replaced silently.
- The cached list's age (risk limits, SPEC 7.1) counts from its signed ``issued`` time,
  clamped to the wallet's clock: replaying an old signed list never makes it look fresh.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from p2ppay.api import schemas
from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store import LedgerPin, Store
from p2ppay.sync.client import SyncError
from protocol.documents import IssuerSet, RevocationList
from protocol.errors import ErrorCode, ProtocolError
from protocol.trustlists import check_issuer_set_update, check_revocation_update, open_list
from protocol.verify import SignedDocument, open_as

__all__ = [
    "TrustUpdate",
    "VerifiedTrust",
    "apply_trust",
    "fingerprint",
    "parse_ledger_key",
    "pin_ledger",
    "verify_trust",
]

_CODES = {
    ErrorCode.TRUST_ROLLBACK: AppErrorCode.SYNC_TRUST_ROLLBACK,
    ErrorCode.TRUST_FORK: AppErrorCode.SYNC_TRUST_FORK,
    ErrorCode.TRUST_ISSUED_BACKWARDS: AppErrorCode.SYNC_TRUST_STALE,
}


def fingerprint(key: bytes) -> str:
    """A ledger key's fingerprint for people: SHA-256, first 16 bytes, in groups of 4 hex."""
    digest = hashlib.sha256(key).hexdigest()[:32]
    return ":".join(digest[i : i + 4] for i in range(0, 32, 4))


def parse_ledger_key(text: str) -> bytes:
    """A ``--ledger-key`` value: 64 hex digits (``BAD_KEY`` otherwise)."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise SyncError(AppErrorCode.BAD_KEY, "--ledger-key: the ledger key is 64 hex digits")
    return key


def pin_ledger(store: Store, key: bytes, *, url: str, how: str, now: int) -> LedgerPin:
    """Pin ``key``; a different key already pinned is ``SYNC_LEDGER_KEY_MISMATCH``."""
    try:
        return store.trust.pin_ledger(key, url=url, how=how, now=now)
    except StoreError as exc:
        raise SyncError(
            AppErrorCode.SYNC_LEDGER_KEY_MISMATCH,
            f"{exc.message}; the ledger answered {fingerprint(key)}. If the operator really "
            "changed its key, start from a new wallet home or check with the operator",
        ) from exc


@dataclass(frozen=True, kw_only=True)
class VerifiedTrust:
    """Both lists of one answer, verified and allowed to replace the cached ones."""

    ledger_key: bytes
    issuer_set: SignedDocument[IssuerSet]
    revocation_list: SignedDocument[RevocationList]


@dataclass(frozen=True, kw_only=True)
class TrustUpdate:
    """What :func:`apply_trust` did."""

    version: int
    issuers: int
    pinned_now: bool
    """True if this answer set the pin (first use)."""


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SyncError(AppErrorCode.SYNC_TRUST_BAD_SIGNATURE, "a list is not base64") from exc


def verify_trust(store: Store, trust: schemas.TrustOut | None, *, now: int) -> VerifiedTrust:
    """Check an answer's lists against the pin and the cached lists; write nothing."""
    if trust is None:
        raise SyncError(AppErrorCode.SYNC_TRUST_UNSIGNED, "the answer has no signed lists")
    answered = bytes.fromhex(trust.ledger_key)
    pin = store.trust.ledger_pin()
    ledger = answered if pin is None else pin.public_key
    if answered != ledger:
        raise SyncError(
            AppErrorCode.SYNC_LEDGER_KEY_MISMATCH,
            f"the ledger answered with key {fingerprint(answered)}, "
            f"pinned is {fingerprint(ledger)}",
        )
    try:
        issuer_set = open_list(_b64(trust.issuer_set), IssuerSet, ledger=ledger, now=now)
        revocations = open_list(_b64(trust.revocation_list), RevocationList, ledger=ledger, now=now)
    except ProtocolError as exc:
        raise SyncError(AppErrorCode.SYNC_TRUST_BAD_SIGNATURE, str(exc)) from exc
    cached_set = store.trust.signed_issuer_set()
    cached_list = store.trust.signed_revocation_list()
    try:
        check_issuer_set_update(
            None if cached_set is None else open_as(cached_set, IssuerSet).doc, issuer_set.doc
        )
        check_revocation_update(
            None if cached_list is None else open_as(cached_list, RevocationList).doc,
            revocations.doc,
        )
    except ProtocolError as exc:
        code = _CODES.get(exc.code, AppErrorCode.SYNC_TRUST_BAD_SIGNATURE)
        raise SyncError(code, str(exc)) from exc
    return VerifiedTrust(ledger_key=ledger, issuer_set=issuer_set, revocation_list=revocations)


def apply_trust(store: Store, verified: VerifiedTrust, *, url: str, now: int) -> TrustUpdate:
    """Pin the key on first use, then store both lists (one transaction)."""
    pinned_now = store.trust.ledger_pin() is None
    if pinned_now:
        pin_ledger(store, verified.ledger_key, url=url, how="first sync", now=now)
    listed = verified.revocation_list.doc
    store.trust.store_signed(
        issuers=verified.issuer_set.doc.issuers,
        issuer_set=verified.issuer_set.raw,
        issued=verified.issuer_set.doc.issued,
        revoked=listed.keys,
        revocation_list=verified.revocation_list.raw,
        version=listed.version,
        as_of=min(now, listed.issued),
        now=now,
    )
    return TrustUpdate(
        version=listed.version,
        issuers=len(verified.issuer_set.doc.issuers),
        pinned_now=pinned_now,
    )
