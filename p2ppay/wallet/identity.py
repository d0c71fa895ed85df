"""A wallet's identity: its Ed25519 key, key id, and a human-readable wallet id.

Invariants:
- The public key is the identity; ``key_id`` is ``protocol.keys.key_id`` (the COSE ``kid``)
  and ``wallet_id`` is derived from the public key alone, so anyone holding the key computes
  the same ids and no registry is needed.
- ``wallet_id`` is ``"W-"`` plus 16 Crockford base32 characters in groups of four (80 bits
  of BLAKE2b over the public key with its own personalisation): easy to read aloud, no
  ambiguous letters (no I, L, O, U).
- The signing key never appears in ``repr`` or ``str`` (no accidental logging).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nacl.signing import SigningKey

from p2ppay.api.ids import wallet_id_of
from protocol.keys import key_id, public_key

__all__ = ["Identity", "PublicIdentity"]


@dataclass(frozen=True, kw_only=True)
class PublicIdentity:
    """What may be shown and shared: the public key and the ids derived from it."""

    public_key: bytes
    """Raw 32-byte Ed25519 public key."""

    @property
    def public_key_hex(self) -> str:
        """The public key as lowercase hex (what ``id --json`` prints)."""
        return self.public_key.hex()

    @property
    def key_id(self) -> bytes:
        """The COSE ``kid`` of the key (``protocol.keys.key_id``)."""
        return key_id(self.public_key)

    @property
    def wallet_id(self) -> str:
        """The human-readable wallet id, e.g. ``W-7K3M-Q9PD-X2RA-HT5V``."""
        return wallet_id_of(self.public_key)


@dataclass(frozen=True, kw_only=True)
class Identity:
    """An unlocked identity: the public part plus the signing key (kept out of ``repr``)."""

    public: PublicIdentity
    signing_key: SigningKey = field(repr=False)
    """Signs documents through ``protocol.builders``; never written out unencrypted by us
    except into an explicitly unencrypted, owner-only key file."""

    @classmethod
    def from_signing_key(cls, signing_key: SigningKey) -> Identity:
        """The identity of ``signing_key``."""
        public = PublicIdentity(public_key=public_key(signing_key))
        return cls(public=public, signing_key=signing_key)

    @property
    def public_key(self) -> bytes:
        """Raw 32-byte Ed25519 public key."""
        return self.public.public_key
