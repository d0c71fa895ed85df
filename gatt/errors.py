"""Typed link errors, each carrying one stable code local to ``gatt``.

Exception tree::

    GattError                    every failure the byte pipe reports (``code`` says which)
    ├── LinkClosed               the link is gone: the peer left, the radio dropped, or we closed
    ├── LinkTimeout              a bounded wait (connect, scan, accept, write) ran out
    ├── AdapterUnavailable       the adapter cannot be opened (absent, busy, powered off)
    │   └── PublicAddress        a peripheral would advertise from the adapter's fixed address
    ├── BadAdapter               the adapter string names no backend (a caller bug)
    ├── ConnectFailed            the central could not connect to or set up the peer
    ├── ServiceMismatch          the peer lacks our service layout or its Info is malformed
    └── ChunkTooLarge            a chunk was larger than the link's ``max_chunk`` (a caller bug)

Invariants:
- Every code is a member of the single ``@unique`` :class:`LinkErrorCode` IntEnum; a number is
  never reused or renumbered. ``gatt`` never imports ``protocol``: the application maps these
  codes onto its own when it needs to.
- Backend exceptions (Bumble, bleak, bless, OS errors) never escape a backend: each is
  re-raised as one of these, ``from`` the cause.
"""

from __future__ import annotations

from enum import IntEnum, unique

__all__ = [
    "AdapterUnavailable",
    "BadAdapter",
    "ChunkTooLarge",
    "ConnectFailed",
    "GattError",
    "LinkClosed",
    "LinkErrorCode",
    "LinkTimeout",
    "PublicAddress",
    "ServiceMismatch",
]


@unique
class LinkErrorCode(IntEnum):
    """Stable codes of the byte pipe. Never renumber; append only."""

    LINK_CLOSED = 1
    """The link is closed: the peer disconnected or ended the session, or we closed it."""
    LINK_TIMEOUT = 2
    """A bounded wait ran out (scan, connect, accept, a write's response)."""
    ADAPTER_UNAVAILABLE = 3
    """The adapter exists in the string but cannot be opened or powered on."""
    BAD_ADAPTER = 4
    """The adapter string names no known backend or is malformed."""
    CONNECT_FAILED = 5
    """The connection or its set-up (MTU, discovery, subscription, State start) failed."""
    SERVICE_MISMATCH = 6
    """The peer does not expose our service layout, or its Info payload is malformed."""
    CHUNK_TOO_LARGE = 7
    """A chunk longer than ``Link.max_chunk`` was given to ``send``."""
    PUBLIC_ADDRESS = 8
    """A peripheral would advertise from the adapter's fixed (public) address: the stack's
    privacy (random addresses) is off and ``LinkOptions.allow_public_address`` is not set."""


class GattError(Exception):
    """A byte-pipe failure; ``code`` says which."""

    code: LinkErrorCode = LinkErrorCode.LINK_CLOSED

    def __init__(self, message: str = "") -> None:
        self.message = message or self.code.name
        super().__init__(f"{self.code.name} ({int(self.code)}): {self.message}")


class LinkClosed(GattError):
    """The link is gone. Raised by ``send``/``receive`` on both sides once the other end left."""

    code = LinkErrorCode.LINK_CLOSED


class LinkTimeout(GattError):
    """A bounded wait ran out."""

    code = LinkErrorCode.LINK_TIMEOUT


class AdapterUnavailable(GattError):
    """The adapter cannot be opened (absent, in use, powered off, transport refused)."""

    code = LinkErrorCode.ADAPTER_UNAVAILABLE


class BadAdapter(GattError, ValueError):
    """The adapter string names no backend; a configuration error, not a radio one."""

    code = LinkErrorCode.BAD_ADAPTER


class ConnectFailed(GattError):
    """The central could not connect to the peer or finish setting the link up."""

    code = LinkErrorCode.CONNECT_FAILED


class ServiceMismatch(GattError):
    """The peer lacks our service or characteristics, or its Info cannot be decoded."""

    code = LinkErrorCode.SERVICE_MISMATCH


class ChunkTooLarge(GattError, ValueError):
    """``send`` was given more than ``max_chunk`` bytes; the framing layer must split first."""

    code = LinkErrorCode.CHUNK_TOO_LARGE


class PublicAddress(AdapterUnavailable):
    """The stack would advertise from the adapter's fixed address (privacy is off); the
    message says how to turn privacy on."""

    code = LinkErrorCode.PUBLIC_ADDRESS
