"""Read a btsnoop capture (RFC 1761 framing, H4 datalink) and list the ATT PDUs per connection.

What is counted is what a person at a gate feels: on a real link every change of direction
waits for a connection event, so the number of ATT direction changes over the whole
connection (set-up included: MTU exchange, discovery, subscriptions) bounds how fast a tap
can be. Bumble writes such captures with ``BUMBLE_SNOOPER=btsnoop:file:PATH``; BlueZ's
``btmon -w`` writes the same format (datalink 1002, H4) on Linux.

Format (big-endian): an 8-byte ``btsnoop\\0`` magic, version (4) = 1, datalink (4) = 1002;
then records: original length (4), included length (4), flags (4: bit 0 set = received by
the host, bit 1 set = command or event), cumulative drops (4), timestamp (8, microseconds
since 0000-01-01), and the H4 packet (its first byte the packet type). ACL packets carry
L2CAP; channel 0x0004 is ATT. L2CAP frames split over several ACL packets are reassembled.
``btmon -w`` writes datalink 2001 (the Linux monitor format) instead: the flags hold the
controller index (upper 16 bits) and the packet kind (lower 16: 3 event, 4 ACL sent, 5 ACL
received), and the packet has no H4 type byte. Both are read; a monitor capture of several
controllers needs the ``index`` to read (``btmon -i hciN`` captures one).

Invariants: nothing is guessed. A record cut short, an unknown datalink or an L2CAP frame
longer than announced is :class:`CaptureError`, never a silently shorter list; PDUs keep
their capture order and host timestamps.
"""

from __future__ import annotations

import itertools
import math
import struct
from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "ATT_OPCODES",
    "AttPdu",
    "CaptureError",
    "Connection",
    "Direction",
    "LinkModel",
    "parse_btsnoop",
]

_MAGIC = b"btsnoop\0"
_DATALINK_H4 = 1002
_DATALINK_MONITOR = 2001
_MONITOR_EVENT, _MONITOR_ACL_TX, _MONITOR_ACL_RX = 3, 4, 5
_RECORD = struct.Struct(">IIIIQ")
_H4_ACL = 0x02
_H4_EVENT = 0x04
_ATT_CID = 0x0004
_EVENT_DISCONNECTION_COMPLETE = 0x05
_EVENT_LE_META = 0x3E
_LE_CONNECTION_COMPLETE = (0x01, 0x0A)  # legacy and enhanced
_L2CAP_HEADER = 4

ATT_OPCODES: dict[int, str] = {
    0x01: "ERROR_RSP",
    0x02: "EXCHANGE_MTU_REQ",
    0x03: "EXCHANGE_MTU_RSP",
    0x04: "FIND_INFORMATION_REQ",
    0x05: "FIND_INFORMATION_RSP",
    0x06: "FIND_BY_TYPE_VALUE_REQ",
    0x07: "FIND_BY_TYPE_VALUE_RSP",
    0x08: "READ_BY_TYPE_REQ",
    0x09: "READ_BY_TYPE_RSP",
    0x0A: "READ_REQ",
    0x0B: "READ_RSP",
    0x0C: "READ_BLOB_REQ",
    0x0D: "READ_BLOB_RSP",
    0x0E: "READ_MULTIPLE_REQ",
    0x0F: "READ_MULTIPLE_RSP",
    0x10: "READ_BY_GROUP_TYPE_REQ",
    0x11: "READ_BY_GROUP_TYPE_RSP",
    0x12: "WRITE_REQ",
    0x13: "WRITE_RSP",
    0x16: "PREPARE_WRITE_REQ",
    0x17: "PREPARE_WRITE_RSP",
    0x18: "EXECUTE_WRITE_REQ",
    0x19: "EXECUTE_WRITE_RSP",
    0x1B: "HANDLE_VALUE_NTF",
    0x1D: "HANDLE_VALUE_IND",
    0x1E: "HANDLE_VALUE_CFM",
    0x20: "READ_MULTIPLE_VARIABLE_REQ",
    0x21: "READ_MULTIPLE_VARIABLE_RSP",
    0x23: "MULTIPLE_HANDLE_VALUE_NTF",
    0x52: "WRITE_CMD",
    0xD2: "SIGNED_WRITE_CMD",
}
"""ATT opcodes (Bluetooth Core 5.4, Vol 3, Part F, 3.4.8) by value."""


class CaptureError(ValueError):
    """The capture is not a btsnoop H4 file, or a record or frame in it is damaged."""


class Direction(Enum):
    """Who sent a PDU, seen from the host that wrote the capture."""

    SENT = "sent"
    """This host sent it (host to controller)."""
    RECEIVED = "received"
    """The peer sent it (controller to host)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AttPdu:
    """One ATT PDU on one connection."""

    direction: Direction
    opcode: int
    size: int
    """Bytes of the ATT PDU (opcode included, L2CAP header not)."""
    timestamp_us: int

    @property
    def name(self) -> str:
        """The opcode's name (``OPCODE_0xNN`` when unknown)."""
        return ATT_OPCODES.get(self.opcode, f"OPCODE_0x{self.opcode:02X}")


@dataclass(kw_only=True)
class Connection:
    """The ATT traffic of one connection handle, and when the connection began and ended."""

    handle: int
    connected_us: int | None = None
    disconnected_us: int | None = None
    pdus: list[AttPdu] = field(default_factory=list)

    def direction_changes(self) -> int:
        """How often consecutive PDUs change direction."""
        return sum(1 for a, b in itertools.pairwise(self.pdus) if a.direction is not b.direction)

    def by_opcode(self) -> dict[str, int]:
        """PDU counts per opcode name and direction, e.g. ``sent WRITE_CMD``."""
        counts: dict[str, int] = {}
        for pdu in self.pdus:
            key = f"{pdu.direction.value} {pdu.name}"
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))

    def bytes_each_way(self) -> dict[str, int]:
        """ATT bytes sent and received."""
        return {d.value: sum(p.size for p in self.pdus if p.direction is d) for d in Direction}


@dataclass(frozen=True, kw_only=True)
class LinkModel:
    """A stated model of a BLE link, to project a capture's PDUs onto connection events.

    - Each run of PDUs in one direction starts at a new connection event: the other side's
      host cannot answer within the 150 us inter-frame space, so every direction change
      costs (at least) one connection interval.
    - A PDU travels as ``ceil((size + 4) / ll_payload)`` link-layer packets (4 bytes of
      L2CAP header); ``ll_payload`` is 251 with Data Length Extension, 27 without.
    - One connection event carries at most ``packets_per_event`` packets in a direction.
    - Connect-to-last-PDU time = connection events used * interval (the first event
      follows the connection request by about one interval).
    """

    interval_ms: float
    ll_payload: int = 251
    packets_per_event: int = 6

    def events(self, pdus: list[AttPdu]) -> int:
        """Connection events the PDUs need under this model."""
        total = 0
        for _, run in itertools.groupby(pdus, key=lambda p: p.direction):
            packets = sum(math.ceil((p.size + _L2CAP_HEADER) / self.ll_payload) for p in run)
            total += math.ceil(packets / self.packets_per_event)
        return total

    def projected_ms(self, pdus: list[AttPdu]) -> float:
        """Projected time from the connection to the last PDU, in milliseconds."""
        return self.events(pdus) * self.interval_ms


@dataclass
class _Reassembly:
    expected: int
    data: bytearray
    direction: Direction
    timestamp_us: int


def parse_btsnoop(data: bytes, *, index: int | None = None) -> dict[int, Connection]:
    """The ATT PDUs of every connection handle in a btsnoop capture, in capture order.

    H4 captures (datalink 1002, Bumble's snooper) and Linux monitor captures (datalink 2001,
    ``btmon -w``) are read; of a monitor capture, only controller ``index`` (CaptureError if
    None and the capture holds ACL or event packets of several controllers).
    """
    if len(data) < 16 or data[:8] != _MAGIC:
        raise CaptureError("not a btsnoop file")
    version, datalink = struct.unpack_from(">II", data, 8)
    if version != 1 or datalink not in (_DATALINK_H4, _DATALINK_MONITOR):
        raise CaptureError(f"btsnoop version {version}, datalink {datalink}: want 1, 1002/2001")
    connections: dict[int, Connection] = {}
    partial: dict[int, _Reassembly] = {}
    indexes: set[int] = set()
    offset = 16
    while offset < len(data):
        if offset + _RECORD.size > len(data):
            raise CaptureError(f"record header cut short at byte {offset}")
        _, included, flags, _, timestamp = _RECORD.unpack_from(data, offset)
        offset += _RECORD.size
        packet = data[offset : offset + included]
        if len(packet) != included:
            raise CaptureError(f"record cut short at byte {offset}")
        offset += included
        if datalink == _DATALINK_MONITOR:
            packet, direction = _from_monitor(flags, packet, index, indexes)
        else:
            direction = Direction.RECEIVED if flags & 1 else Direction.SENT
        if not packet:
            continue
        if packet[0] == _H4_EVENT:
            _on_event(packet, timestamp, connections)
        elif packet[0] == _H4_ACL:
            _on_acl(packet, direction, timestamp, connections, partial)
    return connections


def _from_monitor(
    flags: int, packet: bytes, index: int | None, indexes: set[int]
) -> tuple[bytes, Direction]:
    """A monitor record as an H4 packet (empty if not an event or ACL of ``index``)."""
    kind, controller = flags & 0xFFFF, flags >> 16
    prefix = {
        _MONITOR_EVENT: (_H4_EVENT, Direction.RECEIVED),
        _MONITOR_ACL_TX: (_H4_ACL, Direction.SENT),
        _MONITOR_ACL_RX: (_H4_ACL, Direction.RECEIVED),
    }.get(kind)
    if prefix is None or (index is not None and controller != index):
        return b"", Direction.SENT
    indexes.add(controller)
    if len(indexes) > 1:
        raise CaptureError(f"a monitor capture of controllers {sorted(indexes)}: pass index")
    return bytes([prefix[0]]) + packet, prefix[1]


def _on_event(packet: bytes, timestamp: int, connections: dict[int, Connection]) -> None:
    if len(packet) < 3:
        raise CaptureError("HCI event cut short")
    code, body = packet[1], packet[3:]
    if code == _EVENT_LE_META and len(body) >= 4 and body[0] in _LE_CONNECTION_COMPLETE:
        if body[1] == 0:  # status: success
            handle = struct.unpack_from("<H", body, 2)[0] & 0x0FFF
            connections[handle] = Connection(handle=handle, connected_us=timestamp)
    elif code == _EVENT_DISCONNECTION_COMPLETE and len(body) >= 3 and body[0] == 0:
        handle = struct.unpack_from("<H", body, 1)[0] & 0x0FFF
        if handle in connections:
            connections[handle].disconnected_us = timestamp


def _on_acl(
    packet: bytes,
    direction: Direction,
    timestamp: int,
    connections: dict[int, Connection],
    partial: dict[int, _Reassembly],
) -> None:
    if len(packet) < 5:
        raise CaptureError("ACL packet cut short")
    header, length = struct.unpack_from("<HH", packet, 1)
    handle, boundary = header & 0x0FFF, (header >> 12) & 0x3
    payload = packet[5 : 5 + length]
    if len(payload) != length:
        raise CaptureError("ACL payload shorter than its header says")
    key = handle * 2 + (direction is Direction.RECEIVED)
    if boundary == 0b01:  # a continuation of the frame under way in this direction
        frame = partial.get(key)
        if frame is None:
            raise CaptureError(f"continuation without a start on handle {handle}")
        frame.data += payload
    else:
        if len(payload) < _L2CAP_HEADER:
            raise CaptureError("L2CAP header cut short")
        expected = struct.unpack_from("<H", payload, 0)[0] + _L2CAP_HEADER
        frame = _Reassembly(expected, bytearray(payload), direction, timestamp)
        partial[key] = frame
    if len(frame.data) > frame.expected:
        raise CaptureError(f"L2CAP frame longer than announced on handle {handle}")
    if len(frame.data) < frame.expected:
        return
    del partial[key]
    cid = struct.unpack_from("<H", frame.data, 2)[0]
    att = bytes(frame.data[_L2CAP_HEADER:])
    if cid != _ATT_CID or not att:
        return
    connection = connections.setdefault(handle, Connection(handle=handle))
    connection.pdus.append(
        AttPdu(
            direction=frame.direction,
            opcode=att[0],
            size=len(att),
            timestamp_us=frame.timestamp_us,
        )
    )
