"""``p2ppay kiosk --config kiosk.toml``: run the unattended payee daemon.

The config is validated first (every bad field named, exit 3 with KIOSK_CONFIG_INVALID);
The API token (required when ``api.listen`` is TCP) is read from ``api.token_file`` or
``P2PPAY_KIOSK_TOKEN`` (KIOSK_CONFIG_INVALID if missing, short or world-readable).
``--check`` stops there and prints the validated config. Otherwise the wallet is opened
(recovering any session a crash left unfinished), and the daemon runs until SIGTERM or
SIGINT, finishing or cleanly failing the payment in flight; exit 0 after a clean stop.
Logs are JSON lines on stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
from functools import partial
from pathlib import Path

import anyio

from p2ppay.cli.common import add_json, needs_extra, unlock
from p2ppay.cli.output import Exit, Output
from p2ppay.errors import AppError, AppErrorCode
from p2ppay.kiosk.config import load_config
from p2ppay.kiosk.guard import resolve_token
from p2ppay.kiosk.logs import configure_logging
from p2ppay.kiosk.service import Kiosk
from p2ppay.kiosk.syncer import ledger_sync
from p2ppay.wallet import WalletHome, read_identity

__all__ = ["register"]

log = logging.getLogger("p2ppay.kiosk")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kiosk = subparsers.add_parser(
        "kiosk", help="run the unattended payee daemon with a local point-of-sale API"
    )
    kiosk.add_argument(
        "--config", required=True, type=Path, metavar="FILE", help="the kiosk's TOML config"
    )
    kiosk.add_argument(
        "--check", action="store_true", help="validate the config, print it and exit"
    )
    add_json(kiosk)
    kiosk.set_defaults(handler=run)


def run(args: argparse.Namespace, out: Output) -> int:
    config = load_config(args.config)
    # The API token (required on TCP): read once here, the daemon gets the value.
    token = resolve_token(config.api, os.environ)
    _check_wallet_home(WalletHome.resolve(config.wallet.home))
    if args.check:
        data = config.model_dump(mode="json")
        out.result(data, [f"{args.config}: valid", *_describe(data)])
        return Exit.OK
    with needs_extra("kiosk"):  # the HTTP stack is needed only to run the daemon
        from p2ppay.kiosk.daemon import serve

    configure_logging(config.daemon.log_level)
    with unlock(WalletHome.resolve(config.wallet.home)) as wallet:
        if not wallet.store.trust.issuer_keys():
            log.warning("no trusted issuer: every payment will be refused (trust-issuer first)")
        url = config.ledger.url
        sync = None if url is None else ledger_sync(wallet, str(url).rstrip("/"))
        if sync is None:
            log.warning("no ledger configured: payments stay in the outbox (see /metrics)")
        kiosk = Kiosk(config=config, wallet=wallet, sync=sync)
        anyio.run(partial(serve, kiosk, token=token))
    return Exit.OK


def _check_wallet_home(home: WalletHome) -> None:
    """``--check`` (the systemd ExecStartPre guard) must catch a missing or shared wallet home,
    not only a bad file: the daemon would fail at its first customer otherwise."""
    try:
        home.check_private()
        read_identity(home)
    except AppError as exc:
        raise AppError(
            AppErrorCode.KIOSK_CONFIG_INVALID,
            f"wallet.home {home.root}: {exc.code.name}: {exc.message}",
        ) from exc


def _describe(data: dict[str, object]) -> list[str]:
    lines: list[str] = []
    for section, values in data.items():
        if isinstance(values, dict):
            lines.extend(f"  {section}.{key} = {value!r}" for key, value in values.items())
    return lines
