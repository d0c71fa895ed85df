"""``p2ppay resume INVOICE_ID`` only resumes an invoice this wallet issued."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p2ppay.cli import main
from tests.reliability.harness import World

pytestmark = pytest.mark.anyio


async def test_resume_refuses_an_invoice_this_wallet_did_not_issue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = World.make(tmp_path)
    invoice = world.invoice(1_00)
    assert (await world.attempt(invoice)).payer == "completed"  # the payer now stores it too
    code = main(["--home", str(world.homes.payer.root), "resume", invoice.doc.id.hex(), "--json"])
    assert code == 3
    assert json.loads(capsys.readouterr().out)["error"] == "STORE_NOT_FOUND"


def test_resume_refuses_an_unknown_invoice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = World.make(tmp_path)
    code = main(["--home", str(world.homes.payee.root), "resume", "abcd" * 8, "--json"])
    assert code == 3
    assert json.loads(capsys.readouterr().out)["error"] == "STORE_NOT_FOUND"
