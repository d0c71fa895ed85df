"""Contacts, and ``history``/``show`` written for the person who keeps the receipt.

A person reads "You paid 12.50 EUR to Bob's cafe, 2026-12-05 11:02 CET, memo coffee", not
two hashes and a hex key; scripts keep the exact fields in ``--json``.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from p2ppay.wallet import read_identity
from tests.cli_world import cli
from tests.world import make_homes, pay_once

pytestmark = pytest.mark.anyio


def _run(home: Path, *args: str, check: bool = True) -> str:
    return cli("--home", str(home), *args, check=check).stdout


async def test_history_and_show_name_the_counterparty_and_read_like_a_receipt(
    tmp_path: Path,
) -> None:
    homes = make_homes(tmp_path)
    payer_out, _, invoice = await pay_once(homes, amount=12_50)
    assert payer_out.status == "completed"
    payee_key = read_identity(homes.payee).public_key.hex()
    _run(homes.payer.root, "contacts", "add", "Bob's cafe", payee_key)
    history = json.loads(_run(homes.payer.root, "history", "--json"))["entries"]
    assert history[0]["peer_name"] == "Bob's cafe" and history[0]["peer"] == payee_key
    assert "to Bob's cafe" in _run(homes.payer.root, "history")
    receipt = _run(homes.payer.root, "show", invoice.doc.id.hex()[:8])
    assert "You paid: 12.50 EUR" in receipt
    assert "to: Bob's cafe" in receipt and "memo: coffee" in receipt
    assert "status: completed; ledger: pending" in receipt
    shown = json.loads(_run(homes.payer.root, "show", invoice.doc.id.hex(), "--json"))
    assert shown["peer_name"] == "Bob's cafe" and shown["memo"] == "coffee"
    assert [d["kind"] for d in shown["documents"]] == ["invoice", "payment", "receipt"]
    # The payee never named the payer: it sees the key's short fingerprint.
    assert "You were paid: 12.50 EUR" in _run(homes.payee.root, "show", invoice.doc.id.hex())


def test_a_name_names_one_key_and_the_book_is_private(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)
    home = homes.payer.root
    _run(home, "contacts", "add", "Bob", "ab" * 32)
    _run(home, "contacts", "add", "Bob", "ab" * 32)  # the same pair again: fine
    clash = cli("--home", str(home), "contacts", "add", "Bob", "cd" * 32, "--json", check=False)
    assert clash.returncode == 3 and json.loads(clash.stdout)["error"] == "CONTACT_EXISTS"
    again = cli("--home", str(home), "contacts", "add", "Rob", "ab" * 32, "--json", check=False)
    assert json.loads(again.stdout)["error"] == "CONTACT_EXISTS"
    listed = json.loads(_run(home, "contacts", "list", "--json"))["contacts"]
    assert [(c["name"], c["public_key"]) for c in listed] == [("Bob", "ab" * 32)]
    assert stat.S_IMODE((home / "contacts.json").stat().st_mode) == 0o600
    _run(home, "contacts", "remove", "Bob")
    gone = cli("--home", str(home), "contacts", "remove", "Bob", "--json", check=False)
    assert json.loads(gone.stdout)["error"] == "CONTACT_NOT_FOUND"
