"""``p2ppay demo`` (the README's first command) completes a payment and settles it."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_json_reports_a_completed_settled_payment_and_conserved_balances() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "p2ppay", "demo", "--json", "--amount", "7.25", "--mtu", "23"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed"
    assert (summary["amount"], summary["currency"]) == ("7.25", "EUR")
    assert len(bytes.fromhex(summary["invoice_id"])) == 16
    assert summary["sas"] == summary["payer_sas"]
    assert summary["settled"] is True
    assert summary["sync"]["payer"]["duplicate"] + summary["sync"]["payer"]["settled"] == 1
    # 100.00 deposited: it is all still there, split between the payer, its reserve, the payee.
    balances = summary["balances"]
    total = sum(Decimal(b[k]) for b in balances.values() for k in ("balance", "reserve", "claims"))
    assert total == Decimal("100.00")
    assert Decimal(balances["payee"]["balance"]) == Decimal("7.25")
    assert Decimal(balances["payer"]["reserve"]) == Decimal("50.00") - Decimal("7.25")


def test_after_the_demo_both_histories_show_the_payment_settled(tmp_path: Path) -> None:
    def p2ppay(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "p2ppay", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        )

    summary = json.loads(p2ppay("demo", "--json", "--keep", str(tmp_path)).stdout)
    for role in ("payer", "payee"):
        history = json.loads(p2ppay("--home", str(tmp_path / role), "history", "--json").stdout)[
            "entries"
        ]
        assert [(h["invoice_id"], h["role"], h["status"], h["settlement"]) for h in history] == [
            (summary["invoice_id"], role, "completed", "settled")
        ]
