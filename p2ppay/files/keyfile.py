"""The key file: an Ed25519 seed at rest, encrypted with a passphrase or explicitly not.

Format (all integers big-endian)::

    offset  size  field
    0       6     magic  b"P2PKEY"
    6       1     format version (1)
    7       1     protection: 0 = none (owner-only file), 1 = Argon2id + XSalsa20-Poly1305
    8       1     purpose: 1 = wallet identity, 2 = development issuer
    9       32    Ed25519 public key (readable without the passphrase: ``id`` needs no secret)
    -- protection 0 --
    41      32    Ed25519 seed
    -- protection 1 --
    41      4     Argon2id opslimit
    45      8     Argon2id memlimit (bytes)
    53      16    salt
    69      24    SecretBox nonce
    93      48    SecretBox ciphertext of the seed (32 + 16-byte tag)
    -- always --
    end-16  16    BLAKE2b-128 checksum of every byte before it (person b"p2ppay-keyfile")

Invariants:
- The length is fixed by the header, so a short file is reported as truncated, a long one or a
  bad checksum as corrupt, and only an intact file with a failing SecretBox tag as a wrong
  passphrase: the three cases never blur into one another.
- A seed is accepted only if it derives the public key in the header.
- Argon2id limits come from the file (so old files open after a default changes) but must lie
  within libsodium's bounds and a memory cap, so a crafted file cannot exhaust the machine.
"""

from __future__ import annotations

import struct
import unicodedata
from dataclasses import dataclass
from enum import IntEnum

import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.secret
import nacl.signing
import nacl.utils
from nacl.pwhash import argon2id

from p2ppay.errors import AppErrorCode, WalletError

__all__ = [
    "KdfParams",
    "KeyFileContents",
    "KeyPurpose",
    "decode_key_file",
    "encode_key_file",
    "normalize_passphrase",
    "peek_key_file",
]

_MAGIC = b"P2PKEY"
_VERSION = 1
_HEADER = struct.Struct(">6sBBB32s")
_KDF = struct.Struct(">IQ16s")
_CHECKSUM_SIZE = 16
_SEED_SIZE = 32
_BOX_SIZE = nacl.secret.SecretBox.NONCE_SIZE + _SEED_SIZE + nacl.secret.SecretBox.MACBYTES
_PLAIN_SIZE = _HEADER.size + _SEED_SIZE + _CHECKSUM_SIZE
_ENCRYPTED_SIZE = _HEADER.size + _KDF.size + _BOX_SIZE + _CHECKSUM_SIZE
_MAX_MEMLIMIT = 4 * 1024**3  # a crafted file must not make us allocate more than this


class KeyPurpose(IntEnum):
    """Which kind of key a file holds, so an issuer key never loads as a wallet."""

    WALLET = 1
    """A wallet's identity: signs invoices, payments and receipts."""
    ISSUER = 2
    """A development issuer: signs allowances."""


class _Protection(IntEnum):
    NONE = 0
    ARGON2ID_SECRETBOX = 1


@dataclass(frozen=True, kw_only=True)
class KdfParams:
    """Argon2id cost. ``moderate()`` for real wallets; ``minimum()`` keeps tests fast."""

    opslimit: int
    """Number of passes (libsodium ``opslimit``)."""
    memlimit: int
    """Memory in bytes (libsodium ``memlimit``)."""

    @classmethod
    def moderate(cls) -> KdfParams:
        """libsodium's MODERATE limits (about a second and 256 MiB): the default at rest."""
        return cls(opslimit=argon2id.OPSLIMIT_MODERATE, memlimit=argon2id.MEMLIMIT_MODERATE)

    @classmethod
    def interactive(cls) -> KdfParams:
        """libsodium's INTERACTIVE limits (64 MiB)."""
        return cls(opslimit=argon2id.OPSLIMIT_INTERACTIVE, memlimit=argon2id.MEMLIMIT_INTERACTIVE)

    @classmethod
    def minimum(cls) -> KdfParams:
        """The smallest limits libsodium accepts: for tests only."""
        return cls(opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN)

    def check(self) -> None:
        """Raise ``KEY_FILE_UNSUPPORTED`` if the limits are outside what we will run."""
        if not argon2id.OPSLIMIT_MIN <= self.opslimit <= argon2id.OPSLIMIT_MAX:
            raise WalletError(AppErrorCode.KEY_FILE_UNSUPPORTED, "Argon2id opslimit out of range")
        if not argon2id.MEMLIMIT_MIN <= self.memlimit <= _MAX_MEMLIMIT:
            raise WalletError(AppErrorCode.KEY_FILE_UNSUPPORTED, "Argon2id memlimit out of range")


@dataclass(frozen=True, kw_only=True)
class KeyFileContents:
    """What a key file says without its secret."""

    purpose: KeyPurpose
    """Wallet identity or issuer key."""
    public_key: bytes
    """The Ed25519 public key (32 bytes)."""
    encrypted: bool
    """True when a passphrase protects the seed."""


def normalize_passphrase(passphrase: str | bytes) -> bytes:
    """UTF-8 of the NFC form, so the same typed text opens the file on any keyboard."""
    if isinstance(passphrase, bytes):
        return passphrase
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _checksum(data: bytes) -> bytes:
    return nacl.hash.blake2b(
        data, digest_size=_CHECKSUM_SIZE, person=b"p2ppay-keyfile", encoder=nacl.encoding.RawEncoder
    )


def _derive(passphrase: bytes, salt: bytes, kdf: KdfParams) -> bytes:
    return argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE,
        passphrase,
        salt,
        opslimit=kdf.opslimit,
        memlimit=kdf.memlimit,
    )


def encode_key_file(
    *, seed: bytes, purpose: KeyPurpose, passphrase: bytes | None, kdf: KdfParams
) -> bytes:
    """The bytes of a key file for ``seed``; ``passphrase=None`` stores it unencrypted."""
    if len(seed) != _SEED_SIZE:
        raise ValueError("an Ed25519 seed is 32 bytes")
    public_key = bytes(nacl.signing.SigningKey(seed).verify_key)
    protection = _Protection.NONE if passphrase is None else _Protection.ARGON2ID_SECRETBOX
    body = _HEADER.pack(_MAGIC, _VERSION, protection, purpose, public_key)
    if passphrase is None:
        body += seed
    else:
        kdf.check()
        salt = nacl.utils.random(argon2id.SALTBYTES)
        box = nacl.secret.SecretBox(_derive(passphrase, salt, kdf))
        body += _KDF.pack(kdf.opslimit, kdf.memlimit, salt) + bytes(box.encrypt(seed))
    return body + _checksum(body)


def _corrupt(why: str) -> WalletError:
    return WalletError(AppErrorCode.KEY_FILE_CORRUPT, f"key file is corrupt: {why}")


def _parse_header(data: bytes) -> tuple[_Protection, KeyPurpose, bytes, int]:
    if len(data) < _HEADER.size:
        if _MAGIC.startswith(data[: len(_MAGIC)]):
            raise WalletError(AppErrorCode.KEY_FILE_TRUNCATED, "key file is truncated")
        raise _corrupt("not a p2ppay key file")
    magic, version, protection, purpose, public_key = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise _corrupt("not a p2ppay key file")
    if version != _VERSION:
        raise WalletError(AppErrorCode.KEY_FILE_UNSUPPORTED, f"key file version {version}")
    try:
        prot = _Protection(protection)
        kind = KeyPurpose(purpose)
    except ValueError:
        raise WalletError(
            AppErrorCode.KEY_FILE_UNSUPPORTED, "unknown protection or purpose"
        ) from None
    size = _PLAIN_SIZE if prot is _Protection.NONE else _ENCRYPTED_SIZE
    if len(data) < size:
        raise WalletError(AppErrorCode.KEY_FILE_TRUNCATED, "key file is truncated")
    if len(data) > size:
        raise _corrupt("trailing bytes")
    if _checksum(data[:-_CHECKSUM_SIZE]) != data[-_CHECKSUM_SIZE:]:
        raise _corrupt("checksum mismatch")
    return prot, kind, bytes(public_key), size


def peek_key_file(data: bytes) -> KeyFileContents:
    """Check the file's structure and checksum and return its public part; no secret needed."""
    prot, purpose, public_key, _ = _parse_header(data)
    return KeyFileContents(
        purpose=purpose, public_key=public_key, encrypted=prot is not _Protection.NONE
    )


def decode_key_file(
    data: bytes, *, purpose: KeyPurpose, passphrase: bytes | None
) -> tuple[KeyFileContents, bytes]:
    """The file's public part and its seed; raise a ``WalletError`` with the exact reason."""
    prot, kind, public_key, _ = _parse_header(data)
    if kind is not purpose:
        raise WalletError(
            AppErrorCode.KEY_FILE_UNSUPPORTED, f"this is a {kind.name.lower()} key file"
        )
    offset = _HEADER.size
    if prot is _Protection.NONE:
        seed = data[offset : offset + _SEED_SIZE]
    else:
        if passphrase is None:
            raise WalletError(AppErrorCode.PASSPHRASE_REQUIRED, "the key file is encrypted")
        opslimit, memlimit, salt = _KDF.unpack_from(data, offset)
        kdf = KdfParams(opslimit=opslimit, memlimit=memlimit)
        kdf.check()
        box_start = offset + _KDF.size
        sealed = data[box_start : box_start + _BOX_SIZE]
        try:
            seed = nacl.secret.SecretBox(_derive(passphrase, salt, kdf)).decrypt(sealed)
        except nacl.exceptions.CryptoError:
            raise WalletError(AppErrorCode.WRONG_PASSPHRASE, "wrong passphrase") from None
    if bytes(nacl.signing.SigningKey(seed).verify_key) != public_key:
        raise _corrupt("the seed does not match the public key")
    contents = KeyFileContents(
        purpose=kind, public_key=public_key, encrypted=prot is not _Protection.NONE
    )
    return contents, seed
