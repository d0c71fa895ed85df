"""gatt.capture reads btsnoop H4 captures: ATT PDUs per connection, in order, nothing guessed."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from gatt.capture import AttPdu, CaptureError, Direction, LinkModel, parse_btsnoop

HEADER = b"btsnoop\0" + struct.pack(">II", 1, 1002)


def _record(packet: bytes, *, received: bool, at: int, event: bool = False) -> bytes:
    flags = int(received) | (2 if event else 0)
    return struct.pack(">IIIIQ", len(packet), len(packet), flags, 0, at) + packet


def _acl(handle: int, payload: bytes, *, boundary: int) -> bytes:
    return bytes([0x02]) + struct.pack("<HH", handle | boundary << 12, len(payload)) + payload


def _att(pdu: bytes) -> bytes:
    return struct.pack("<HH", len(pdu), 0x0004) + pdu


def _connected(handle: int) -> bytes:
    body = bytes([0x01, 0x00]) + struct.pack("<H", handle) + bytes(15)
    return bytes([0x04, 0x3E, len(body)]) + body


def _capture() -> bytes:
    big = _att(bytes([0x52, 0x10, 0x00]) + bytes(300))  # a 303-byte Write Command
    return HEADER + b"".join(
        [
            _record(_connected(0x40), received=True, at=1_000, event=True),
            _record(_acl(0x40, _att(b"\x02\xf7\x01"), boundary=2), received=True, at=1_100),
            _record(_acl(0x40, _att(b"\x03\xf7\x01"), boundary=0), received=False, at=1_200),
            _record(_acl(0x40, big[:200], boundary=2), received=True, at=1_300),
            _record(_acl(0x40, big[200:], boundary=1), received=True, at=1_310),
            _record(_acl(0x40, _att(b"\x1b\x12\x00ok"), boundary=0), received=False, at=1_400),
            _record(
                _acl(0x40, struct.pack("<HH", 1, 0x0005) + b"x", boundary=2),
                received=True,
                at=1_500,
            ),  # signalling channel: not ATT
        ]
    )


def test_att_pdus_are_read_in_order_with_fragments_reassembled() -> None:
    (connection,) = parse_btsnoop(_capture()).values()
    assert connection.connected_us == 1_000
    assert [(p.direction, p.name, p.size) for p in connection.pdus] == [
        (Direction.RECEIVED, "EXCHANGE_MTU_REQ", 3),
        (Direction.SENT, "EXCHANGE_MTU_RSP", 3),
        (Direction.RECEIVED, "WRITE_CMD", 303),
        (Direction.SENT, "HANDLE_VALUE_NTF", 5),
    ]
    assert connection.direction_changes() == 3
    assert connection.bytes_each_way() == {"sent": 8, "received": 306}


def test_the_link_model_counts_an_event_per_direction_run_and_packets_per_event() -> None:
    def pdu(direction: Direction, size: int) -> AttPdu:
        return AttPdu(direction=direction, opcode=0x52, size=size, timestamp_us=0)

    sent, got = Direction.SENT, Direction.RECEIVED
    # 7 packets one way need two events at 6 per event; then one event back.
    pdus = [pdu(got, 247)] * 7 + [pdu(sent, 20)]
    model = LinkModel(interval_ms=15)
    assert model.events(pdus) == 3 and model.projected_ms(pdus) == 45
    # Without Data Length Extension a 247-byte PDU is 10 link-layer packets.
    assert LinkModel(interval_ms=15, ll_payload=27).events([pdu(got, 247)]) == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-3],  # the last record cut short
        lambda data: b"btsnoop\0" + struct.pack(">II", 1, 1001) + data[16:],  # not H4
        lambda data: b"pcap" + data[4:],
    ],
)
def test_a_damaged_capture_is_an_error_never_a_shorter_list(
    damage: Callable[[bytes], bytes],
) -> None:
    with pytest.raises(CaptureError):
        parse_btsnoop(damage(_capture()))


def test_a_continuation_without_a_start_is_an_error() -> None:
    data = HEADER + _record(_acl(0x40, b"abc", boundary=1), received=True, at=1)
    with pytest.raises(CaptureError):
        parse_btsnoop(data)


MONITOR_HEADER = b"btsnoop\0" + struct.pack(">II", 1, 2001)


def _monitor(kind: int, index: int, packet: bytes, at: int) -> bytes:
    # btmon -w: flags = index << 16 | kind; the packet has no H4 type byte.
    return struct.pack(">IIIIQ", len(packet), len(packet), index << 16 | kind, 0, at) + packet


def _monitor_capture(*, second_index: int) -> bytes:
    connected = _connected(0x40)[1:]
    return (
        MONITOR_HEADER
        + b"".join(
            [
                _monitor(0, 0, bytes(16), 900),  # New Index: not a packet we read
                _monitor(3, 0, connected, 1_000),
                _monitor(5, 0, _acl(0x40, _att(b"\x02\xf7\x01"), boundary=2)[1:], 1_100),
                _monitor(4, 0, _acl(0x40, _att(b"\x03\xf7\x01"), boundary=0)[1:], 1_200),
                _monitor(5, second_index, _acl(0x40, _att(b"\x0a\x03\x00"), boundary=2)[1:], 1_300),
            ]
        )
    )


def test_a_btmon_capture_of_one_controller_reads_like_an_h4_one() -> None:
    (connection,) = parse_btsnoop(_monitor_capture(second_index=0)).values()
    assert connection.connected_us == 1_000
    assert [(p.direction, p.name) for p in connection.pdus] == [
        (Direction.RECEIVED, "EXCHANGE_MTU_REQ"),
        (Direction.SENT, "EXCHANGE_MTU_RSP"),
        (Direction.RECEIVED, "READ_REQ"),
    ]


def test_a_btmon_capture_of_two_controllers_needs_an_index() -> None:
    with pytest.raises(CaptureError, match="pass index"):
        parse_btsnoop(_monitor_capture(second_index=1))
    (connection,) = parse_btsnoop(_monitor_capture(second_index=1), index=0).values()
    assert [p.name for p in connection.pdus] == ["EXCHANGE_MTU_REQ", "EXCHANGE_MTU_RSP"]
