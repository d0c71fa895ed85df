"""The State values this backend writes and reads, including the ATT MTU bless cannot see.

bless reports no ATT MTU, so a bless peripheral cannot size its notifications (BlueZ cuts a
notification to ``MTU - 3`` bytes without a word). The os central therefore appends the MTU in
force to its START write: ``START (u8) | att_mtu (u16, big-endian)``. A bare one-byte START
(another backend's central) still opens the link, at the ATT minimum 23.

Invariants: :func:`decode_start` accepts exactly what :func:`encode_start` produces plus the
bare ``START``; the MTU it returns is in 23..517.
"""

from __future__ import annotations

import struct

from gatt.spec import ATT_MTU_DEFAULT, ATT_MTU_MAX, StateValue

__all__ = ["decode_start", "encode_start", "is_end"]

_START_WITH_MTU = struct.Struct(">BH")


def encode_start(att_mtu: int) -> bytes:
    """The START write that also tells the peripheral the ATT MTU."""
    if not ATT_MTU_DEFAULT <= att_mtu <= ATT_MTU_MAX:
        raise ValueError(f"ATT MTU {att_mtu} outside {ATT_MTU_DEFAULT}..{ATT_MTU_MAX}")
    return _START_WITH_MTU.pack(StateValue.START, att_mtu)


def decode_start(value: bytes) -> int | None:
    """The ATT MTU a START write carries (23 for a bare START), or None if it is no START."""
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
