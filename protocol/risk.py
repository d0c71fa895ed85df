"""The payee's offline risk limits: how much it hands over on trust before the next sync.

An offline payee cannot ask the ledger whether the payer double-spent, so, like a card
terminal's floor limit, it bounds what it can lose before its next sync. Three limits per
currency, in minor units, checked by :func:`check_risk` in this order (each with its code):

1. ``per_payment``: one payment above it is refused (RISK_OVER_PAYMENT_LIMIT);
2. ``stale_list``: when the cached revocation list is older than ``max_list_age`` seconds, or
   the payee never fetched one, a payment above this lower limit is refused
   (RISK_OVER_STALE_LIST_LIMIT): a revoked cheater is accepted at most up to it;
3. ``per_payer_day``: what this payer paid this payee in the currency over the last 24 hours
   (:data:`DAY`), plus this payment, above it is refused (RISK_OVER_PAYER_DAY_LIMIT).

Defaults (:func:`default_limits`): 150 / 300 / 30 major units for currencies with minor
units (150.00 EUR per payment, 300.00 per payer and day, 30.00 on a stale list), and 100
times that for currencies without (15,000 JPY...), with a 48-hour ``max_list_age``. A payee
sets its own per currency.

Invariants:
- Pure: the caller passes the time, the list's fetch time and what it received from the payer;
  nothing here reads a clock or a store.
- Every limit is in ``1..MAX_AMOUNT``; a limit of the wrong shape is refused when the policy is
  built, never silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from protocol.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from protocol.money import MAX_AMOUNT, check_currency, format_amount

__all__ = [
    "DAY",
    "DEFAULT_MAX_LIST_AGE",
    "RiskLimits",
    "RiskPolicy",
    "check_risk",
    "default_limits",
]

DAY = 86_400
"""The per-payer window, in seconds: a trailing 24 hours, not a calendar day (no time zone)."""

DEFAULT_MAX_LIST_AGE = 48 * 3600
"""A revocation list older than this (seconds) is stale."""

_DEFAULT_MAJOR = (150, 300, 30)
"""per_payment, per_payer_day, stale_list in major units, for currencies with minor units."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RiskLimits:
    """A payee's offline limits in one currency, in minor units."""

    per_payment: int
    """The largest single payment accepted offline."""
    per_payer_day: int
    """The most one payer may pay this payee in :data:`DAY` seconds."""
    stale_list: int
    """The largest single payment accepted while the revocation list is stale."""

    def __post_init__(self) -> None:
        for name in ("per_payment", "per_payer_day", "stale_list"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 1 <= value <= MAX_AMOUNT
            ):
                raise LocalProtocolError(
                    ErrorCode.MONEY_OVER_MAXIMUM, f"{name} must be 1..{MAX_AMOUNT} minor units"
                )


def default_limits(currency: str) -> RiskLimits:
    """The documented defaults for ``currency`` (module docstring)."""
    exponent = check_currency(currency)
    scale = 10**exponent if exponent else 100
    per_payment, per_payer_day, stale_list = (major * scale for major in _DEFAULT_MAJOR)
    return RiskLimits(per_payment=per_payment, per_payer_day=per_payer_day, stale_list=stale_list)


@dataclass(frozen=True, kw_only=True, slots=True)
class RiskPolicy:
    """The limits per currency (defaults for any not listed) and the list's maximum age."""

    limits: Mapping[str, RiskLimits] = field(default_factory=lambda: MappingProxyType({}))
    max_list_age: int = DEFAULT_MAX_LIST_AGE
    """Seconds after its fetch that a revocation list is stale."""

    def __post_init__(self) -> None:
        for currency in self.limits:
            check_currency(currency)
        if isinstance(self.max_list_age, bool) or self.max_list_age < 1:
            raise LocalProtocolError(ErrorCode.SESSION_API_MISUSE, "max_list_age must be >= 1 s")

    def for_currency(self, currency: str) -> RiskLimits:
        """The limits that apply to ``currency``."""
        return self.limits.get(currency) or default_limits(currency)

    def list_is_stale(self, fetched_at: int | None, *, now: int) -> bool:
        """True if a list fetched at ``fetched_at`` (None: never) is stale at ``now``."""
        return fetched_at is None or now - fetched_at > self.max_list_age


def check_risk(
    *,
    amount: int,
    currency: str,
    policy: RiskPolicy,
    list_fetched_at: int | None,
    received_from_payer: int = 0,
    now: int,
) -> None:
    """Raise RemoteProtocolError with the first limit (module docstring) ``amount`` breaks.

    ``received_from_payer``: what this payer paid this payee in ``currency`` in the last
    :data:`DAY` seconds (0 when checking an invoice before any payer is known).
    """
    limits = policy.for_currency(currency)

    def money(value: int) -> str:
        return f"{format_amount(value, currency)} {currency}"

    if amount > limits.per_payment:
        raise RemoteProtocolError(
            ErrorCode.RISK_OVER_PAYMENT_LIMIT,
            f"offline limit per payment is {money(limits.per_payment)}",
        )
    if policy.list_is_stale(list_fetched_at, now=now) and amount > limits.stale_list:
        raise RemoteProtocolError(
            ErrorCode.RISK_OVER_STALE_LIST_LIMIT,
            f"revocation list stale: limit {money(limits.stale_list)} until the next sync",
        )
    if received_from_payer + amount > limits.per_payer_day:
        raise RemoteProtocolError(
            ErrorCode.RISK_OVER_PAYER_DAY_LIMIT,
            f"offline limit per payer is {money(limits.per_payer_day)} a day",
        )
