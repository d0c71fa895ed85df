"""``balance`` and ``allowance list``: what a wallet can still spend offline, read offline.

What a person needs at the counter before paying: how much is left, until when, from which
issuer, and what the ledger has not settled yet; the JSON keeps the exact figures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli_world import cli
from tests.world import make_homes, pay_once

pytestmark = pytest.mark.anyio


def _json(home: Path, *args: str) -> dict[str, Any]:
    result = cli("--home", str(home), *args, "--json")
    out: dict[str, Any] = json.loads(result.stdout)  # the CLI's JSON contract, untyped
    return out


async def test_balance_shows_what_is_left_and_what_is_not_settled(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)
    payer_out, _, _ = await pay_once(homes, amount=12_50)
    assert payer_out.status == "completed"
    payer = _json(homes.payer.root, "balance")["currencies"]["EUR"]
    assert payer["limit"] == "50.00" and payer["spent"] == "12.50" and payer["left"] == "37.50"
    assert payer["pending_out"] == "12.50" and payer["pending_in"] == "0.00"
    assert payer["expired"] is False and payer["not_after"] > time.time()
    payee = _json(homes.payee.root, "balance")["currencies"]["EUR"]
    assert payee["left"] is None and payee["pending_in"] == "12.50"
    text = cli("--home", str(homes.payer.root), "balance").stdout
    assert "37.50 EUR left of 50.00 EUR" in text
    assert "paid, not yet settled: 12.50 EUR" in text


def test_allowance_list_shows_dates_and_what_is_left(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)
    listed = _json(homes.payer.root, "allowance", "list")["allowances"]
    assert isinstance(listed, list) and len(listed) == 1
    (only,) = listed
    assert only["left"] == only["limit"] == "50.00" and only["active"] is True
    assert only["not_before"] <= time.time() < only["not_after"]
    text = cli("--home", str(homes.payer.root), "allowance", "list").stdout
    assert "(active): 50.00 EUR left of 50.00 EUR, valid " in text
    assert " to " in text and "issuer " in text


def test_a_wallet_without_allowances_says_how_to_get_one(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)
    assert _json(homes.payee.root, "allowance", "list") == {"allowances": []}
    assert "allowance request" in cli("--home", str(homes.payee.root), "allowance", "list").stdout
    assert _json(homes.payee.root, "balance") == {"currencies": {}}
