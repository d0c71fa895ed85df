"""START carries the ATT MTU to bless, which cannot see it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gatt.spec import ATT_MTU_DEFAULT, ATT_MTU_MAX, StateValue, decode_start, encode_start, is_end


@settings(max_examples=100)
@given(st.integers(min_value=ATT_MTU_DEFAULT, max_value=ATT_MTU_MAX))
def test_start_round_trips_the_att_mtu(att_mtu: int) -> None:
    assert decode_start(encode_start(att_mtu)) == att_mtu


def test_a_bare_start_from_another_backend_means_the_minimum_mtu() -> None:
    assert decode_start(bytes([StateValue.START])) == ATT_MTU_DEFAULT


def test_end_and_malformed_values_are_no_start() -> None:
    for value in (bytes([StateValue.END]), b"", b"\x01\x00", b"\x01\x00\x16", b"\x03\x02\x05"):
        assert decode_start(value) is None


def test_only_a_single_end_byte_is_end() -> None:
    assert is_end(bytes([StateValue.END]))
    assert not is_end(b"\x02\x00")
