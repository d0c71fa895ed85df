"""The scripts' contract, end to end: two CLI processes pay each other over Bumble's
TCP-hosted link, then ``history``, ``export`` and ``inspect`` agree on the payment."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_world import ROOT, cli, cli_json, payer_process, set_up_wallets

pytestmark = pytest.mark.slow  # whole processes or fault sweeps: not the fast tier


def test_two_cli_processes_complete_a_payment_and_agree_on_its_record(
    tmp_path: Path, controllers: tuple[int, int]
) -> None:
    payer, payee = set_up_wallets(tmp_path)
    port_a, port_b = controllers
    pay = payer_process(payer, port_a, "--once")
    try:
        request = cli(
            "--home",
            payee,
            "request",
            "12.50",
            "EUR",
            "--memo",
            "lunch",
            "--json",
            "--adapter",
            f"bumble:tcp-client:127.0.0.1:{port_b}",
        )
        pay_out, pay_err = pay.communicate(timeout=60)
    finally:
        if pay.poll() is None:
            pay.kill()
            pay.communicate()
    assert pay.returncode == 0, pay_err
    paid, received = json.loads(pay_out), json.loads(request.stdout)
    assert paid["status"] == received["status"] == "completed"
    # The payee shows the SAS while the payer is asked, not after: its line comes before the
    # payment arrived, and it is the payer's.
    shown = request.stderr.index(f"short authentication string {paid['sas']}")
    assert shown < request.stderr.index("payment verified offline")
    assert paid["invoice_id"] == received["invoice_id"]
    invoice_id = received["invoice_id"]

    for home, role in ((payer, "payer"), (payee, "payee")):
        history = cli_json("--home", home, "history", "--json")["entries"]
        entry = next(e for e in history if e["invoice_id"] == invoice_id)
        assert (entry["role"], entry["amount"], entry["currency"], entry["status"]) == (
            role,
            "12.50",
            "EUR",
            "completed",
        )

    bundles = []
    for home in (payer, payee):
        path = tmp_path / f"{Path(home).name}.bundle"
        cli("--home", home, "export", invoice_id, "--out", str(path))
        bundles.append(path.read_bytes())
        inspected = cli_json("inspect", str(path), "--json")
        assert [d["kind"] for d in inspected["documents"]] == ["invoice", "payment", "receipt"]
    assert bundles[0] == bundles[1]


def test_a_payer_without_allowance_fails_with_its_code(tmp_path: Path) -> None:
    home = str(tmp_path / "lonely")
    cli("--home", home, "init", "--no-passphrase")
    result = cli(
        "--home", home, "pay", "--once", "--auto-approve-up-to", "5", "--json", check=False
    )
    assert result.returncode == 3
    assert json.loads(result.stdout)["error"] == "NO_ALLOWANCE"


def test_pay_without_once_auto_approves_one_payment_then_declines(
    tmp_path: Path, controllers: tuple[int, int]
) -> None:
    """`pay --auto-approve-up-to` left running: the first payee is paid, the next declined."""
    payer, payee = set_up_wallets(tmp_path)
    port_a, port_b = controllers
    pay = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "p2ppay",
            "--home",
            payer,
            "pay",
            "--adapter",
            f"bumble:tcp-client:127.0.0.1:{port_a}",
            "--auto-approve-up-to",
            "20.00",
            "--json",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        requests = [
            json.loads(
                cli(
                    "--home",
                    payee,
                    "request",
                    "5.00",
                    "EUR",
                    "--json",
                    "--adapter",
                    f"bumble:tcp-client:127.0.0.1:{port_b}",
                    check=False,
                ).stdout
            )
            for _ in range(2)
        ]
        pay.send_signal(signal.SIGTERM)
        pay_out, pay_err = pay.communicate(timeout=60)
    finally:
        if pay.poll() is None:
            pay.kill()
            pay.communicate()
    assert [r["status"] for r in requests] == ["completed", "failed"]
    assert requests[1]["error"] == "SESSION_DECLINED"
    served = [json.loads(line) for line in pay_out.splitlines()]
    assert [s["status"] for s in served] == ["completed", "failed"]
    payee_key = cli_json("--home", payee, "id", "--json")["public_key"]
    (logged,) = [line for line in pay_err.splitlines() if line.startswith("auto-approved")]
    assert payee_key in logged and str(served[0]["sas"]) in logged
    history = cli_json("--home", payer, "history", "--json")["entries"]
    assert [e["amount"] for e in history if e["status"] == "completed"] == ["5.00"]


def test_inconsistent_auto_approval_limits_are_refused_before_advertising(tmp_path: Path) -> None:
    payer, _ = set_up_wallets(tmp_path)
    result = cli(
        "--home",
        payer,
        "pay",
        "--auto-approve-up-to",
        "5",
        "--auto-approve-total",
        "1",
        "--json",
        check=False,
    )
    assert result.returncode == 2  # a contradiction on the command line is usage
    assert json.loads(result.stdout)["error"] == "BAD_APPROVAL_LIMITS"
