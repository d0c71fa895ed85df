"""Typed protocol errors, each carrying one stable wire code.

Exception tree::

    ProtocolError                 every failure the protocol layer reports
    ├── LocalProtocolError        we misused the API or broke a rule ourselves
    └── RemoteProtocolError       the peer (or a document it gave us) broke a rule

Invariants:
- Every code is a member of the single ``@unique`` :class:`ErrorCode` IntEnum; a number is
  never reused or renumbered once released, because it travels in Abort documents and ledger
  answers. New codes are appended inside their range.
- One code per distinct way a message or document can be wrong, so a test can assert the
  exact reason and a peer in another language can map it.

Ranges: 1xx encoding (CBOR), 2xx documents and signatures, 3xx payee acceptance,
4xx ledger chain rules, 5xx handshake and channel, 6xx framing, 7xx sessions, 9xx local.
"""

from __future__ import annotations

from enum import IntEnum, unique

__all__ = ["ErrorCode", "LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


@unique
class ErrorCode(IntEnum):
    """Stable wire error codes. Never renumber; append within the range."""

    # 1xx: encoding
    CBOR_MALFORMED = 100
    """The bytes are not well-formed CBOR."""
    CBOR_INDEFINITE_LENGTH = 101
    """An indefinite-length item (forbidden by deterministic encoding)."""
    CBOR_DUPLICATE_KEY = 102
    """A map repeats a key."""
    CBOR_NON_SHORTEST = 103
    """An integer, length or argument is not in its shortest form."""
    CBOR_FLOAT = 104
    """A floating-point value; the protocol has none."""
    CBOR_UNKNOWN_TAG = 105
    """A tag the protocol does not define at that place."""
    CBOR_TOO_DEEP = 106
    """Nesting deeper than the limit."""
    CBOR_TOO_LARGE = 107
    """The item is larger than the size limit."""
    CBOR_NOT_DETERMINISTIC = 108
    """Well-formed but not the deterministic encoding (for example map keys out of order)."""
    CBOR_TRAILING_BYTES = 109
    """Bytes follow the single top-level item."""
    CBOR_UNSUPPORTED_TYPE = 110
    """A simple value or type the protocol does not use (undefined, other simple values)."""


class ProtocolError(Exception):
    """A protocol rule was broken; ``code`` says which one."""

    code: ErrorCode

    def __init__(self, code: ErrorCode, message: str = "") -> None:
        self.code = code
        self.message = message or code.name
        super().__init__(f"{code.name} ({int(code)}): {self.message}")


class LocalProtocolError(ProtocolError):
    """We broke a rule: API misuse, or an attempt to build an invalid document."""


class RemoteProtocolError(ProtocolError):
    """The peer broke a rule: a document or message it sent is invalid."""
