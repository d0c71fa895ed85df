"""The Noise Protocol Framework (revision 34) for 25519 / ChaChaPoly / BLAKE2b, on PyNaCl.

p2ppay uses ``Noise_XX_25519_ChaChaPoly_BLAKE2b``; the patterns NN, N, X and IK are also here
because the published test vectors cover them and they cost one table row each.

Primitives (all libsodium through ``nacl.bindings``)::

    DH(sk, pk)        = crypto_scalarmult (X25519); an all-zero result is an error
    ENCRYPT(k, n, ad) = ChaCha20-Poly1305 IETF, nonce = 4 zero bytes || n as 8 bytes little-endian
    HASH(x)           = BLAKE2b-512 (crypto_generichash_blake2b_salt_personal, 64-byte digest)
    HMAC(k, x)        = RFC 2104 over HASH with a 128-byte block, as the Noise spec defines it
    HKDF(ck, ikm, n)  = the Noise HKDF: temp = HMAC(ck, ikm); o1 = HMAC(temp, 0x01);
                        o2 = HMAC(temp, o1 || 0x02); o3 = HMAC(temp, o2 || 0x03)

Invariants:
- A :class:`CipherState` never reuses a nonce: ``n`` only grows, 2**64 - 1 is reserved, and
  exhausting it raises ``NOISE_NONCE_EXHAUSTED`` forever after. A failed decryption does not
  advance ``n``, so a replayed or reordered ciphertext fails (``NOISE_DECRYPT_FAILED``).
- A :class:`HandshakeState` only accepts ``write_message``/``read_message`` in turn; any
  failure raises a :class:`~protocol.errors.ProtocolError` and leaves the handshake unusable.
- Every error is a ``ProtocolError``: ``RemoteProtocolError`` for bad bytes from the peer,
  ``LocalProtocolError`` for misuse.

The static key of a wallet is its Ed25519 identity converted to X25519 with libsodium
(:meth:`KeyPair.from_ed25519_seed`), so the Noise identity and the signing identity are one key;
:func:`x25519_from_ed25519_public` converts a peer's signing key for the comparison.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Final

from nacl import bindings as sodium
from nacl.exceptions import CryptoError
from nacl.utils import random as random_bytes

from protocol.errors import ErrorCode, LocalProtocolError, RemoteProtocolError

__all__ = [
    "DHLEN",
    "HASHLEN",
    "MAX_MESSAGE_LEN",
    "PATTERNS",
    "TAGLEN",
    "CipherState",
    "HandshakeState",
    "KeyPair",
    "TransportState",
    "constant_time_equal",
    "protocol_name",
    "short_authentication_string",
    "x25519_from_ed25519_public",
]

DHLEN: Final = 32
HASHLEN: Final = 64
BLOCKLEN: Final = 128
TAGLEN: Final = 16
MAX_MESSAGE_LEN: Final = 65535
_MAX_NONCE: Final = 2**64 - 1  # reserved by the spec: never used to encrypt

# pattern name -> (initiator pre-message, responder pre-message, message token lists)
PATTERNS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, ...], ...]]]] = {
    "NN": ((), (), (("e",), ("e", "ee"))),
    "N": ((), ("s",), (("e", "es"),)),
    "X": ((), ("s",), (("e", "es", "s", "ss"),)),
    "XX": ((), (), (("e",), ("e", "ee", "s", "es"), ("s", "se"))),
    "IK": ((), ("s",), (("e", "es", "s", "ss"), ("e", "ee", "se"))),
}


def protocol_name(pattern: str) -> bytes:
    """The full Noise protocol name for ``pattern`` with p2ppay's primitives."""
    return f"Noise_{pattern}_25519_ChaChaPoly_BLAKE2b".encode("ascii")


def _hash(data: bytes) -> bytes:
    return sodium.crypto_generichash_blake2b_salt_personal(data, digest_size=HASHLEN)


# XOR with 0x36 / 0x5c as byte translation tables: one C call per pad, not a Python loop.
_IPAD: Final = bytes(i ^ 0x36 for i in range(256))
_OPAD: Final = bytes(i ^ 0x5C for i in range(256))


def _hmac(key: bytes, data: bytes) -> bytes:
    # Noise defines HMAC as RFC 2104 over HASH; keys here are at most HASHLEN, never hashed.
    padded = key.ljust(BLOCKLEN, b"\x00")
    return _hash(padded.translate(_OPAD) + _hash(padded.translate(_IPAD) + data))


def _hkdf(chaining_key: bytes, ikm: bytes, outputs: int) -> tuple[bytes, ...]:
    temp = _hmac(chaining_key, ikm)
    out1 = _hmac(temp, b"\x01")
    out2 = _hmac(temp, out1 + b"\x02")
    if outputs == 2:
        return out1, out2
    return out1, out2, _hmac(temp, out2 + b"\x03")


def _dh(private: bytes, public: bytes) -> bytes:
    try:
        return sodium.crypto_scalarmult(private, public)
    except CryptoError as exc:  # libsodium refuses an all-zero shared secret
        raise RemoteProtocolError(ErrorCode.NOISE_BAD_PUBLIC_KEY, "low-order public key") from exc


@dataclass(frozen=True, kw_only=True, repr=False)
class KeyPair:
    """An X25519 key pair. ``repr`` hides the private key."""

    private: bytes
    public: bytes

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public.hex()})"

    @classmethod
    def from_private(cls, private: bytes) -> KeyPair:
        """The key pair of a 32-byte X25519 private key."""
        if len(private) != DHLEN:
            raise LocalProtocolError(ErrorCode.HANDSHAKE_BAD_KEY, "X25519 key must be 32 bytes")
        return cls(private=private, public=sodium.crypto_scalarmult_base(private))

    @classmethod
    def generate(cls) -> KeyPair:
        """A fresh random key pair (for ephemerals)."""
        return cls.from_private(random_bytes(DHLEN))

    @classmethod
    def from_ed25519_seed(cls, seed: bytes) -> KeyPair:
        """The X25519 key pair of the Ed25519 identity with this 32-byte seed (libsodium)."""
        if len(seed) != 32:
            raise LocalProtocolError(ErrorCode.HANDSHAKE_BAD_KEY, "Ed25519 seed must be 32 bytes")
        _, secret = sodium.crypto_sign_seed_keypair(seed)
        return cls.from_private(sodium.crypto_sign_ed25519_sk_to_curve25519(secret))


def x25519_from_ed25519_public(ed25519_public: bytes) -> bytes:
    """The X25519 public key of an Ed25519 verify key (for matching a peer's Noise key)."""
    if len(ed25519_public) != 32:
        raise RemoteProtocolError(ErrorCode.HANDSHAKE_BAD_KEY, "Ed25519 key must be 32 bytes")
    try:
        return sodium.crypto_sign_ed25519_pk_to_curve25519(ed25519_public)
    except CryptoError as exc:
        raise RemoteProtocolError(ErrorCode.HANDSHAKE_BAD_KEY, "not an Ed25519 point") from exc


@dataclass(kw_only=True)
class CipherState:
    """One direction's key and nonce counter (Noise section 5.1)."""

    key: bytes | None = None
    nonce: int = 0

    def _nonce_bytes(self) -> bytes:
        if self.nonce >= _MAX_NONCE:
            raise LocalProtocolError(ErrorCode.NOISE_NONCE_EXHAUSTED, "cipher state exhausted")
        return b"\x00\x00\x00\x00" + self.nonce.to_bytes(8, "little")

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes) -> bytes:
        """Encrypt and advance the nonce; without a key, return the plaintext (spec 5.1)."""
        if self.key is None:
            return plaintext
        nonce = self._nonce_bytes()
        out = sodium.crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, nonce, self.key)
        self.nonce += 1
        return out

    def decrypt_with_ad(self, ad: bytes, ciphertext: bytes) -> bytes:
        """Decrypt and advance the nonce; a bad tag raises and leaves the nonce unchanged."""
        if self.key is None:
            return ciphertext
        nonce = self._nonce_bytes()
        if len(ciphertext) < TAGLEN:
            raise RemoteProtocolError(ErrorCode.NOISE_MESSAGE_TOO_SHORT, "shorter than a tag")
        try:
            out = sodium.crypto_aead_chacha20poly1305_ietf_decrypt(ciphertext, ad, nonce, self.key)
        except CryptoError as exc:
            raise RemoteProtocolError(ErrorCode.NOISE_DECRYPT_FAILED, "AEAD tag mismatch") from exc
        self.nonce += 1
        return out


@dataclass(kw_only=True)
class _SymmetricState:
    """Noise section 5.2: chaining key, handshake hash and the handshake cipher."""

    ck: bytes
    h: bytes
    cipher: CipherState = field(default_factory=CipherState)

    @classmethod
    def initialize(cls, name: bytes) -> _SymmetricState:
        h = name.ljust(HASHLEN, b"\x00") if len(name) <= HASHLEN else _hash(name)
        return cls(ck=h, h=h)

    def mix_key(self, ikm: bytes) -> None:
        self.ck, temp_k = _hkdf(self.ck, ikm, 2)
        self.cipher = CipherState(key=temp_k[:32])

    def mix_hash(self, data: bytes) -> None:
        self.h = _hash(self.h + data)

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ciphertext = self.cipher.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        plaintext = self.cipher.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[CipherState, CipherState]:
        k1, k2 = _hkdf(self.ck, b"", 2)
        return CipherState(key=k1[:32]), CipherState(key=k2[:32])


class TransportState:
    """The channel after the handshake: one cipher per direction, ordered, no replays.

    One-way patterns (N, X) only let the initiator send.
    """

    def __init__(self, *, send: CipherState | None, receive: CipherState | None) -> None:
        self._send = send
        self._receive = receive

    def encrypt(self, plaintext: bytes) -> bytes:
        """Encrypt one transport message (at most 65535 bytes on the wire)."""
        if self._send is None:
            raise LocalProtocolError(ErrorCode.NOISE_OUT_OF_TURN, "one-way pattern: cannot send")
        if len(plaintext) + TAGLEN > MAX_MESSAGE_LEN:
            raise LocalProtocolError(ErrorCode.NOISE_MESSAGE_TOO_LONG, "transport payload")
        return self._send.encrypt_with_ad(b"", plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        """Decrypt the next transport message from the peer."""
        if self._receive is None:
            raise RemoteProtocolError(ErrorCode.NOISE_OUT_OF_TURN, "one-way pattern: cannot read")
        if len(ciphertext) > MAX_MESSAGE_LEN:
            raise RemoteProtocolError(ErrorCode.NOISE_MESSAGE_TOO_LONG, "transport message")
        return self._receive.decrypt_with_ad(b"", ciphertext)


class HandshakeState:
    """Noise section 5.3 for one of :data:`PATTERNS`, driven message by message.

    ``ephemeral`` is for test vectors only; in use it is generated fresh.
    """

    def __init__(
        self,
        *,
        pattern: str = "XX",
        initiator: bool,
        prologue: bytes = b"",
        static: KeyPair | None = None,
        remote_static: bytes | None = None,
        ephemeral: KeyPair | None = None,
    ) -> None:
        if pattern not in PATTERNS:
            raise LocalProtocolError(ErrorCode.SESSION_API_MISUSE, f"unknown pattern {pattern}")
        pre_initiator, pre_responder, messages = PATTERNS[pattern]
        self._initiator = initiator
        self._messages = messages
        self._index = 0
        self._s = static
        self._e = ephemeral
        self._rs = remote_static
        self._re: bytes | None = None
        self._failed = False
        self._symmetric = _SymmetricState.initialize(protocol_name(pattern))
        self._symmetric.mix_hash(prologue)
        for owner_is_initiator, tokens in ((True, pre_initiator), (False, pre_responder)):
            for token in tokens:
                key = self._pre_message_key(token, local=owner_is_initiator == initiator)
                self._symmetric.mix_hash(key)
        self._transport: TransportState | None = None

    def _pre_message_key(self, token: str, *, local: bool) -> bytes:
        key = (self._s.public if self._s else None) if local else self._rs
        if token != "s" or key is None:
            raise LocalProtocolError(ErrorCode.HANDSHAKE_BAD_KEY, "pre-message key missing")
        return key

    def set_static(self, static: KeyPair) -> None:
        """Choose the local static key late, before the message that sends it.

        Allowed only while no static key is set and none was used: the Noise math is the
        same as if it had been given at construction. p2ppay's payer uses it to decide, at
        handshake message 3, which key to disclose (its wallet's, or a one-time key).
        """
        if self._s is not None or self._failed:
            raise LocalProtocolError(ErrorCode.HANDSHAKE_BAD_KEY, "static key already set")
        self._s = static

    @property
    def message_index(self) -> int:
        """How many handshake messages were written or read so far."""
        return self._index

    @property
    def finished(self) -> bool:
        """True once every handshake message has been written or read."""
        return self._index == len(self._messages)

    @property
    def handshake_hash(self) -> bytes:
        """``h``: binds everything so far; after the handshake, the channel binding."""
        return self._symmetric.h

    @property
    def remote_static(self) -> bytes | None:
        """The peer's static X25519 key once the pattern has revealed it."""
        return self._rs

    @property
    def my_turn(self) -> bool:
        """True if the next handshake message is ours to write."""
        return not self.finished and (self._index % 2 == 0) == self._initiator

    def transport(self) -> TransportState:
        """The transport ciphers; only after the last handshake message."""
        if self._transport is None:
            raise LocalProtocolError(ErrorCode.NOISE_OUT_OF_TURN, "handshake not finished")
        return self._transport

    def _check_turn(self, *, writing: bool) -> None:
        if self._failed or self.finished or self.my_turn != writing:
            error = LocalProtocolError if writing else RemoteProtocolError
            raise error(ErrorCode.NOISE_OUT_OF_TURN, "handshake message out of turn")

    def _dh_token(self, token: str) -> bytes:
        # "es": initiator's e with responder's s, whichever side we are.
        first, second = token[0], token[1]
        mine, theirs = (first, second) if self._initiator else (second, first)
        local = self._e if mine == "e" else self._s
        remote = self._re if theirs == "e" else self._rs
        if local is None or remote is None:
            raise LocalProtocolError(ErrorCode.HANDSHAKE_BAD_KEY, f"key for {token} missing")
        return _dh(local.private, remote)

    def write_message(self, payload: bytes = b"") -> bytes:
        """The next handshake message carrying ``payload``."""
        self._check_turn(writing=True)
        try:
            out = bytearray()
            for token in self._messages[self._index]:
                if token == "e":
                    if self._e is None:
                        self._e = KeyPair.generate()
                    out += self._e.public
                    self._symmetric.mix_hash(self._e.public)
                elif token == "s":
                    if self._s is None:
                        raise LocalProtocolError(ErrorCode.HANDSHAKE_BAD_KEY, "no static key")
                    out += self._symmetric.encrypt_and_hash(self._s.public)
                else:
                    self._symmetric.mix_key(self._dh_token(token))
            out += self._symmetric.encrypt_and_hash(payload)
            if len(out) > MAX_MESSAGE_LEN:
                raise LocalProtocolError(ErrorCode.NOISE_MESSAGE_TOO_LONG, "handshake message")
        except BaseException:
            self._failed = True
            raise
        self._advance()
        return bytes(out)

    def read_message(self, message: bytes) -> bytes:
        """Process the peer's next handshake message; return its payload."""
        self._check_turn(writing=False)
        try:
            if len(message) > MAX_MESSAGE_LEN:
                raise RemoteProtocolError(ErrorCode.NOISE_MESSAGE_TOO_LONG, "handshake message")
            view = memoryview(message)
            for token in self._messages[self._index]:
                if token == "e":
                    self._re, view = self._take(view, DHLEN), view[DHLEN:]
                    self._symmetric.mix_hash(self._re)
                elif token == "s":
                    size = DHLEN + (TAGLEN if self._symmetric.cipher.key is not None else 0)
                    encrypted, view = self._take(view, size), view[size:]
                    self._rs = self._symmetric.decrypt_and_hash(encrypted)
                else:
                    self._symmetric.mix_key(self._dh_token(token))
            payload = self._symmetric.decrypt_and_hash(bytes(view))
        except BaseException:
            self._failed = True
            raise
        self._advance()
        return payload

    @staticmethod
    def _take(view: memoryview, size: int) -> bytes:
        if len(view) < size:
            raise RemoteProtocolError(ErrorCode.NOISE_MESSAGE_TOO_SHORT, "handshake message")
        return bytes(view[:size])

    def _advance(self) -> None:
        self._index += 1
        if self.finished:
            c1, c2 = self._symmetric.split()
            one_way = len(self._messages) == 1
            if self._initiator:
                self._transport = TransportState(send=c1, receive=None if one_way else c2)
            else:
                self._transport = TransportState(send=None if one_way else c2, receive=c1)


_SAS_PERSON: Final = b"p2ppay-sas"


def short_authentication_string(handshake_hash: bytes, digits: int = 6) -> str:
    """``digits`` decimal digits both screens show; equal iff both saw the same handshake.

    BLAKE2b-64 of ``h`` with the personalisation ``p2ppay-sas`` (domain separation from every
    other use of ``h``), read as a big-endian integer modulo 10**digits (bias below 2**-40).
    """
    if not 4 <= digits <= 12:
        raise LocalProtocolError(ErrorCode.SESSION_API_MISUSE, "SAS length out of range")
    tag = sodium.crypto_generichash_blake2b_salt_personal(
        handshake_hash, digest_size=8, person=_SAS_PERSON.ljust(16, b"\x00")
    )
    return str(int.from_bytes(tag, "big") % 10**digits).zfill(digits)


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare keys or hashes without a timing side channel."""
    return hmac.compare_digest(a, b)
