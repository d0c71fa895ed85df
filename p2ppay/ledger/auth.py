"""Wallet request signatures: what a wallet signs, and how the ledger checks it.

A wallet signs every request with its Ed25519 key. The signed message is::

    b"p2ppay-ledger-request-v1\\n" METHOD "\\n" PATH "\\n" TIMESTAMP "\\n" NONCE_HEX "\\n"
    SHA256(BODY)

and travels in four headers: ``X-P2PPay-Key`` (64 hex), ``X-P2PPay-Time`` (Unix seconds,
decimal), ``X-P2PPay-Nonce`` (32 hex: 16 random bytes) and ``X-P2PPay-Signature`` (128 hex).

Invariants:
- The signature covers the method, the path (with query), the time, the nonce and the body's
  hash, under a domain-separating prefix, so no part can be swapped or reused elsewhere.
- The ledger refuses a timestamp more than its window away from its clock, and a nonce it
  has seen from that key (stored in the database, so every ledger process sees it): a
  captured request cannot be replayed. Checking the signature needs no database.
- Pure: no clock (the time is an argument), no I/O. Used by the sync client and the service.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

from nacl.exceptions import CryptoError
from nacl.signing import SigningKey, VerifyKey

from p2ppay.errors import AppErrorCode
from p2ppay.ledger.errors import LedgerError

__all__ = [
    "HEADER_KEY",
    "HEADER_NONCE",
    "HEADER_SIGNATURE",
    "HEADER_TIME",
    "SignedRequest",
    "check_request",
    "sign_request",
]

HEADER_KEY = "X-P2PPay-Key"
HEADER_TIME = "X-P2PPay-Time"
HEADER_NONCE = "X-P2PPay-Nonce"
HEADER_SIGNATURE = "X-P2PPay-Signature"

_DOMAIN = b"p2ppay-ledger-request-v1\n"
_NONCE_SIZE = 16


@dataclass(frozen=True, kw_only=True, slots=True)
class SignedRequest:
    """A request whose signature verified; its time and nonce are checked by the service."""

    public_key: bytes
    timestamp: int
    nonce: bytes


def _message(method: str, path: str, timestamp: int, nonce: bytes, body: bytes) -> bytes:
    return b"\n".join(
        (
            _DOMAIN + method.upper().encode("ascii"),
            path.encode("utf-8"),
            str(timestamp).encode("ascii"),
            nonce.hex().encode("ascii"),
            hashlib.sha256(body).digest(),
        )
    )


def sign_request(
    key: SigningKey,
    *,
    method: str,
    path: str,
    body: bytes,
    now: int,
    nonce: bytes | None = None,
) -> dict[str, str]:
    """The four headers that authenticate this request as the wallet of ``key``."""
    nonce = os.urandom(_NONCE_SIZE) if nonce is None else nonce
    signature = key.sign(_message(method, path, now, nonce, body)).signature
    return {
        HEADER_KEY: bytes(key.verify_key).hex(),
        HEADER_TIME: str(now),
        HEADER_NONCE: nonce.hex(),
        HEADER_SIGNATURE: signature.hex(),
    }


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
    nonce = _hex(headers, HEADER_NONCE, _NONCE_SIZE)
    signature = _hex(headers, HEADER_SIGNATURE, 64)
    text = headers.get(HEADER_TIME, "")
    if not (text.isascii() and text.isdigit() and len(text) <= 12):
        raise _unauthenticated(f"{HEADER_TIME} must be Unix seconds")
    timestamp = int(text)
    try:
        VerifyKey(public).verify(_message(method, path, timestamp, nonce, body), signature)
    except (CryptoError, ValueError):
        raise _unauthenticated("the signature does not verify") from None
    return SignedRequest(public_key=public, timestamp=timestamp, nonce=nonce)
