"""The GATT service layout, Info payload, advertising format and chunk rule, as data.

``SERVICE`` is the one layout shared by every peripheral and central backend; ``gatt/SERVICE.md``
documents the same values in prose and a test checks that the two agree.

Invariants:
- UUIDs never change once released: a peer finds us by them.
- A chunk is at most ``max_chunk(att_mtu) = min(att_mtu - 3, 512)`` bytes (a central's
  writes at most ``max_write_chunk(att_mtu) = min(att_mtu - 3, 510)``): one ATT PDU carries
  one chunk (no prepared/long writes), and no stack accepts an attribute value above 512 bytes.
- Nothing on air identifies a device across sessions: the advertised local name is a fixed
  prefix plus a fresh random session tag (:func:`new_session_tag`), and backends use random
  addresses.
- :meth:`Info.decode` is strict: it accepts exactly the bytes :meth:`Info.encode` produces.
- Profile version 2 (:data:`PROFILE_VERSION`) only adds to version 1: State also takes
  Write Commands (that property is how a central tells a version-2 peripheral), and a
  peripheral whose central did not subscribe to State notifies END as an empty
  Server2Client notification (:data:`END_NOTIFICATION`; a chunk is never empty). Either
  version of a central works with either version of a peripheral.
"""

from __future__ import annotations

import secrets
import struct
import uuid
from dataclasses import dataclass
from enum import Enum, Flag, IntEnum, auto, unique

__all__ = [
    "ATT_MTU_DEFAULT",
    "ATT_MTU_MAX",
    "END_NOTIFICATION",
    "PROFILE_VERSION",
    "MAX_ATTRIBUTE_VALUE",
    "MAX_WRITE_VALUE",
    "NAME_PREFIX",
    "SERVICE",
    "STATE_MAX_LENGTH",
    "TAG_ALPHABET",
    "TAG_LENGTH",
    "CharacteristicSpec",
    "Info",
    "Permissions",
    "Properties",
    "Role",
    "ServiceSpec",
    "StateValue",
    "decode_start",
    "starts_by_command",
    "encode_start",
    "is_end",
    "local_name_for",
    "max_chunk",
    "max_write_chunk",
    "new_session_tag",
    "tag_from_local_name",
]

ATT_MTU_DEFAULT = 23
"""The ATT MTU before any exchange (Core Vol 3 Part F 3.2.8)."""
ATT_MTU_MAX = 517
"""The largest ATT MTU worth asking for: 512-byte values plus the 5-byte worst-case header."""
MAX_ATTRIBUTE_VALUE = 512
"""No attribute value is longer (Core Vol 3 Part F 3.2.9); Bumble refuses longer writes."""
MAX_WRITE_VALUE = 510
"""Largest value a central writes (BlueZ refuses more; see :func:`max_write_chunk`)."""
PROFILE_VERSION = 2
"""The GATT profile's version (gatt/SERVICE.md). 1: START with response, END only on State.
2: State also declares write without response (START goes as a Write Command), and END may
travel as :data:`END_NOTIFICATION` so a central needs one subscription, not two."""
END_NOTIFICATION = b""
"""END from the peripheral on Server2Client (profile 2): an empty notification. A chunk is
never empty, so it cannot be mistaken for one; the bytes of chunks are untouched."""
NAME_PREFIX = "pp"
"""Fixed prefix of the advertised local name; the session tag follows it."""
TAG_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
"""Lower-case RFC 4648 base32 alphabet: 5 bits per character, readable on a screen."""
TAG_LENGTH = 6
"""Characters in a session tag (30 random bits): the name fits 31-byte legacy advertising."""


def max_chunk(att_mtu: int) -> int:
    """The largest chunk one ATT PDU carries at this MTU: ``min(att_mtu - 3, 512)``.

    This is the peripheral's notification size; a central writes at most
    :func:`max_write_chunk`.
    """
    if att_mtu < ATT_MTU_DEFAULT:
        raise ValueError(f"ATT MTU {att_mtu} is below the minimum {ATT_MTU_DEFAULT}")
    return min(att_mtu - 3, MAX_ATTRIBUTE_VALUE)


def max_write_chunk(att_mtu: int) -> int:
    """The largest chunk a central writes at this MTU: ``min(att_mtu - 3, 510)``.

    BlueZ's GATT server (5.66, Debian 12) counts the 2-byte handle in its length check
    (``check_length(length, 0)`` in src/shared/gatt-server.c, fixed upstream): it answers a
    511- or 512-byte Write Request with "Invalid Attribute Value Length" and silently drops
    such a Write Command (seen in the test-bed VM). Any central may meet a Linux peripheral,
    so every central keeps under it; 2 bytes of 512 cost nothing measurable.
    """
    return min(max_chunk(att_mtu), MAX_WRITE_VALUE)


def new_session_tag() -> str:
    """A fresh random session tag; call once per session so no tag is seen twice."""
    return "".join(secrets.choice(TAG_ALPHABET) for _ in range(TAG_LENGTH))


def _check_tag(tag: str) -> str:
    if len(tag) != TAG_LENGTH or any(c not in TAG_ALPHABET for c in tag):
        raise ValueError(f"session tag must be {TAG_LENGTH} characters of {TAG_ALPHABET!r}")
    return tag


def local_name_for(tag: str) -> str:
    """The advertised local name for a session tag: ``NAME_PREFIX + tag``."""
    return NAME_PREFIX + _check_tag(tag)


def tag_from_local_name(name: str | None) -> str | None:
    """The session tag in an advertised local name, or None if the name is not ours."""
    if name is None or not name.startswith(NAME_PREFIX):
        return None
    tag = name[len(NAME_PREFIX) :]
    if len(tag) != TAG_LENGTH or any(c not in TAG_ALPHABET for c in tag):
        return None
    return tag


class Properties(Flag):
    """GATT characteristic properties (Core Vol 3 Part G 3.3.1.1), the subset we use."""

    READ = auto()
    """The central may read the value."""
    WRITE_WITHOUT_RESPONSE = auto()
    """The central may write with an ATT Write Command (no response, no round trip)."""
    WRITE = auto()
    """The central may write with an ATT Write Request (one round trip per write)."""
    NOTIFY = auto()
    """The peripheral may notify the value (no confirmation)."""


class Permissions(Flag):
    """Attribute permissions. No encryption is required at the ATT layer: the protocol above
    runs its own authenticated channel, and BLE Just Works pairing would prove nothing."""

    READABLE = auto()
    """Reads are allowed without pairing."""
    WRITEABLE = auto()
    """Writes are allowed without pairing."""


@unique
class Role(Enum):
    """What a characteristic is for; the key backends look characteristics up by."""

    STATE = "State"
    """Session start/end: the central writes START/END, the peripheral notifies END."""
    CLIENT2SERVER = "Client2Server"
    """Chunks from central to peripheral, by write without response (fast path)."""
    SERVER2CLIENT = "Server2Client"
    """Chunks from peripheral to central, by notification."""
    INFO = "Info"
    """Versions and limits of the peripheral, readable before anything else."""


@unique
class StateValue(IntEnum):
    """First byte of a State value."""

    START = 0x01
    """Central to peripheral: subscribed and ready; the link is open from here. May carry
    the ATT MTU in force (see :func:`encode_start`)."""
    END = 0x02
    """Either way: the session is over; the receiver closes its side of the link."""


_START_WITH_MTU = struct.Struct(">BH")
STATE_MAX_LENGTH = _START_WITH_MTU.size
"""Longest State value: START with the ATT MTU."""


def encode_start(att_mtu: int) -> bytes:
    """The central's START write, carrying the ATT MTU in force: ``0x01 | att_mtu (u16 BE)``.

    A peripheral stack that cannot see the MTU (bless) sizes its notifications from it.
    """
    if not ATT_MTU_DEFAULT <= att_mtu <= ATT_MTU_MAX:
        raise ValueError(f"ATT MTU {att_mtu} outside {ATT_MTU_DEFAULT}..{ATT_MTU_MAX}")
    return _START_WITH_MTU.pack(StateValue.START, att_mtu)


def decode_start(value: bytes) -> int | None:
    """The ATT MTU a START write carries (23 for a bare one-byte START), or None if
    ``value`` is not a START."""
    if value == bytes([StateValue.START]):
        return ATT_MTU_DEFAULT
    if len(value) != _START_WITH_MTU.size:
        return None
    kind, att_mtu = _START_WITH_MTU.unpack(value)
    if kind != StateValue.START or not ATT_MTU_DEFAULT <= att_mtu <= ATT_MTU_MAX:
        return None
    return int(att_mtu)


def is_end(value: bytes) -> bool:
    """Whether a State value is END."""
    return value == bytes([StateValue.END])


def starts_by_command(state: Properties) -> bool:
    """Whether a peripheral whose State characteristic declares ``state`` speaks profile 2:
    START may go as a Write Command and END may come as :data:`END_NOTIFICATION`, so the
    central subscribes to Server2Client only. A version-1 peripheral lacks the property; its
    central writes START with response and subscribes to State too."""
    return Properties.WRITE_WITHOUT_RESPONSE in state


@dataclass(frozen=True, kw_only=True)
class CharacteristicSpec:
    """One characteristic of the service."""

    role: Role
    """What it carries."""
    uuid: uuid.UUID
    """Its 128-bit UUID."""
    properties: Properties
    """GATT properties it declares."""
    permissions: Permissions
    """ATT permissions of its value."""
    max_length: int
    """Longest value it takes or gives, in bytes."""


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    """The service layout: one primary service and its characteristics."""

    uuid: uuid.UUID
    """The primary service UUID; also advertised, and the scan filter."""
    characteristics: tuple[CharacteristicSpec, ...]
    """Characteristics, in declaration order."""

    def characteristic(self, role: Role) -> CharacteristicSpec:
        """The characteristic with this role (every role is present exactly once)."""
        for characteristic in self.characteristics:
            if characteristic.role is role:
                return characteristic
        raise KeyError(role)


def _uuid(first: int) -> uuid.UUID:
    # One random base, first 32 bits varied per attribute (the way ISO/IEC 18013-5 numbers its).
    return uuid.UUID(f"{first:08x}-a7a2-458d-9344-5e14da7a6acc")


SERVICE = ServiceSpec(
    uuid=_uuid(0x632F0D28),
    characteristics=(
        CharacteristicSpec(
            role=Role.STATE,
            uuid=_uuid(0x632F0D29),
            properties=Properties.WRITE_WITHOUT_RESPONSE | Properties.WRITE | Properties.NOTIFY,
            permissions=Permissions.WRITEABLE,
            max_length=STATE_MAX_LENGTH,
        ),
        CharacteristicSpec(
            role=Role.CLIENT2SERVER,
            uuid=_uuid(0x632F0D2A),
            properties=Properties.WRITE_WITHOUT_RESPONSE | Properties.WRITE,
            permissions=Permissions.WRITEABLE,
            max_length=MAX_ATTRIBUTE_VALUE,
        ),
        CharacteristicSpec(
            role=Role.SERVER2CLIENT,
            uuid=_uuid(0x632F0D2B),
            properties=Properties.NOTIFY,
            permissions=Permissions(0),
            max_length=MAX_ATTRIBUTE_VALUE,
        ),
        CharacteristicSpec(
            role=Role.INFO,
            uuid=_uuid(0x632F0D2C),
            properties=Properties.READ,
            permissions=Permissions.READABLE,
            max_length=MAX_ATTRIBUTE_VALUE,
        ),
    ),
)
"""The p2ppay service."""

_INFO_FORMAT = 1
_INFO_HEAD = struct.Struct(">BB")
_INFO_TAIL = struct.Struct(">I")


@dataclass(frozen=True, kw_only=True)
class Info:
    """The Info characteristic's value: what the peripheral speaks and how much it takes.

    Wire form (big-endian): ``format=1 (u8) | n (u8, 1..255) | n versions (u8 each, strictly
    increasing) | max_message_size (u32, > 0)``. The versions are opaque to ``gatt``.
    """

    versions: tuple[int, ...]
    """Supported versions of the protocol above, strictly increasing, each 0..255."""
    max_message_size: int
    """Largest reassembled message the peripheral accepts, in bytes (1..2**32-1)."""

    def __post_init__(self) -> None:
        if not 1 <= len(self.versions) <= 255:
            raise ValueError("Info needs 1 to 255 versions")
        if any(not 0 <= v <= 255 for v in self.versions):
            raise ValueError("each version must fit one byte")
        if any(a >= b for a, b in zip(self.versions, self.versions[1:], strict=False)):
            raise ValueError("versions must be strictly increasing")
        if not 0 < self.max_message_size < 2**32:
            raise ValueError("max_message_size must be in 1..2**32-1")

    def encode(self) -> bytes:
        """The Info value as read over the air."""
        return (
            _INFO_HEAD.pack(_INFO_FORMAT, len(self.versions))
            + bytes(self.versions)
            + _INFO_TAIL.pack(self.max_message_size)
        )

    @classmethod
    def decode(cls, data: bytes) -> Info:
        """Parse an Info value; ValueError unless ``data`` is exactly a valid encoding."""
        if len(data) < _INFO_HEAD.size:
            raise ValueError("Info too short")
        fmt, count = _INFO_HEAD.unpack_from(data)
        if fmt != _INFO_FORMAT:
            raise ValueError(f"unknown Info format {fmt}")
        if len(data) != _INFO_HEAD.size + count + _INFO_TAIL.size:
            raise ValueError("Info length does not match its version count")
        versions = tuple(data[_INFO_HEAD.size : _INFO_HEAD.size + count])
        (max_message_size,) = _INFO_TAIL.unpack_from(data, _INFO_HEAD.size + count)
        return cls(versions=versions, max_message_size=max_message_size)
