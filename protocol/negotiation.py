"""What the two sides agree on inside the Noise handshake: versions, sizes, currencies, features.

The payee sends an :class:`Offer` in the plaintext opening message; the payer (the Noise
initiator) answers with an :class:`Answer` in Noise message 1. The opening is part of the
Noise prologue (:data:`PROLOGUE` followed by the opening's bytes) and the answer is mixed into
the handshake hash, and Noise message 2 is encrypted under keys and associated data that
depend on both, so a change to either payload by anyone in the middle fails the handshake
at the next message (downgrade protection).

Wire form (deterministic CBOR maps, integer keys)::

    offer  = {1: [+ version], 2: max_message_size, 3: chunk_size, 4: [+ currency], 5: [* feature]}
    answer = {1: version,     2: max_message_size, 3: chunk_size, 4: [+ currency], 5: [* feature]}

Invariants:
- Lists are strictly ascending (so one offer has one encoding) and short (:data:`MAX_ITEMS`).
- ``chunk_size`` is within 20..512 and ``max_message_size`` within
  :data:`MIN_MESSAGE_SIZE`..:data:`~protocol.framing.MAX_MESSAGE_HARD_CAP`.
- An answer never exceeds the offer: its version, currencies and features are taken from the
  offer, its sizes are at most the offer's. :func:`check_answer` enforces it on the payee.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from enum import IntEnum, unique
from typing import Final, TypeVar

from protocol import cbor
from protocol.errors import ErrorCode, ProtocolError, RemoteProtocolError
from protocol.framing import MAX_CHUNK_SIZE, MAX_MESSAGE_HARD_CAP, MIN_CHUNK_SIZE

__all__ = [
    "MIN_MESSAGE_SIZE",
    "PROLOGUE",
    "SUPPORTED_VERSIONS",
    "Answer",
    "Capabilities",
    "Feature",
    "Offer",
    "answer_offer",
    "check_answer",
]

PROLOGUE: Final = b"p2ppay/session 2; Noise_XX_25519_ChaChaPoly_BLAKE2b; payer initiates"
"""Start of the Noise prologue (the opening message's bytes follow): both sides must use
exactly these bytes or the handshake fails."""

SUPPORTED_VERSIONS: Final = (1,)
"""Session protocol versions this implementation speaks."""

MIN_MESSAGE_SIZE: Final = 1024
"""No side may offer less: a payment with its allowance must always fit."""

MAX_ITEMS: Final = 16
"""Longest version, currency or feature list accepted."""

_CURRENCY: Final = re.compile(r"[A-Z]{3}")
_Item = TypeVar("_Item", int, str)


@unique
class Feature(IntEnum):
    """Optional behaviours a side supports; the answer carries the intersection."""

    RESUMPTION = 1
    """A session may carry an invoice id seen before and re-send persisted documents."""


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    """One side's local limits and preferences (not on the wire)."""

    versions: tuple[int, ...] = SUPPORTED_VERSIONS
    """Versions spoken, any order."""
    max_message_size: int = 4096
    """Largest message this side will receive."""
    max_chunk_size: int = MAX_CHUNK_SIZE
    """Largest chunk this side's link carries: ``chunk_size_for_mtu(att_mtu)``."""
    currencies: tuple[str, ...] = ()
    """Currencies accepted (payee) or payable (payer)."""
    features: tuple[Feature, ...] = (Feature.RESUMPTION,)
    """Features supported."""


@dataclass(frozen=True, kw_only=True)
class Offer:
    """The payee's proposal, in handshake message 1 (readable by anyone, integrity-checked)."""

    versions: tuple[int, ...]
    max_message_size: int
    chunk_size: int
    currencies: tuple[str, ...]
    features: tuple[int, ...]
    tag: str | None = None
    """The session tag of the advertisement the payee chose (key 6): the opening is in the
    Noise prologue, so the payer that answers is bound to the tag it advertised."""

    @classmethod
    def from_capabilities(cls, local: Capabilities, *, tag: str | None = None) -> Offer:
        """The offer a payee with ``local`` capabilities makes to the payer tagged ``tag``."""
        if tag is not None:
            _check_tag(tag)
        return cls(
            versions=tuple(sorted(set(local.versions))),
            max_message_size=local.max_message_size,
            chunk_size=local.max_chunk_size,
            currencies=tuple(sorted(set(local.currencies))),
            features=tuple(sorted({int(f) for f in local.features})),
            tag=tag,
        )

    def encode(self) -> bytes:
        """Deterministic CBOR."""
        fields: dict[cbor.Value, cbor.Value] = {
            1: list(self.versions),
            2: self.max_message_size,
            3: self.chunk_size,
            4: list(self.currencies),
            5: list(self.features),
        }
        if self.tag is not None:
            fields[6] = self.tag
        return cbor.encode(fields)

    @classmethod
    def decode(cls, data: bytes) -> Offer:
        """Parse and check an offer; raise ``NEGOTIATION_MALFORMED`` or ``..._BAD_LIMITS``."""
        fields = _decode_map(data, optional=(6,))
        tag = fields.get(6)
        if tag is not None and not isinstance(tag, str):
            raise _malformed("the tag is text")
        offer = cls(
            versions=_int_list(fields[1], minimum=1),
            max_message_size=_int(fields[2]),
            chunk_size=_int(fields[3]),
            currencies=_currency_list(fields[4]),
            features=_int_list(fields[5], minimum=0),
            tag=None if tag is None else _check_tag(tag),
        )
        _check_limits(offer.max_message_size, offer.chunk_size)
        return offer


@dataclass(frozen=True, kw_only=True)
class Answer:
    """The payer's choice, in handshake message 2: what the session uses from now on."""

    version: int
    max_message_size: int
    chunk_size: int
    currencies: tuple[str, ...]
    features: tuple[int, ...]

    def encode(self) -> bytes:
        """Deterministic CBOR."""
        return cbor.encode(
            {
                1: self.version,
                2: self.max_message_size,
                3: self.chunk_size,
                4: list(self.currencies),
                5: list(self.features),
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> Answer:
        """Parse an answer (shape only: :func:`check_answer` relates it to the offer)."""
        fields = _decode_map(data)
        answer = cls(
            version=_int(fields[1]),
            max_message_size=_int(fields[2]),
            chunk_size=_int(fields[3]),
            currencies=_currency_list(fields[4]),
            features=_int_list(fields[5], minimum=0),
        )
        _check_limits(answer.max_message_size, answer.chunk_size)
        return answer

    def has(self, feature: Feature) -> bool:
        """True if both sides agreed on ``feature``."""
        return int(feature) in self.features


def answer_offer(offer: Offer, local: Capabilities) -> Answer:
    """The payer's answer: highest common version, smaller limits, common currencies/features.

    Raises ``NEGOTIATION_UNSUPPORTED_VERSION`` or ``NEGOTIATION_NO_COMMON_CURRENCY``.
    """
    common = set(offer.versions) & set(local.versions)
    if not common:
        raise RemoteProtocolError(ErrorCode.NEGOTIATION_UNSUPPORTED_VERSION, str(offer.versions))
    currencies = tuple(sorted(set(offer.currencies) & set(local.currencies)))
    if not currencies:
        raise RemoteProtocolError(
            ErrorCode.NEGOTIATION_NO_COMMON_CURRENCY, "offered: " + ", ".join(offer.currencies)
        )
    return Answer(
        version=max(common),
        max_message_size=min(offer.max_message_size, local.max_message_size),
        chunk_size=min(offer.chunk_size, local.max_chunk_size),
        currencies=currencies,
        features=tuple(sorted(set(offer.features) & {int(f) for f in local.features})),
    )


def check_answer(offer: Offer, answer: Answer) -> Answer:
    """Check on the payee that ``answer`` only narrows ``offer``; return it."""
    if answer.version not in offer.versions:
        raise RemoteProtocolError(ErrorCode.NEGOTIATION_ANSWER_MISMATCH, "version not offered")
    if not set(answer.currencies) <= set(offer.currencies) or not answer.currencies:
        raise RemoteProtocolError(ErrorCode.NEGOTIATION_ANSWER_MISMATCH, "currency not offered")
    if not set(answer.features) <= set(offer.features):
        raise RemoteProtocolError(ErrorCode.NEGOTIATION_ANSWER_MISMATCH, "feature not offered")
    if answer.max_message_size > offer.max_message_size or answer.chunk_size > offer.chunk_size:
        raise RemoteProtocolError(ErrorCode.NEGOTIATION_BAD_LIMITS, "answer above the offer")
    return answer


# --- strict field parsing ------------------------------------------------------------------


def _malformed(why: str) -> RemoteProtocolError:
    return RemoteProtocolError(ErrorCode.NEGOTIATION_MALFORMED, why)


MAX_TAG_LENGTH: Final = 16
"""Longest session tag an offer may name (the advertised ones are 6 characters)."""


def _check_tag(tag: str) -> str:
    if not 1 <= len(tag) <= MAX_TAG_LENGTH or not (tag.isascii() and tag.isalnum()):
        raise _malformed(f"a tag is 1..{MAX_TAG_LENGTH} ASCII letters and digits")
    return tag


def _decode_map(data: bytes, *, optional: tuple[int, ...] = ()) -> dict[int, cbor.Value]:
    try:
        value = cbor.decode(data)
    except ProtocolError as exc:
        raise _malformed(f"not deterministic CBOR: {exc.code.name}") from exc
    if not isinstance(value, dict) or not (
        {1, 2, 3, 4, 5} <= set(value) <= {1, 2, 3, 4, 5, *optional}
    ):
        keys = "1..5" + "".join(f" (and {k})" for k in optional)
        raise _malformed(f"expected a map with keys {keys}")
    return {int(key): item for key, item in value.items() if isinstance(key, int)}


def _int(value: cbor.Value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _malformed("expected an unsigned integer")
    return value


def _ascending(items: tuple[_Item, ...]) -> None:
    if len(items) > MAX_ITEMS or any(a >= b for a, b in itertools.pairwise(items)):
        raise _malformed("list not strictly ascending or too long")


def _int_list(value: cbor.Value, *, minimum: int) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise _malformed("expected an array")
    items = tuple(_int(item) for item in value)
    if any(item < minimum for item in items) or (minimum and not items):
        raise _malformed("empty or out-of-range list")
    _ascending(items)
    return items


def _currency_list(value: cbor.Value) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _malformed("expected a non-empty currency array")
    items = tuple(item for item in value if isinstance(item, str) and _CURRENCY.fullmatch(item))
    if len(items) != len(value):
        raise _malformed("currency codes are three capital letters")
    _ascending(items)
    return items


def _check_limits(max_message_size: int, chunk_size: int) -> None:
    if not MIN_MESSAGE_SIZE <= max_message_size <= MAX_MESSAGE_HARD_CAP:
        raise RemoteProtocolError(ErrorCode.NEGOTIATION_BAD_LIMITS, "max message size")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise RemoteProtocolError(ErrorCode.NEGOTIATION_BAD_LIMITS, "chunk size")
