"""``limits``: the offline risk limits this wallet enforces as a payee, and its list's age.

``--json`` gives ``limits`` (``max_list_age`` in seconds, then per currency the three
amounts as decimal text, defaults included for the currencies shown), and ``revocation_list``
(``version``, ``fetched_at``, ``age`` in seconds, ``stale``; null when never fetched, which
counts as stale). Read-only: it works while ``request`` or the kiosk runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from p2ppay.cli.common import add_json, home_of, now_s
from p2ppay.cli.output import Exit, Output
from p2ppay.errors import AppError
from p2ppay.store import Store
from p2ppay.wallet import WalletHome, load_config, open_store
from p2ppay.wallet.limits import describe, parse_limits
from protocol.risk import RiskPolicy

__all__ = ["list_age_json", "list_age_line", "register", "trust_json"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("limits", help="the offline limits this payee enforces")
    parser.add_argument(
        "--currency", action="append", default=[], metavar="CODE", help="also show CODE"
    )
    add_json(parser)
    parser.set_defaults(handler=run)


def list_age_json(store: Store, policy: RiskPolicy, *, now: int) -> dict[str, Any]:
    """The cached revocation list's age and whether it is stale under ``policy``."""
    info = store.trust.revocation_info()
    if info is None:
        return {"version": None, "fetched_at": None, "age": None, "stale": True}
    return {
        "version": info.version,
        "fetched_at": info.fetched_at,
        "age": now - info.fetched_at,
        "stale": policy.list_is_stale(info.fetched_at, now=now),
    }


def trust_json(home: WalletHome, *, now: int) -> dict[str, Any] | None:
    """The revocation list's age and the pinned ledger key (``doctor``, ``statement``);
    None when ``home`` holds no wallet yet."""
    from p2ppay.sync.trust import fingerprint

    policy = parse_limits(load_config(home).offline_limits)
    try:
        with open_store(home, now=now, readonly=True) as store:
            listing = list_age_json(store, policy, now=now)
            pin = store.trust.ledger_pin()
    except AppError:
        return None
    listing["max_list_age"] = policy.max_list_age
    listing["ledger_key"] = None if pin is None else pin.public_key.hex()
    listing["fingerprint"] = None if pin is None else fingerprint(pin.public_key)
    listing["pinned"] = None if pin is None else pin.how
    return listing


def list_age_line(listing: dict[str, Any]) -> str:
    """One line for people about the cached revocation list."""
    if listing["age"] is None:
        return "revocation list: never fetched (stale: run `p2ppay sync`)"
    state = "stale" if listing["stale"] else "fresh"
    line = f"revocation list: version {listing['version']}, {_age_text(max(0, listing['age']))} old"
    if "max_list_age" in listing:
        line += f" ({state}; stale after {_age_text(listing['max_list_age'])})"
    else:
        line += f" ({state})"
    return line


def _age_text(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min"


def run(args: argparse.Namespace, out: Output) -> int:
    home = home_of(args)
    now = now_s()
    policy = parse_limits(load_config(home).offline_limits)
    with open_store(home, now=now, readonly=True) as store:
        listing = list_age_json(store, policy, now=now)
    limits = describe(policy, args.currency or ["EUR"])
    lines = [
        f"{c}: {v['per_payment']} per payment, {v['per_payer_day']} per payer a day, "
        f"{v['stale_list']} while the revocation list is stale"
        for c, v in limits.items()
        if c != "max_list_age"
    ]
    if listing["age"] is None:
        lines.append("revocation list: never fetched (stale: run `p2ppay sync`)")
    else:
        state = "stale" if listing["stale"] else "fresh"
        lines.append(
            f"revocation list: version {listing['version']}, fetched "
            f"{_age_text(listing['age'])} ago ({state}; stale after "
            f"{_age_text(policy.max_list_age)})"
        )
    out.result({"limits": limits, "revocation_list": listing}, lines)
    return Exit.OK
