"""Test helper: a whole CLI payment and the tap benchmark on two given BLE adapters.

The opt-in hardware test runs these on two physical adapters (``--ble-adapters``); the normal
suite runs the same code on two TCP-hosted Bumble controllers, so the paths a person with two
dongles takes are exercised on every run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.cli_world import ROOT, cli, set_up_wallets


def cli_payment(root: Path, peripheral: str, central: str) -> tuple[Any, Any]:
    """``pay --once`` on ``peripheral`` and ``request`` on ``central``, as two processes;
    their JSON reports (payer's, payee's). AssertionError with the payer's stderr on failure."""
    payer, payee = set_up_wallets(root)
    pay = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "p2ppay",
            "--home",
            payer,
            "pay",
            "--adapter",
            peripheral,
            "--auto-approve-up-to",
            "20.00",
            "--once",
            "--json",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "P2PPAY_PASSPHRASE": ""},
    )
    try:
        request = cli(
            "--home",
            payee,
            "request",
            "2.50",
            "EUR",
            "--adapter",
            central,
            "--within",
            "30",
            "--json",
        )
        pay_out, pay_err = pay.communicate(timeout=90)
    finally:
        if pay.poll() is None:
            pay.kill()
            pay.communicate()
    assert pay.returncode == 0, pay_err
    return json.loads(pay_out), json.loads(request.stdout)


def tap_bench(peripheral: str, central: str, payments: int) -> tuple[str, Any]:
    """``bench/tap.py --adapters PERIPHERAL,CENTRAL``: its whole output and its JSON line."""
    result = subprocess.run(
        [
            sys.executable,
            "bench/tap.py",
            "--adapters",
            f"{peripheral},{central}",
            "--payments",
            str(payments),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120 + 60 * payments,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, json.loads(result.stdout.splitlines()[-1])
