"""Chunks on the air: split a message into ATT-sized chunks and put it back together, bounded.

Wire format of one chunk (one ATT write or notification value)::

    header (1 byte)   bit 0: 1 = more chunks follow, 0 = last chunk (as ISO/IEC 18013-5)
                      bits 1-6: sequence number of the chunk within its message, mod 64
                      bit 7: reserved, 0
    body              the first chunk's body starts with the message length (2 bytes,
                      big-endian, 1..MAX_MESSAGE_HARD_CAP); then message bytes

A message of ``L`` bytes at chunk size ``c`` takes ``ceil((L + 2) / (c - 1))`` chunks; every
chunk but the last is full.

Invariants:
- The reassembler never holds more than ``limits.max_message_size`` bytes nor accepts more
  than ``limits.max_chunks`` chunks for one message, and no chunk longer than
  ``limits.max_chunk_size``: memory is bounded whatever the peer sends.
- A chunk that is out of order, a duplicate, too large, or that truncates or overruns the
  announced length raises :class:`~protocol.errors.RemoteProtocolError` with its own 6xx code.
- Time is an argument (the session's clock, integer milliseconds); a partial message older than
  ``limits.timeout_ms`` fails with ``FRAME_TIMEOUT`` at ``check_timer``.
- After an error the reassembler stays failed: the session ends, it does not resynchronise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NoReturn

from protocol.errors import ErrorCode, LocalProtocolError, RemoteProtocolError

__all__ = [
    "HEADER_SIZE",
    "LENGTH_SIZE",
    "MAX_CHUNK_SIZE",
    "MAX_MESSAGE_HARD_CAP",
    "MIN_CHUNK_SIZE",
    "FrameLimits",
    "Reassembler",
    "chunk_count",
    "chunk_message",
    "chunk_size_for_mtu",
]

HEADER_SIZE: Final = 1
LENGTH_SIZE: Final = 2
MIN_CHUNK_SIZE: Final = 20
"""ATT_MTU 23 (the BLE minimum) minus the 3-byte ATT header."""
MAX_CHUNK_SIZE: Final = 512
"""The longest ATT attribute value."""
MAX_MESSAGE_HARD_CAP: Final = 16384
"""No negotiation can raise the maximum message size above this."""

_MORE: Final = 0x01
_SEQ_SHIFT: Final = 1
_SEQ_MOD: Final = 64
_RESERVED: Final = 0x80


def chunk_size_for_mtu(att_mtu: int) -> int:
    """The chunk size for a link: min(ATT_MTU - 3, 512)."""
    if att_mtu < MIN_CHUNK_SIZE + 3:
        raise LocalProtocolError(ErrorCode.NEGOTIATION_BAD_LIMITS, f"ATT MTU {att_mtu} < 23")
    return min(att_mtu - 3, MAX_CHUNK_SIZE)


def _check_chunk_size(chunk_size: int) -> None:
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise LocalProtocolError(ErrorCode.NEGOTIATION_BAD_LIMITS, f"chunk size {chunk_size}")


def chunk_count(message_size: int, chunk_size: int) -> int:
    """How many chunks a message of ``message_size`` bytes takes at ``chunk_size``."""
    _check_chunk_size(chunk_size)
    return -(-(message_size + LENGTH_SIZE) // (chunk_size - HEADER_SIZE))


def chunk_message(message: bytes, chunk_size: int) -> list[bytes]:
    """Split one message into chunks of at most ``chunk_size`` bytes, headers included."""
    _check_chunk_size(chunk_size)
    if not 0 < len(message) <= MAX_MESSAGE_HARD_CAP:
        raise LocalProtocolError(ErrorCode.FRAME_OVERSIZED, f"message of {len(message)} bytes")
    body = len(message).to_bytes(LENGTH_SIZE, "big") + message
    step = chunk_size - HEADER_SIZE
    pieces = [body[start : start + step] for start in range(0, len(body), step)]
    last = len(pieces) - 1
    return [
        bytes((((index % _SEQ_MOD) << _SEQ_SHIFT) | (_MORE if index < last else 0),)) + piece
        for index, piece in enumerate(pieces)
    ]


@dataclass(frozen=True, kw_only=True)
class FrameLimits:
    """Bounds for one direction's reassembler."""

    max_message_size: int = 4096
    """Largest message accepted (negotiated; never above :data:`MAX_MESSAGE_HARD_CAP`)."""
    max_chunk_size: int = MAX_CHUNK_SIZE
    """Largest chunk accepted, header included (negotiated; 20..512)."""
    timeout_ms: int = 10_000
    """How long a partly received message may stay incomplete."""
    max_chunks: int | None = None
    """Most chunks per message; None means what the largest message needs at full chunks."""

    def __post_init__(self) -> None:
        _check_chunk_size(self.max_chunk_size)
        if not 0 < self.max_message_size <= MAX_MESSAGE_HARD_CAP:
            raise LocalProtocolError(ErrorCode.NEGOTIATION_BAD_LIMITS, "max message size")
        if self.timeout_ms <= 0 or (self.max_chunks is not None and self.max_chunks <= 0):
            raise LocalProtocolError(ErrorCode.NEGOTIATION_BAD_LIMITS, "timeout or max chunks")

    @property
    def chunk_limit(self) -> int:
        """The effective maximum number of chunks per message."""
        if self.max_chunks is not None:
            return self.max_chunks
        return chunk_count(self.max_message_size, self.max_chunk_size)


class Reassembler:
    """Collects the chunks of one message at a time; see the module docstring for the rules."""

    def __init__(self, limits: FrameLimits) -> None:
        self._limits = limits
        self._buffer = bytearray()
        self._expected_length = 0
        self._chunks = 0
        self._started_at: int | None = None
        self._failed: RemoteProtocolError | None = None

    @property
    def limits(self) -> FrameLimits:
        """The bounds in force."""
        return self._limits

    def set_limits(self, limits: FrameLimits) -> None:
        """Apply negotiated bounds; only between messages."""
        if self._started_at is not None:
            raise LocalProtocolError(ErrorCode.SESSION_API_MISUSE, "limits change mid-message")
        self._limits = limits

    @property
    def in_progress(self) -> bool:
        """True while a message is partly received."""
        return self._started_at is not None

    def deadline(self) -> int | None:
        """When the partial message times out, or None if there is none."""
        if self._started_at is None or self._failed is not None:
            return None
        return self._started_at + self._limits.timeout_ms

    def check_timer(self, now: int) -> None:
        """Raise ``FRAME_TIMEOUT`` if the partial message is overdue."""
        deadline = self.deadline()
        if deadline is not None and now >= deadline:
            self._fail(ErrorCode.FRAME_TIMEOUT, "message incomplete at its deadline")

    def _fail(self, code: ErrorCode, message: str) -> NoReturn:
        self._failed = RemoteProtocolError(code, message)
        raise self._failed

    def feed(self, chunk: bytes, now: int) -> bytes | None:
        """Take one chunk; return the message when ``chunk`` completes one, else None."""
        if self._failed is not None:
            raise self._failed
        self.check_timer(now)
        if not chunk:
            self._fail(ErrorCode.FRAME_EMPTY, "chunk without a header")
        if len(chunk) > self._limits.max_chunk_size:
            self._fail(ErrorCode.FRAME_CHUNK_TOO_LARGE, f"chunk of {len(chunk)} bytes")
        header, body = chunk[0], chunk[HEADER_SIZE:]
        if header & _RESERVED:
            self._fail(ErrorCode.FRAME_BAD_HEADER, f"header {header:#04x}")
        sequence, more = header >> _SEQ_SHIFT, bool(header & _MORE)
        expected = self._chunks % _SEQ_MOD
        if sequence != expected:
            previous = (self._chunks - 1) % _SEQ_MOD
            duplicate = self._chunks > 0 and sequence == previous
            code = ErrorCode.FRAME_DUPLICATE if duplicate else ErrorCode.FRAME_OUT_OF_ORDER
            self._fail(code, f"chunk {sequence}, expected {expected}")
        if self._chunks + 1 > self._limits.chunk_limit:
            self._fail(ErrorCode.FRAME_TOO_MANY_CHUNKS, f"more than {self._limits.chunk_limit}")
        if self._chunks == 0:
            body = self._start(body, now)
        self._chunks += 1
        self._buffer += body
        got = len(self._buffer)
        if got > self._expected_length or (more and got == self._expected_length):
            self._fail(ErrorCode.FRAME_TRAILING, f"{got} bytes, announced {self._expected_length}")
        if more:
            return None
        if got < self._expected_length:
            self._fail(ErrorCode.FRAME_TRUNCATED, f"{got} bytes, announced {self._expected_length}")
        message = bytes(self._buffer)
        self._buffer.clear()
        self._chunks = 0
        self._started_at = None
        return message

    def _start(self, body: bytes, now: int) -> bytes:
        if len(body) < LENGTH_SIZE:
            self._fail(ErrorCode.FRAME_BAD_LENGTH, "length prefix cut short")
        length = int.from_bytes(body[:LENGTH_SIZE], "big")
        if length == 0:
            self._fail(ErrorCode.FRAME_BAD_LENGTH, "zero-length message")
        if length > self._limits.max_message_size:
            self._fail(ErrorCode.FRAME_OVERSIZED, f"{length} > {self._limits.max_message_size}")
        self._expected_length = length
        self._started_at = now
        return body[LENGTH_SIZE:]
