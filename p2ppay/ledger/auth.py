"""How the ledger checks a wallet's request signature (the signed bytes: :mod:`p2ppay.api.signing`).

Invariants:
- The ledger refuses a timestamp more than its window away from its clock, and a nonce it
  has seen from that key (stored in the database, so every ledger process sees it): a
  captured request cannot be replayed. Checking the signature needs no database.
- Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

from p2ppay.api.signing import (
    HEADER_KEY,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIME,
    NONCE_SIZE,
    request_message,
)
from p2ppay.errors import AppErrorCode
from p2ppay.ledger.errors import LedgerError

__all__ = ["SignedRequest", "check_request"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SignedRequest:
    """A request whose signature verified; its time and nonce are checked by the service."""

    public_key: bytes
    timestamp: int
    nonce: bytes


def _unauthenticated(why: str) -> LedgerError:
    return LedgerError(AppErrorCode.LEDGER_UNAUTHENTICATED, why)


def _hex(headers: Mapping[str, str], name: str, size: int) -> bytes:
    text = headers.get(name)
    if text is None:
        raise _unauthenticated(f"missing {name}")
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise _unauthenticated(f"{name} is not hex") from None
    if len(value) != size:
        raise _unauthenticated(f"{name} must be {size} bytes")
    return value


def check_request(
    headers: Mapping[str, str], *, method: str, path: str, body: bytes
) -> SignedRequest:
    """Verify the signature headers of a request (``LEDGER_UNAUTHENTICATED`` if not valid).

    ``headers`` must look names up case-insensitively (as Starlette's and httpx's do).
    """
    public = _hex(headers, HEADER_KEY, 32)
    nonce = _hex(headers, HEADER_NONCE, NONCE_SIZE)
    signature = _hex(headers, HEADER_SIGNATURE, 64)
    text = headers.get(HEADER_TIME, "")
    if not (text.isascii() and text.isdigit() and len(text) <= 12):
        raise _unauthenticated(f"{HEADER_TIME} must be Unix seconds")
    timestamp = int(text)
    try:
        VerifyKey(public).verify(request_message(method, path, timestamp, nonce, body), signature)
    except (CryptoError, ValueError):
        raise _unauthenticated("the signature does not verify") from None
    return SignedRequest(public_key=public, timestamp=timestamp, nonce=nonce)
