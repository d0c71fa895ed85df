"""Deterministic CBOR: what the strict decoder accepts, and the code for each rejection."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import ErrorCode, LocalProtocolError, RemoteProtocolError
from protocol.cbor import MAX_DEPTH, MAX_SIZE, decode, encode


def _code(data: bytes, *, tagged: bool = False) -> ErrorCode:
    with pytest.raises(RemoteProtocolError) as exc:
        decode(data, tagged=tagged)
    return exc.value.code


def test_map_keys_are_sorted_by_their_encoded_bytes() -> None:
    assert encode({10: 1, 1: 2, -1: 3, "a": 4}).hex() == "a401020a012003616104"


def test_integers_use_the_shortest_form() -> None:
    assert encode(23) == b"\x17"
    assert encode(24) == b"\x18\x18"
    assert encode(2**32) == bytes.fromhex("1b0000000100000000")


@pytest.mark.parametrize(
    ("hexdata", "code"),
    [
        ("1801", ErrorCode.CBOR_NON_SHORTEST),  # 1 as a one-byte argument
        ("1a00000001", ErrorCode.CBOR_NON_SHORTEST),
        ("5801ff", ErrorCode.CBOR_NON_SHORTEST),  # length 1 as a one-byte argument
        ("9f01ff", ErrorCode.CBOR_INDEFINITE_LENGTH),
        ("7f6161ff", ErrorCode.CBOR_INDEFINITE_LENGTH),
        ("a201010102", ErrorCode.CBOR_DUPLICATE_KEY),
        ("a202010101", ErrorCode.CBOR_NOT_DETERMINISTIC),  # keys out of order
        ("f93c00", ErrorCode.CBOR_FLOAT),
        ("fb3ff0000000000000", ErrorCode.CBOR_FLOAT),
        ("c11a00000001", ErrorCode.CBOR_UNKNOWN_TAG),  # epoch datetime
        ("c24101", ErrorCode.CBOR_UNKNOWN_TAG),  # bignum
        ("d81201", ErrorCode.CBOR_NON_SHORTEST),  # tag 18 with a one-byte argument
        ("d81801", ErrorCode.CBOR_UNKNOWN_TAG),  # tag 24 (embedded CBOR)
        ("d201", ErrorCode.CBOR_UNKNOWN_TAG),  # tag 18 where no tag is allowed
        ("f7", ErrorCode.CBOR_UNSUPPORTED_TYPE),  # undefined
        ("e0", ErrorCode.CBOR_UNSUPPORTED_TYPE),  # simple(0)
        ("0102", ErrorCode.CBOR_TRAILING_BYTES),
        ("62c328", ErrorCode.CBOR_MALFORMED),  # invalid UTF-8
        ("5a00010000", ErrorCode.CBOR_MALFORMED),  # truncated
        ("", ErrorCode.CBOR_MALFORMED),
        ("ff", ErrorCode.CBOR_MALFORMED),  # a lone break
        ("1c", ErrorCode.CBOR_MALFORMED),  # reserved additional information
    ],
)
def test_strict_decoder_names_the_violation(hexdata: str, code: ErrorCode) -> None:
    assert _code(bytes.fromhex(hexdata)) is code


def test_tag_18_is_allowed_only_outermost_and_only_when_asked() -> None:
    assert decode(bytes.fromhex("d28101"), tagged=True) == cbor2.CBORTag(18, [1])
    assert _code(bytes.fromhex("d28101")) is ErrorCode.CBOR_UNKNOWN_TAG
    assert _code(bytes.fromhex("d281d201"), tagged=True) is ErrorCode.CBOR_UNKNOWN_TAG
    assert _code(bytes.fromhex("d38101"), tagged=True) is ErrorCode.CBOR_UNKNOWN_TAG


def test_nesting_beyond_the_limit_is_too_deep() -> None:
    assert decode(b"\x81" * MAX_DEPTH + b"\x01") == _nested(MAX_DEPTH)
    assert _code(b"\x81" * (MAX_DEPTH + 1) + b"\x01") is ErrorCode.CBOR_TOO_DEEP


def _nested(depth: int) -> list[object] | int:
    return 1 if depth == 0 else [_nested(depth - 1)]


def test_hostile_nesting_is_too_deep_not_a_crash() -> None:
    assert _code(b"\x81" * 1500 + b"\x01") is ErrorCode.CBOR_TOO_DEEP


def test_input_over_the_size_limit_is_too_large() -> None:
    item = encode(b"x" * (MAX_SIZE - 3))
    assert decode(item) == b"x" * (MAX_SIZE - 3)
    assert _code(encode(b"x" * MAX_SIZE)) is ErrorCode.CBOR_TOO_LARGE


def test_decode_returns_plain_lists_and_dicts_inside_the_tag() -> None:
    value = decode(encode(cbor2.CBORTag(18, [b"", {4: b"k"}])), tagged=True)
    assert isinstance(value, cbor2.CBORTag)
    assert value.value == [b"", {4: b"k"}]
    assert isinstance(value.value, list) and isinstance(value.value[1], dict)


def test_encoding_a_float_is_refused_locally() -> None:
    with pytest.raises(LocalProtocolError) as exc:
        encode({1: 1.5})  # type: ignore[dict-item]
    assert exc.value.code is ErrorCode.CBOR_FLOAT


def test_integers_outside_64_bits_are_refused() -> None:
    with pytest.raises(LocalProtocolError):
        encode(2**64)


_scalars = (
    st.integers(min_value=-(2**64), max_value=2**64 - 1)
    | st.binary(max_size=40)
    | st.text(max_size=20)
    | st.booleans()
    | st.none()
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.integers(-30, 30) | st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
).filter(lambda v: _depth(v) <= MAX_DEPTH)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=150, deadline=None)
@given(_values)
def test_encode_then_decode_round_trips(value: object) -> None:
    data = encode(value)  # type: ignore[arg-type]
    assert decode(data) == value
    assert encode(decode(data)) == data


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_raise_only_protocol_errors(data: bytes) -> None:
    try:
        value = decode(data)
    except RemoteProtocolError:
        return
    assert encode(value) == data
