"""Framing: chunker and bounded reassembler, one rule per test."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import ErrorCode, LocalProtocolError, ProtocolError, RemoteProtocolError
from protocol.framing import (
    MAX_MESSAGE_HARD_CAP,
    FrameLimits,
    Reassembler,
    chunk_count,
    chunk_message,
    chunk_size_for_mtu,
)


def _feed_all(reassembler: Reassembler, chunks: list[bytes], now: int = 0) -> list[bytes]:
    return [m for chunk in chunks if (m := reassembler.feed(chunk, now)) is not None]


def _code_of(reassembler: Reassembler, chunks: list[bytes], now: int = 0) -> ErrorCode:
    with pytest.raises(RemoteProtocolError) as info:
        _feed_all(reassembler, chunks, now)
    return info.value.code


@pytest.mark.parametrize(("mtu", "size"), [(23, 20), (185, 182), (247, 244), (517, 512)])
def test_chunk_size_is_mtu_minus_three_capped_at_512(mtu: int, size: int) -> None:
    assert chunk_size_for_mtu(mtu) == size


def test_mtu_below_the_ble_minimum_is_refused() -> None:
    with pytest.raises(LocalProtocolError):
        chunk_size_for_mtu(22)


@settings(max_examples=100, deadline=None)
@given(message=st.binary(min_size=1, max_size=3000), chunk_size=st.integers(20, 512))
def test_any_message_survives_chunking_and_reassembly(message: bytes, chunk_size: int) -> None:
    chunks = chunk_message(message, chunk_size)
    assert all(len(chunk) <= chunk_size for chunk in chunks)
    assert len(chunks) == chunk_count(len(message), chunk_size)
    limits = FrameLimits(max_chunk_size=chunk_size)
    assert _feed_all(Reassembler(limits), chunks) == [message]


def test_back_to_back_messages_reassemble_separately() -> None:
    reassembler = Reassembler(FrameLimits(max_chunk_size=20))
    chunks = chunk_message(b"a" * 50, 20) + chunk_message(b"b" * 7, 20)
    assert _feed_all(reassembler, chunks) == [b"a" * 50, b"b" * 7]


def test_header_marks_more_then_last() -> None:
    chunks = chunk_message(bytes(60), 20)
    assert [chunk[0] & 1 for chunk in chunks] == [1, 1, 1, 0]


def test_out_of_order_chunk_is_rejected() -> None:
    chunks = chunk_message(bytes(100), 20)
    code = _code_of(Reassembler(FrameLimits(max_chunk_size=20)), [chunks[0], chunks[2]])
    assert code is ErrorCode.FRAME_OUT_OF_ORDER


def test_duplicate_chunk_is_rejected() -> None:
    chunks = chunk_message(bytes(100), 20)
    code = _code_of(Reassembler(FrameLimits(max_chunk_size=20)), [chunks[0], chunks[1], chunks[1]])
    assert code is ErrorCode.FRAME_DUPLICATE


def test_message_announcing_more_than_the_maximum_is_rejected() -> None:
    chunks = chunk_message(bytes(200), 244)
    code = _code_of(Reassembler(FrameLimits(max_message_size=199, max_chunk_size=244)), chunks)
    assert code is ErrorCode.FRAME_OVERSIZED


def test_chunk_longer_than_the_chunk_size_is_rejected() -> None:
    chunks = chunk_message(bytes(200), 182)
    code = _code_of(Reassembler(FrameLimits(max_chunk_size=181)), chunks)
    assert code is ErrorCode.FRAME_CHUNK_TOO_LARGE


def test_more_chunks_than_allowed_is_rejected() -> None:
    chunks = chunk_message(bytes(100), 20)
    code = _code_of(Reassembler(FrameLimits(max_chunk_size=20, max_chunks=5)), chunks)
    assert code is ErrorCode.FRAME_TOO_MANY_CHUNKS


def test_last_chunk_before_the_announced_length_is_truncated() -> None:
    chunks = chunk_message(bytes(60), 20)
    last_too_early = bytes((chunks[-2][0] & 0xFE,)) + chunks[-2][1:]
    code = _code_of(Reassembler(FrameLimits(max_chunk_size=20)), [*chunks[:-2], last_too_early])
    assert code is ErrorCode.FRAME_TRUNCATED


def test_bytes_beyond_the_announced_length_are_trailing() -> None:
    chunks = chunk_message(bytes(30), 40)
    code = _code_of(Reassembler(FrameLimits(max_chunk_size=40)), [chunks[0] + b"\x00"])
    assert code is ErrorCode.FRAME_TRAILING


def test_more_flag_after_the_last_byte_is_trailing() -> None:
    (only,) = chunk_message(bytes(10), 40)
    code = _code_of(Reassembler(FrameLimits(max_chunk_size=40)), [bytes((only[0] | 1,)) + only[1:]])
    assert code is ErrorCode.FRAME_TRAILING


def test_empty_chunk_is_rejected() -> None:
    assert _code_of(Reassembler(FrameLimits()), [b""]) is ErrorCode.FRAME_EMPTY


def test_reserved_header_bit_is_rejected() -> None:
    (only,) = chunk_message(bytes(10), 40)
    code = _code_of(Reassembler(FrameLimits()), [bytes((only[0] | 0x80,)) + only[1:]])
    assert code is ErrorCode.FRAME_BAD_HEADER


def test_zero_length_message_is_rejected() -> None:
    assert _code_of(Reassembler(FrameLimits()), [b"\x00\x00\x00"]) is ErrorCode.FRAME_BAD_LENGTH


def test_first_chunk_without_a_full_length_prefix_is_rejected() -> None:
    assert _code_of(Reassembler(FrameLimits()), [b"\x00\x05"]) is ErrorCode.FRAME_BAD_LENGTH


def test_partial_message_times_out_at_its_deadline() -> None:
    reassembler = Reassembler(FrameLimits(max_chunk_size=20, timeout_ms=500))
    reassembler.feed(chunk_message(bytes(60), 20)[0], 1000)
    assert reassembler.deadline() == 1500
    reassembler.check_timer(1499)
    with pytest.raises(RemoteProtocolError) as info:
        reassembler.check_timer(1500)
    assert info.value.code is ErrorCode.FRAME_TIMEOUT


def test_no_deadline_between_messages() -> None:
    reassembler = Reassembler(FrameLimits(max_chunk_size=20))
    _feed_all(reassembler, chunk_message(bytes(60), 20))
    assert reassembler.deadline() is None


def test_a_failed_reassembler_stays_failed() -> None:
    reassembler = Reassembler(FrameLimits())
    _code_of(reassembler, [b""])
    with pytest.raises(RemoteProtocolError):
        reassembler.feed(chunk_message(b"fine", 40)[0], 0)


def test_limits_cannot_exceed_the_hard_cap() -> None:
    with pytest.raises(LocalProtocolError):
        FrameLimits(max_message_size=MAX_MESSAGE_HARD_CAP + 1)


def test_sequence_numbers_wrap_without_false_errors() -> None:
    message = bytes(range(256)) * 8
    chunks = chunk_message(message, 20)
    assert len(chunks) > 64
    assert _feed_all(Reassembler(FrameLimits(max_chunk_size=20)), chunks) == [message]


@settings(max_examples=150, deadline=None)
@given(chunks=st.lists(st.binary(max_size=40), max_size=8))
def test_arbitrary_chunks_raise_only_protocol_errors(chunks: list[bytes]) -> None:
    reassembler = Reassembler(FrameLimits(max_chunk_size=32, max_message_size=100))
    with contextlib.suppress(ProtocolError):
        messages = _feed_all(reassembler, chunks)
        assert all(0 < len(message) <= 100 for message in messages)
