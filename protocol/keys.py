"""Keys, key ids and document hashes.

Invariants:
- Private keys are ``nacl.signing.SigningKey`` objects; public keys travel and are stored as
  raw 32-byte Ed25519 values (``bytes``), never as objects, so documents, stores and JSON
  vectors hold the same thing.
- ``kid`` = the first 16 bytes of SHA-256(public key). It only selects a key: the full
  public key is always in the signed payload and is what the signature is checked with.
- A document's hash is SHA-256 over its exact COSE_Sign1 bytes (tag included). Because
  decoding accepts only the deterministic encoding, one document has one hash.
"""

from __future__ import annotations

import hashlib

from nacl.signing import SigningKey

__all__ = [
    "HASH_SIZE",
    "KID_SIZE",
    "PUBLIC_KEY_SIZE",
    "SEED_SIZE",
    "document_hash",
    "key_id",
    "public_key",
    "signing_key_from_seed",
]

PUBLIC_KEY_SIZE = 32
"""Bytes in an Ed25519 public key."""

SEED_SIZE = 32
"""Bytes in an Ed25519 private seed."""

KID_SIZE = 16
"""Bytes in a key id (truncated SHA-256 of the public key)."""

HASH_SIZE = 32
"""Bytes in a document hash (SHA-256)."""


def key_id(public: bytes) -> bytes:
    """The COSE ``kid`` of a raw Ed25519 public key: SHA-256(public)[:16]."""
    return hashlib.sha256(public).digest()[:KID_SIZE]


def public_key(signing_key: SigningKey) -> bytes:
    """The raw 32-byte public key of ``signing_key``."""
    return bytes(signing_key.verify_key)


def signing_key_from_seed(seed: bytes) -> SigningKey:
    """A signing key from its 32-byte seed (for wallets on disk and test vectors)."""
    return SigningKey(seed)


def document_hash(data: bytes) -> bytes:
    """SHA-256 of a document's exact COSE_Sign1 bytes."""
    return hashlib.sha256(data).digest()
