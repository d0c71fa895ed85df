"""A payer that cannot pay says why before it advertises: which currency it holds, when its
allowance expired; and "over what is left" says how much is left. Issue: people at the
counter discovered an expired allowance only at the counter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p2ppay.store.documents import allowance_in
from p2ppay.wallet import read_identity
from p2ppay.wallet.issuer import open_issuer
from protocol import Allowance, open_as
from tests.cli_world import cli
from tests.world import make_homes, now_s, pay_once

pytestmark = pytest.mark.anyio


def _pay(home: Path, *extra: str) -> dict[str, object]:
    result = cli(
        "--home",
        str(home),
        "pay",
        "--once",
        "--auto-approve-up-to",
        "5",
        "--json",
        *extra,
        check=False,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    error: dict[str, object] = json.loads(result.stdout)
    return error


def test_no_allowance_in_that_currency_names_the_ones_held(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)
    error = _pay(homes.payer.root, "--currency", "USD")
    assert error["error"] == "NO_ALLOWANCE"
    assert "in USD" in str(error["message"]) and "EUR" in str(error["message"])


def test_an_expired_allowance_is_refused_before_advertising(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, trust=False)
    key = read_identity(homes.payer).public_key
    old = open_issuer(homes.issuer).grant(
        key, 10_00, "EUR", now=now_s() - 3 * 86_400, valid_for=86_400
    )
    with homes.open_payer() as payer:  # stored while it was valid; it has expired since
        payer.store.allowances.import_allowance(allowance_in(open_as(old, Allowance)), now=now_s())
    error = _pay(homes.payer.root)
    assert error["error"] == "ALLOWANCE_EXPIRED"
    assert "expired on" in str(error["message"]) and "UTC" in str(error["message"])


async def test_over_what_is_left_says_how_much_is_left(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, limit=10_00)
    payer_out, _, _ = await pay_once(homes, amount=12_50, approve_up_to=50_00)
    assert payer_out.error == "SESSION_WALLET_CANNOT_PAY"
    assert "what is left of the allowance: 10.00 EUR" in payer_out.reason
