"""The home's ``config.json``: a few settings a person or a kiosk sets once.

Invariants:
- Written atomically (temp + fsync + rename), so a crash leaves the old or the new file.
- A missing file means the defaults; a file that is not a JSON object of the known field
  types is ``CONFIG_CORRUPT`` (never silently reset). Unknown keys are kept on rewrite, so an
  older p2ppay does not erase a newer one's settings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from p2ppay.errors import AppErrorCode, WalletError
from p2ppay.wallet.atomic import replace_file
from p2ppay.wallet.home import WalletHome
from p2ppay.wallet.limits import parse_limits

__all__ = ["CONFIG_VERSION", "WalletConfig", "load_config", "save_config"]

CONFIG_VERSION = 1
"""The ``version`` written into ``config.json``."""

_FIELDS: dict[str, type] = {
    "label": str,
    "adapter": str,
    "auto_approve_up_to": str,
    "rssi_threshold": int,
    "offline_limits": dict,
}


@dataclass(frozen=True, kw_only=True)
class WalletConfig:
    """Settings of one wallet home; every field optional."""

    label: str | None = None
    """The name this wallet shows counterparties (SPEC 4 "label"): signed in its invoices,
    and in its payments once it has decided to pay (never before)."""
    adapter: str | None = None
    """The default ``--adapter`` (e.g. ``virtual``, ``hci0``, ``bumble:usb:0``)."""
    auto_approve_up_to: str | None = None
    """Unattended payer policy: approve invoices up to this decimal amount."""
    rssi_threshold: int | None = None
    """Payee: ignore payers weaker than this RSSI (dBm)."""
    offline_limits: dict[str, Any] | None = None
    """Payee: offline risk limits per currency (:mod:`p2ppay.wallet.limits`); None: defaults."""
    extra: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Keys this build does not know, kept as they were."""


def load_config(home: WalletHome) -> WalletConfig:
    """The home's config (defaults if there is no file)."""
    try:
        text = home.config_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return WalletConfig()
    except OSError as exc:
        raise WalletError(AppErrorCode.HOME_UNUSABLE, f"{home.config_file}: {exc}") from exc
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise WalletError(AppErrorCode.CONFIG_CORRUPT, f"{home.config_file}: {exc}") from None
    if not isinstance(raw, dict):
        raise WalletError(AppErrorCode.CONFIG_CORRUPT, "config.json is not a JSON object")
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "version":
            continue
        expected = _FIELDS.get(key)
        if expected is None:
            extra[key] = value
        elif value is None:
            known[key] = None
        elif not isinstance(value, expected) or isinstance(value, bool):
            raise WalletError(AppErrorCode.CONFIG_CORRUPT, f"config.json: {key} has a bad type")
        else:
            known[key] = value
    config = WalletConfig(**known, extra=MappingProxyType(extra))
    parse_limits(config.offline_limits)  # a bad limit is reported at load, not at the counter
    return config


def save_config(home: WalletHome, config: WalletConfig) -> None:
    """Write the config atomically (unknown keys from ``extra`` included)."""
    body: dict[str, Any] = dict(config.extra)
    body["version"] = CONFIG_VERSION
    for key in _FIELDS:
        value = getattr(config, key)
        if value is not None:
            body[key] = value
    data = (json.dumps(body, indent=2, sort_keys=True) + "\n").encode("utf-8")
    try:
        replace_file(home.config_file, data, mode=0o600)
    except OSError as exc:
        raise WalletError(AppErrorCode.HOME_UNUSABLE, f"{home.config_file}: {exc}") from exc
