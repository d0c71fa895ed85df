"""Money: integer minor units plus an ISO 4217 alphabetic code. Never floats.

Invariants:
- An amount is a Python ``int`` of minor units (cents for EUR, yen for JPY) in
  ``1..MAX_AMOUNT`` wherever a payment is made; only cumulative totals may be 0.
- A currency is known iff it is in :data:`CURRENCIES`; its exponent fixes how decimal text
  maps to minor units, so "12.5" EUR is 1250 and "12.505" EUR is an error, not a rounding.
- :data:`MAX_AMOUNT` (10**15 minor units) bounds every amount and every cumulative total,
  so sums of a few of them stay exact in every language's 64-bit integer (and below 2**53,
  so even a JSON double in a dashboard does not round them).
"""

from __future__ import annotations

import re
from types import MappingProxyType

from protocol.errors import ErrorCode, LocalProtocolError, ProtocolError

__all__ = [
    "CURRENCIES",
    "MAX_AMOUNT",
    "check_amount",
    "check_currency",
    "exponent",
    "format_amount",
    "parse_amount",
]

MAX_AMOUNT = 10**15
"""Largest amount or cumulative total in minor units (10 trillion EUR)."""

CURRENCIES: MappingProxyType[str, int] = MappingProxyType(
    {
        "AUD": 2,
        "BHD": 3,
        "BRL": 2,
        "CAD": 2,
        "CHF": 2,
        "CNY": 2,
        "CZK": 2,
        "DKK": 2,
        "EUR": 2,
        "GBP": 2,
        "HKD": 2,
        "HUF": 2,
        "INR": 2,
        "ISK": 0,
        "JOD": 3,
        "JPY": 0,
        "KES": 2,
        "KRW": 0,
        "KWD": 3,
        "MXN": 2,
        "NGN": 2,
        "NOK": 2,
        "NZD": 2,
        "PLN": 2,
        "SEK": 2,
        "SGD": 2,
        "TND": 3,
        "USD": 2,
        "XAF": 0,
        "XOF": 0,
        "ZAR": 2,
    }
)
"""Supported ISO 4217 alphabetic codes and their minor-unit exponents."""

_DECIMAL = re.compile(r"(?P<whole>0|[1-9][0-9]{0,15})(?:\.(?P<frac>[0-9]+))?")


def check_currency(code: str, *, error: type[ProtocolError] = LocalProtocolError) -> int:
    """Return the exponent of ``code``; raise MONEY_UNKNOWN_CURRENCY if unsupported."""
    exp = CURRENCIES.get(code)
    if exp is None:
        raise error(ErrorCode.MONEY_UNKNOWN_CURRENCY, repr(code))
    return exp


def exponent(code: str) -> int:
    """The minor-unit exponent of a supported currency (LocalProtocolError otherwise)."""
    return check_currency(code)


def check_amount(
    amount: int,
    *,
    allow_zero: bool = False,
    error: type[ProtocolError] = LocalProtocolError,
) -> None:
    """Raise MONEY_NOT_POSITIVE / MONEY_OVER_MAXIMUM unless ``amount`` is in range."""
    if amount < 0 or (amount == 0 and not allow_zero):
        raise error(ErrorCode.MONEY_NOT_POSITIVE, f"{amount}")
    if amount > MAX_AMOUNT:
        raise error(ErrorCode.MONEY_OVER_MAXIMUM, f"{amount} > {MAX_AMOUNT}")


def parse_amount(text: str, currency: str) -> int:
    """Parse decimal text like ``"12.50"`` into minor units of ``currency``.

    At most as many fraction digits as the currency's exponent ("12.5" and "12.50" are both
    1250 EUR; "12.505" EUR and "1.5" JPY are rejected). No sign, no exponent, no grouping.
    Raises LocalProtocolError (the user typed it) with a MONEY_* code.
    """
    exp = check_currency(currency)
    match = _DECIMAL.fullmatch(text.strip())
    if match is None:
        raise LocalProtocolError(ErrorCode.MONEY_BAD_DECIMAL, repr(text))
    frac: str = match.group("frac") or ""
    if len(frac) > exp:
        raise LocalProtocolError(
            ErrorCode.MONEY_BAD_DECIMAL, f"{currency} has {exp} decimal places: {text!r}"
        )
    whole: str = match.group("whole")
    amount: int = int(whole) * 10**exp + int(frac.ljust(exp, "0") or "0")
    check_amount(amount)
    return amount


def format_amount(amount: int, currency: str) -> str:
    """Format minor units as decimal text with exactly the currency's decimals."""
    exp = check_currency(currency)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exp)
    return f"{sign}{whole}.{frac:0{exp}d}" if exp else f"{sign}{whole}"
