"""The wallet id: a name for a public key that people can read aloud and compare.

Invariant: ``"W-"`` plus 16 Crockford base32 characters in groups of four (80 bits of BLAKE2b
over the raw Ed25519 public key with its own personalisation), derived from the key alone, so
the ledger and every wallet print the same id for the same key; no I, L, O or U.
"""

from __future__ import annotations

import nacl.encoding
import nacl.hash

__all__ = ["wallet_id_of"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def wallet_id_of(public: bytes) -> str:
    """The human-readable wallet id of a raw Ed25519 public key."""
    digest = nacl.hash.blake2b(
        public, digest_size=10, person=b"p2ppay-walletid", encoder=nacl.encoding.RawEncoder
    )
    number = int.from_bytes(digest, "big")
    chars = "".join(_CROCKFORD[(number >> (5 * i)) & 31] for i in reversed(range(16)))
    return "W-" + "-".join(chars[i : i + 4] for i in range(0, 16, 4))
