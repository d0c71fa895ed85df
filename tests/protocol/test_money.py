"""Money: decimal text to minor units and back, by each currency's exponent."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import ErrorCode, LocalProtocolError
from protocol.money import CURRENCIES, MAX_AMOUNT, check_amount, format_amount, parse_amount


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.50", "EUR", 1250),
        ("12.5", "EUR", 1250),
        ("12", "EUR", 1200),
        ("0.01", "EUR", 1),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
    ],
)
def test_parse_amount_uses_the_currency_exponent(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("12.505", "EUR"),
        ("1.5", "JPY"),
        ("-1", "EUR"),
        ("1e3", "EUR"),
        ("1,000", "EUR"),
        ("", "EUR"),
        (".5", "EUR"),
        ("01", "EUR"),
        ("1.", "EUR"),
    ],
)
def test_parse_amount_rejects_anything_but_a_plain_decimal(text: str, currency: str) -> None:
    with pytest.raises(LocalProtocolError) as exc:
        parse_amount(text, currency)
    assert exc.value.code is ErrorCode.MONEY_BAD_DECIMAL


def test_parse_amount_rejects_zero() -> None:
    with pytest.raises(LocalProtocolError) as exc:
        parse_amount("0.00", "EUR")
    assert exc.value.code is ErrorCode.MONEY_NOT_POSITIVE


def test_parse_amount_rejects_an_unknown_currency() -> None:
    with pytest.raises(LocalProtocolError) as exc:
        parse_amount("1", "XTS")
    assert exc.value.code is ErrorCode.MONEY_UNKNOWN_CURRENCY


def test_amount_above_the_maximum_is_rejected() -> None:
    check_amount(MAX_AMOUNT)
    with pytest.raises(LocalProtocolError) as exc:
        check_amount(MAX_AMOUNT + 1)
    assert exc.value.code is ErrorCode.MONEY_OVER_MAXIMUM


def test_format_amount_writes_exactly_the_currency_decimals() -> None:
    assert format_amount(1250, "EUR") == "12.50"
    assert format_amount(5, "EUR") == "0.05"
    assert format_amount(1500, "JPY") == "1500"
    assert format_amount(1, "BHD") == "0.001"


@settings(max_examples=100, deadline=None)
@given(st.integers(1, MAX_AMOUNT), st.sampled_from(sorted(CURRENCIES)))
def test_format_then_parse_round_trips(minor: int, currency: str) -> None:
    assert parse_amount(format_amount(minor, currency), currency) == minor
