"""What a wallet does with the ledger besides syncing: remember it, register, get allowances.

Invariants:
- The ledger URL is remembered in the home's ``config.json`` (key ``ledger_url``, kept by
  :mod:`p2ppay.wallet.config` as an extra key) by ``register``; later commands use it when
  no ``--ledger`` is given.
- An allowance from the ledger is verified and imported by
  :func:`p2ppay.wallet.import_allowance` exactly like a file would be, and the ledger's
  issuer key becomes trusted, so this wallet as a payee accepts what the ledger issues.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from types import MappingProxyType

from p2ppay.errors import AppErrorCode
from p2ppay.ledger import schemas
from p2ppay.store import AllowanceRecord
from p2ppay.sync.client import LedgerClient, SyncError
from p2ppay.wallet import Wallet, WalletHome, import_allowance, load_config, save_config

__all__ = ["ledger_url", "register_wallet", "remember_ledger", "request_allowance"]

_CONFIG_KEY = "ledger_url"


def ledger_url(home: WalletHome, given: str | None) -> str:
    """``given``, else the URL remembered by ``register`` (``SYNC_NO_LEDGER`` if neither)."""
    if given:
        return given
    remembered = load_config(home).extra.get(_CONFIG_KEY)
    if isinstance(remembered, str) and remembered:
        return remembered
    raise SyncError(AppErrorCode.SYNC_NO_LEDGER, "pass --ledger URL (or register once)")


def remember_ledger(home: WalletHome, url: str) -> None:
    """Keep ``url`` as this wallet's ledger."""
    config = load_config(home)
    extra = dict(config.extra)
    extra[_CONFIG_KEY] = url
    save_config(home, replace(config, extra=MappingProxyType(extra)))


async def register_wallet(wallet: Wallet, client: LedgerClient, url: str) -> schemas.AccountOut:
    """Open the wallet's account on the ledger and remember the ledger."""
    account = await client.register()
    remember_ledger(wallet.home, url)
    return account


async def request_allowance(
    wallet: Wallet,
    client: LedgerClient,
    *,
    amount_minor: int,
    currency: str,
    now: int,
    valid_for: int | None = None,
) -> tuple[schemas.IssuedAllowanceOut, AllowanceRecord]:
    """Ask the ledger for an allowance, import it, and trust its issuer."""
    issued = await client.request_allowance(
        currency=currency, amount_minor=amount_minor, valid_for=valid_for
    )
    try:
        signed = base64.b64decode(issued.allowance, validate=True)
        issuer = bytes.fromhex(issued.issuer)
    except (binascii.Error, ValueError) as exc:
        raise SyncError(AppErrorCode.SYNC_BAD_ANSWER, "allowance is not base64") from exc
    record = import_allowance(wallet.store, signed, now=now)
    wallet.trust_issuer(issuer, now=now, label="ledger")
    return issued, record
