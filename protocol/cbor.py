"""Deterministic CBOR (RFC 8949 section 4.2.1) for p2ppay, with a strict decoder.

Invariants:
- :func:`encode` emits the core deterministic encoding: shortest integer and length
  arguments, definite lengths only, map keys sorted by their encoded bytes.
- :func:`decode` accepts a byte string only if it is *exactly* ``encode(decode(data))``.
  That single rule is what signatures and document hashes rely on; it rejects non-shortest
  forms, unsorted keys, indefinite lengths and trailing bytes at once.
- Only this data model crosses the wire: unsigned and negative integers in the 64-bit CBOR
  range, byte strings, UTF-8 text strings, arrays, maps, ``true``/``false``/``null`` and tag
  18 (COSE_Sign1) as the outermost item when the caller allows it. No floats, no other
  tags, no other simple values.
- Sizes and nesting are bounded (:data:`MAX_SIZE`, :data:`MAX_DEPTH`) before any work
  proportional to the input is done.

The fast path uses cbor2's C decoder and encoder and compares bytes; only when that fails
does the pure-Python :func:`_diagnose` walk the bytes to name the precise error code, so a
peer is told *why* (and the test vectors pin it), while accepted input pays for C speed.
"""

from __future__ import annotations

from typing import TypeAlias

import cbor2

from protocol.errors import ErrorCode, LocalProtocolError, RemoteProtocolError

__all__ = [
    "COSE_SIGN1_TAG",
    "MAX_DEPTH",
    "MAX_LIST_SIZE",
    "MAX_SIZE",
    "Value",
    "decode",
    "encode",
]

MAX_SIZE = 2048
"""Largest encoded item accepted, in bytes (a payment with its allowance is ~500)."""

MAX_LIST_SIZE = 1024 * 1024
"""Largest ledger trust document (issuer set, revocation list) accepted, in bytes. These
travel over HTTP, never over BLE, so they get this larger bound (SPEC section 1)."""

MAX_DEPTH = 4
"""Deepest nesting of arrays/maps/tags accepted (COSE_Sign1 needs 3: tag, array, map)."""

COSE_SIGN1_TAG = 18
"""RFC 9052 tag of COSE_Sign1; the only tag the protocol uses."""

Value: TypeAlias = (
    "int | bytes | str | bool | list[Value] | dict[Value, Value] | cbor2.CBORTag | None"
)
"""A decoded CBOR item in the protocol's data model."""

_UINT64_MAX = 2**64 - 1
_NINT64_MIN = -(2**64)


def encode(value: Value) -> bytes:
    """Encode ``value`` deterministically; raise LocalProtocolError outside the data model."""
    _check_value(value, depth=0, tag_allowed=True, error=LocalProtocolError)
    return cbor2.dumps(value, canonical=True)


def decode(data: bytes, *, tagged: bool = False, max_size: int = MAX_SIZE) -> Value:
    """Decode one deterministic CBOR item; raise RemoteProtocolError with the precise code.

    ``tagged=True`` allows (and requires nothing more than) tag 18 on the outermost item.
    ``max_size`` is :data:`MAX_SIZE` except for the ledger's trust documents
    (:data:`MAX_LIST_SIZE`).
    """
    if len(data) > max_size:
        raise RemoteProtocolError(ErrorCode.CBOR_TOO_LARGE, f"{len(data)} > {max_size} bytes")
    # cbor2 decodes the inside of a tag into tuples and frozendicts; stripping our one
    # allowed tag (0xd2, a one-byte head) first keeps one plain list/dict data model.
    if tagged and data[:1] == _TAG18_HEAD:
        inner = _decode_plain(data, 1)
        return cbor2.CBORTag(COSE_SIGN1_TAG, inner)
    return _decode_plain(data, 0)


_TAG18_HEAD = bytes([0xC0 | COSE_SIGN1_TAG])


def _decode_plain(data: bytes, start: int) -> Value:
    """Decode ``data[start:]`` (an untagged item at nesting ``start``) strictly."""
    body = data[start:] if start else data
    try:
        value: Value = cbor2.loads(
            body,
            allow_indefinite=False,
            allow_duplicate_keys=False,
            # cbor2 counts differently from us; _check_value enforces MAX_DEPTH exactly.
            max_depth=MAX_DEPTH + 2,
        )
        _check_value(value, depth=start, tag_allowed=False, error=RemoteProtocolError)
        same = cbor2.dumps(value, canonical=True) == body
    except RemoteProtocolError:
        _diagnose(data, tagged=start > 0)
        raise
    except Exception as exc:
        # cbor2 raises its own errors, and also ValueError/OverflowError/RecursionError on
        # hostile input; all of them mean "not our CBOR". Name the reason if we can.
        _diagnose(data, tagged=start > 0)
        raise RemoteProtocolError(ErrorCode.CBOR_MALFORMED, str(exc)) from exc
    if not same:
        _diagnose(data, tagged=start > 0)
        raise RemoteProtocolError(ErrorCode.CBOR_NOT_DETERMINISTIC)
    return value


_PLAIN_TYPES = frozenset({bytes, str, bool, type(None)})


def _check_value(
    value: object,
    *,
    depth: int,
    tag_allowed: bool,
    error: type[LocalProtocolError] | type[RemoteProtocolError],
) -> None:
    """Raise ``error`` unless ``value`` is in the protocol's CBOR data model."""
    # Exact-type checks first: every accepted document runs through here, and decoded data
    # has exactly these types; the general path below handles subclasses and rejections.
    if type(value) in _PLAIN_TYPES:
        return
    if isinstance(value, int):  # bool is already out: it is in _PLAIN_TYPES
        if not _NINT64_MIN <= value <= _UINT64_MAX:
            raise error(ErrorCode.CBOR_UNKNOWN_TAG, "integer outside the 64-bit CBOR range")
        return
    if isinstance(value, list | dict):
        if depth >= MAX_DEPTH:
            raise error(ErrorCode.CBOR_TOO_DEEP, f"nesting deeper than {MAX_DEPTH}")
        members = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        for item in members:
            if type(item) not in _PLAIN_TYPES:
                _check_value(item, depth=depth + 1, tag_allowed=False, error=error)
        return
    _check_other(value, depth=depth, tag_allowed=tag_allowed, error=error)


def _check_other(
    value: object,
    *,
    depth: int,
    tag_allowed: bool,
    error: type[LocalProtocolError] | type[RemoteProtocolError],
) -> None:
    """The general (slow) path of :func:`_check_value`: subclasses, tags and rejections."""
    if isinstance(value, bytes | str):
        return
    if isinstance(value, cbor2.CBORTag):
        if depth >= MAX_DEPTH:
            raise error(ErrorCode.CBOR_TOO_DEEP, f"nesting deeper than {MAX_DEPTH}")
        if not tag_allowed or value.tag != COSE_SIGN1_TAG:
            raise error(ErrorCode.CBOR_UNKNOWN_TAG, f"tag {value.tag} not allowed here")
        _check_value(value.value, depth=depth + 1, tag_allowed=False, error=error)
        return
    if isinstance(value, float):
        raise error(ErrorCode.CBOR_FLOAT)
    if isinstance(value, cbor2.CBORSimpleValue) or value is cbor2.undefined:
        raise error(ErrorCode.CBOR_UNSUPPORTED_TYPE, repr(value))
    # Anything else came from a semantic tag decoder of cbor2 (datetime, Decimal, UUID...),
    # or is a tuple/frozendict/subclass container we do not emit.
    raise error(ErrorCode.CBOR_UNKNOWN_TAG, f"unsupported {type(value).__name__}")


# --- diagnosis: only on the failure path -------------------------------------------------


class _Reader:
    """A cursor over the input for :func:`_diagnose`; raises with the first violation."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise RemoteProtocolError(ErrorCode.CBOR_MALFORMED, "truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def head(self) -> tuple[int, int, int]:
        """Read one initial byte + argument; return (major, additional info, argument)."""
        initial = self.take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            return major, info, info
        if info in (24, 25, 26, 27):
            size = 1 << (info - 24)
            arg = int.from_bytes(self.take(size), "big")
            if major == 7:
                return major, info, arg
            shortest_floor = 24 if size == 1 else 1 << (8 * (size // 2))
            if arg < shortest_floor:
                raise RemoteProtocolError(ErrorCode.CBOR_NON_SHORTEST, f"at byte {self.pos}")
            return major, info, arg
        if info == 31:
            if major in (2, 3, 4, 5):
                raise RemoteProtocolError(ErrorCode.CBOR_INDEFINITE_LENGTH)
            if major == 7:
                raise RemoteProtocolError(ErrorCode.CBOR_MALFORMED, "unexpected break")
        raise RemoteProtocolError(ErrorCode.CBOR_MALFORMED, f"reserved info {info}")


def _diagnose(data: bytes, *, tagged: bool) -> None:
    """Walk ``data`` and raise the first violation found; return if none is found."""
    reader = _Reader(data)
    _diagnose_item(reader, depth=0, tag_allowed=tagged)
    if reader.pos != len(data):
        raise RemoteProtocolError(ErrorCode.CBOR_TRAILING_BYTES)


def _diagnose_item(reader: _Reader, *, depth: int, tag_allowed: bool) -> None:
    major, info, arg = reader.head()
    if major in (0, 1):
        return
    if major in (2, 3):
        chunk = reader.take(arg)
        if major == 3:
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RemoteProtocolError(ErrorCode.CBOR_MALFORMED, "invalid UTF-8") from exc
        return
    if major == 7:
        if info in (25, 26, 27):
            raise RemoteProtocolError(ErrorCode.CBOR_FLOAT)
        if arg in (20, 21, 22):
            return
        raise RemoteProtocolError(ErrorCode.CBOR_UNSUPPORTED_TYPE, f"simple value {arg}")
    if depth >= MAX_DEPTH:
        raise RemoteProtocolError(ErrorCode.CBOR_TOO_DEEP, f"nesting deeper than {MAX_DEPTH}")
    if major == 6:
        if not tag_allowed or arg != COSE_SIGN1_TAG:
            raise RemoteProtocolError(ErrorCode.CBOR_UNKNOWN_TAG, f"tag {arg} not allowed here")
        _diagnose_item(reader, depth=depth + 1, tag_allowed=False)
        return
    if major == 4:
        for _ in range(arg):
            _diagnose_item(reader, depth=depth + 1, tag_allowed=False)
        return
    previous: bytes | None = None
    seen: set[bytes] = set()
    for _ in range(arg):
        start = reader.pos
        _diagnose_item(reader, depth=depth + 1, tag_allowed=False)
        key = reader.data[start : reader.pos]
        if key in seen:
            raise RemoteProtocolError(ErrorCode.CBOR_DUPLICATE_KEY)
        if previous is not None and key < previous:
            raise RemoteProtocolError(ErrorCode.CBOR_NOT_DETERMINISTIC, "map keys out of order")
        seen.add(key)
        previous = key
        _diagnose_item(reader, depth=depth + 1, tag_allowed=False)
