"""What a wallet does with the ledger besides syncing: remember it, register, get allowances.

Invariants:
- The ledger URL is remembered in the home's ``config.json`` (key ``ledger_url``, kept by
  :mod:`p2ppay.wallet.config` as an extra key) by ``register``; later commands use it when
  no ``--ledger`` is given.
- ``register`` pins the ledger key (SPEC 4.1): the key ``GET /v1/trust`` names, checked
  against ``--ledger-key`` when given and against a key pinned before (never replaced), and
  stores the signed lists; ``trust-ledger`` does the same for a wallet that never registers
  (a kiosk). ``--ca-file`` is remembered beside the URL (``ledger_ca_file``).
- An allowance from the ledger is verified and imported by
  :func:`p2ppay.wallet.import_allowance` exactly like a file would be; its issuer becomes
  trusted only if it is the pinned ledger key (the ledger signs allowances with it), so an
  answer from anyone else never adds an issuer.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from p2ppay.api import schemas
from p2ppay.errors import AppErrorCode
from p2ppay.store import AllowanceRecord, LedgerPin
from p2ppay.sync.client import LedgerClient, SyncError
from p2ppay.sync.trust import TrustUpdate, apply_trust, fingerprint, pin_ledger, verify_trust
from p2ppay.wallet import Wallet, WalletHome, import_allowance, load_config, save_config

__all__ = [
    "Pinned",
    "ledger_ca_file",
    "ledger_url",
    "register_wallet",
    "remember_ledger",
    "request_allowance",
    "trust_ledger",
]

_CONFIG_KEY = "ledger_url"
_CA_KEY = "ledger_ca_file"


def ledger_url(home: WalletHome, given: str | None) -> str:
    """``given``, else the URL remembered by ``register`` (``SYNC_NO_LEDGER`` if neither)."""
    if given:
        return given
    remembered = load_config(home).extra.get(_CONFIG_KEY)
    if isinstance(remembered, str) and remembered:
        return remembered
    raise SyncError(AppErrorCode.SYNC_NO_LEDGER, "pass --ledger URL (or register once)")


def ledger_ca_file(home: WalletHome, given: Path | None) -> Path | None:
    """``given``, else the CA file remembered with the ledger URL, else None (system CAs)."""
    if given is not None:
        return given
    remembered = load_config(home).extra.get(_CA_KEY)
    return Path(remembered) if isinstance(remembered, str) and remembered else None


def remember_ledger(home: WalletHome, url: str, ca_file: Path | None = None) -> None:
    """Keep ``url`` (and ``ca_file`` when given) as this wallet's ledger."""
    config = load_config(home)
    extra = dict(config.extra)
    extra[_CONFIG_KEY] = url
    if ca_file is not None:
        extra[_CA_KEY] = str(ca_file.resolve())
    save_config(home, replace(config, extra=MappingProxyType(extra)))


@dataclass(frozen=True, kw_only=True)
class Pinned:
    """A wallet's ledger pin after ``register`` or ``trust-ledger``."""

    pin: LedgerPin
    fingerprint: str
    trust: TrustUpdate
    account: schemas.AccountOut | None = None


async def _pin(
    wallet: Wallet,
    client: LedgerClient,
    *,
    ledger_key: bytes | None,
    now: int,
    register: bool,
    ca_file: Path | None,
) -> Pinned:
    answer = await client.trust()
    answered = bytes.fromhex(answer.ledger_key)
    if ledger_key is not None and answered != ledger_key:
        raise SyncError(
            AppErrorCode.SYNC_LEDGER_KEY_MISMATCH,
            f"the ledger at {client.url} answers with key {fingerprint(answered)}, "
            f"not the --ledger-key {fingerprint(ledger_key)} you gave; nothing was changed",
        )
    verified = verify_trust(wallet.store, answer, now=now)  # also refuses another pinned key
    account = await client.register() if register else None
    how = "out-of-band" if ledger_key is not None else ("register" if register else "first use")
    pin = pin_ledger(wallet.store, answered, url=client.url, how=how, now=now)
    update = apply_trust(wallet.store, verified, url=client.url, now=now)
    remember_ledger(wallet.home, client.url, ca_file)
    return Pinned(pin=pin, fingerprint=fingerprint(answered), trust=update, account=account)


async def register_wallet(
    wallet: Wallet,
    client: LedgerClient,
    url: str,
    *,
    now: int,
    ledger_key: bytes | None = None,
    ca_file: Path | None = None,
) -> Pinned:
    """Open the wallet's account, pin the ledger key, store the signed lists, remember the
    ledger (module doc). ``url`` must be the client's URL."""
    del url  # the client's own URL is what is remembered and pinned with
    return await _pin(
        wallet, client, ledger_key=ledger_key, now=now, register=True, ca_file=ca_file
    )


async def trust_ledger(
    wallet: Wallet,
    client: LedgerClient,
    *,
    now: int,
    ledger_key: bytes | None = None,
    ca_file: Path | None = None,
) -> Pinned:
    """Pin the ledger key and store its signed lists without opening an account (a kiosk)."""
    return await _pin(
        wallet, client, ledger_key=ledger_key, now=now, register=False, ca_file=ca_file
    )


async def request_allowance(
    wallet: Wallet,
    client: LedgerClient,
    *,
    amount_minor: int,
    currency: str,
    now: int,
    valid_for: int | None = None,
) -> tuple[schemas.IssuedAllowanceOut, AllowanceRecord]:
    """Ask the ledger for an allowance, import it, and trust its issuer if it is the pinned
    ledger key (``SYNC_LEDGER_KEY_MISMATCH`` and nothing imported if it is another key)."""
    pin = wallet.store.trust.ledger_pin()
    issued = await client.request_allowance(
        currency=currency, amount_minor=amount_minor, valid_for=valid_for
    )
    try:
        signed = base64.b64decode(issued.allowance, validate=True)
        issuer = bytes.fromhex(issued.issuer)
    except (binascii.Error, ValueError) as exc:
        raise SyncError(AppErrorCode.SYNC_BAD_ANSWER, "allowance is not base64") from exc
    if pin is not None and issuer != pin.public_key:
        raise SyncError(
            AppErrorCode.SYNC_LEDGER_KEY_MISMATCH,
            f"the allowance's issuer {fingerprint(issuer)} is not the pinned ledger key "
            f"{fingerprint(pin.public_key)}",
        )
    record = import_allowance(wallet.store, signed, now=now)
    if pin is not None:
        wallet.trust_issuer(issuer, now=now, label="ledger")
    return issued, record
