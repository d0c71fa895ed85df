"""Wallet request signatures: the exact bytes a wallet signs for a ledger request.

A wallet signs every request with its Ed25519 key. The signed message is::

    b"p2ppay-ledger-request-v1\\n" METHOD "\\n" PATH "\\n" TIMESTAMP "\\n" NONCE_HEX "\\n"
    SHA256(BODY)

and travels in four headers: ``X-P2PPay-Key`` (64 hex), ``X-P2PPay-Time`` (Unix seconds,
decimal), ``X-P2PPay-Nonce`` (32 hex: 16 random bytes) and ``X-P2PPay-Signature`` (128 hex).

Invariants:
- The signature covers the method, the path (with query), the time, the nonce and the body's
  hash, under a domain-separating prefix, so no part can be swapped or reused elsewhere.
- Pure: no clock (the time is an argument), no I/O. The sync client signs with
  :func:`sign_request`; the ledger (:mod:`p2ppay.ledger.auth`) checks with
  :func:`request_message`, so both sides build the same bytes from one function.
"""

from __future__ import annotations

import hashlib
import os

from nacl.signing import SigningKey

__all__ = [
    "HEADER_KEY",
    "HEADER_NONCE",
    "HEADER_SIGNATURE",
    "HEADER_TIME",
    "NONCE_SIZE",
    "request_message",
    "sign_request",
]

HEADER_KEY = "X-P2PPay-Key"
HEADER_TIME = "X-P2PPay-Time"
HEADER_NONCE = "X-P2PPay-Nonce"
HEADER_SIGNATURE = "X-P2PPay-Signature"

_DOMAIN = b"p2ppay-ledger-request-v1\n"
NONCE_SIZE = 16
"""Bytes of randomness in a request's nonce."""


def request_message(method: str, path: str, timestamp: int, nonce: bytes, body: bytes) -> bytes:
    """The bytes a wallet signs for one request."""
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
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    signature = key.sign(request_message(method, path, now, nonce, body)).signature
    return {
        HEADER_KEY: bytes(key.verify_key).hex(),
        HEADER_TIME: str(now),
        HEADER_NONCE: nonce.hex(),
        HEADER_SIGNATURE: signature.hex(),
    }
