"""The payee's offline risk limits as a person writes them: decimal text per currency.

``config.json`` (wallet) and ``kiosk.toml`` (kiosk) hold the same shape::

    "offline_limits": {
      "max_list_age": 172800,
      "EUR": {"per_payment": "150.00", "per_payer_day": "300.00", "stale_list": "30.00"}
    }

A currency not listed gets :func:`protocol.risk.default_limits`; a listed currency must give
all three amounts. Invariants: a limit of the wrong shape is ``CONFIG_CORRUPT`` naming the
field, never a silent default; :func:`describe` prints back exactly what is enforced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from p2ppay.errors import AppErrorCode, WalletError
from protocol import ProtocolError
from protocol.money import format_amount, parse_amount
from protocol.risk import DEFAULT_MAX_LIST_AGE, RiskLimits, RiskPolicy

__all__ = ["describe", "parse_limits"]

_AMOUNTS = ("per_payment", "per_payer_day", "stale_list")


def parse_limits(raw: Mapping[str, Any] | None, *, where: str = "offline_limits") -> RiskPolicy:
    """The :class:`RiskPolicy` a config section describes (module docstring)."""
    if raw is None:
        return RiskPolicy()
    if not isinstance(raw, Mapping):
        raise WalletError(AppErrorCode.CONFIG_CORRUPT, f"{where} must be an object")
    max_age = raw.get("max_list_age", DEFAULT_MAX_LIST_AGE)
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 1:
        raise WalletError(AppErrorCode.CONFIG_CORRUPT, f"{where}.max_list_age: whole seconds >= 1")
    limits: dict[str, RiskLimits] = {}
    for currency, section in raw.items():
        if currency == "max_list_age":
            continue
        if not isinstance(section, Mapping) or set(section) != set(_AMOUNTS):
            raise WalletError(
                AppErrorCode.CONFIG_CORRUPT,
                f"{where}.{currency}: give exactly {', '.join(_AMOUNTS)} as decimal text",
            )
        try:
            amounts = {name: parse_amount(str(section[name]), currency) for name in _AMOUNTS}
            limits[currency] = RiskLimits(**amounts)
        except ProtocolError as exc:
            raise WalletError(
                AppErrorCode.CONFIG_CORRUPT, f"{where}.{currency}: {exc.code.name} {exc.message}"
            ) from exc
    try:
        return RiskPolicy(limits=MappingProxyType(limits), max_list_age=max_age)
    except ProtocolError as exc:
        raise WalletError(AppErrorCode.CONFIG_CORRUPT, f"{where}: {exc.message}") from exc


def describe(policy: RiskPolicy, currencies: Iterable[str]) -> dict[str, Any]:
    """What is enforced for ``currencies`` (defaults included), as JSON-ready decimal text."""
    shown: dict[str, Any] = {"max_list_age": policy.max_list_age}
    for currency in sorted({*currencies, *policy.limits}):
        limits = policy.for_currency(currency)
        shown[currency] = {
            name: format_amount(getattr(limits, name), currency) for name in _AMOUNTS
        }
    return shown
