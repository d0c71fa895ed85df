"""``resume`` and ``history`` for invoices at both ends of their life: paid, and never met.

A person resuming a paid invoice is told so at once (no 30-second scan, no session replayed
so the payer prints "paid" again); an invoice that never met a payer is in ``history``, so
there is something to find and resume; an expired one is refused at once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from p2ppay.roles import PayeeRole
from tests.cli_world import cli
from tests.world import make_homes, pay_once

pytestmark = pytest.mark.anyio


async def test_resuming_a_paid_invoice_reports_it_paid_without_scanning(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)
    _, payee_out, invoice = await pay_once(homes, amount=3_00)
    assert payee_out.status == "completed"
    started = time.monotonic()
    result = cli(
        "--home", str(homes.payee.root), "resume", invoice.doc.id.hex(), "--within", "60", "--json"
    )
    # It looked a few seconds for a payer missing its receipt, not the 60 s asked for.
    assert time.monotonic() - started < 40
    body = json.loads(result.stdout)
    assert body["status"] == "completed" and body["already_paid"] is True
    assert body["amount"] == "3.00" and body["receipt_redelivered"] is False


def test_an_invoice_that_never_met_a_payer_is_in_history_and_resumable(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)
    with homes.open_payee() as wallet:
        fresh = PayeeRole(wallet=wallet).new_invoice(amount=2_00, currency="EUR", memo="tea")
        old = PayeeRole(wallet=wallet).new_invoice(amount=1_00, currency="EUR", ttl=1)
    entries = json.loads(cli("--home", str(homes.payee.root), "history", "--json").stdout)
    by_id = {e["invoice_id"]: e for e in entries["entries"]}
    assert by_id[fresh.doc.id.hex()]["status"] == "unpaid"
    assert by_id[fresh.doc.id.hex()]["memo"] == "tea"
    time.sleep(1.5)
    later = json.loads(cli("--home", str(homes.payee.root), "history", "--json").stdout)
    assert {e["invoice_id"]: e for e in later["entries"]}[old.doc.id.hex()]["status"] == "expired"
    refused = cli(
        "--home", str(homes.payee.root), "resume", old.doc.id.hex(), "--json", check=False
    )
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["error"] == "INVOICE_EXPIRED"
