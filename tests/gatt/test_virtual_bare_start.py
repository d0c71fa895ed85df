"""A central that writes a bare START (``01``) sizes for ATT MTU 23, as SERVICE.md says: the
Bumble peripheral then notifies at most 20-byte chunks, even over a link whose MTU exchange
gave 517 (a bug seen from outside: the payer notified at 517)."""

from __future__ import annotations

import pytest

import gatt.bumble_backend.central as bumble_central
from gatt.spec import StateValue
from tests.gatt.exchange import exchange_both_ways
from tests.gatt.virtual import session

pytestmark = pytest.mark.anyio


async def test_a_bare_start_means_twenty_byte_notifications(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The seam: this central writes what another implementation may write, a bare START.
    monkeypatch.setattr(bumble_central, "encode_start", lambda mtu: bytes([StateValue.START]))
    async with session(mtu=517) as (central, peripheral):
        assert peripheral.peer.att_mtu == 517
        assert peripheral.max_chunk == 20
        await exchange_both_ways(central, peripheral, 1024)


async def test_a_start_with_the_mtu_keeps_full_size_chunks() -> None:
    async with session(mtu=517) as (_, peripheral):
        assert peripheral.max_chunk == 512
