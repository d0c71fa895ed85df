"""The examples run as documented: a virtual-radio payment, two separate programs over
Bumble's TCP-hosted link, and reading the receipt back from an exported bundle."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from p2ppay.wallet import WalletHome
from p2ppay.wallet.issuer import read_issuer_key
from tests.cli_world import ROOT, cli, cli_json, set_up_wallets

pytestmark = pytest.mark.slow  # whole processes or fault sweeps: not the fast tier


def run_example(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_virtual_payment_example_completes_and_its_bundle_reads_back(tmp_path: Path) -> None:
    result = run_example("examples/virtual_payment.py", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "completed: 4.20 EUR" in result.stdout
    payee = str(tmp_path / "payee")
    invoice_id = cli_json("--home", payee, "history", "--json")["entries"][0]["invoice_id"]
    bundle = tmp_path / "bundle.cbor"
    cli("--home", payee, "export", invoice_id, "--out", str(bundle))
    issuer_key = read_issuer_key(WalletHome.resolve(tmp_path / "issuer")).hex()
    read = run_example("examples/read_receipt.py", str(bundle), issuer_key)
    assert read.returncode == 0, read.stdout + read.stderr
    assert "amount   4.20 EUR" in read.stdout
    assert "receipt  accepted" in read.stdout
    stranger = run_example("examples/read_receipt.py", str(bundle), "11" * 32)
    assert stranger.returncode == 1
    assert "DOC_UNTRUSTED_ISSUER" in stranger.stdout


def test_the_two_laptop_programs_pay_each_other(
    tmp_path: Path, controllers: tuple[int, int]
) -> None:
    payer, payee = set_up_wallets(tmp_path)
    port_a, port_b = controllers
    payer_proc = subprocess.Popen(
        [
            sys.executable,
            "examples/two_laptops/payer.py",
            payer,
            f"bumble:tcp-client:127.0.0.1:{port_a}",
            "20.00",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        payee_run = run_example(
            "examples/two_laptops/payee.py",
            payee,
            "3.00",
            "EUR",
            f"bumble:tcp-client:127.0.0.1:{port_b}",
        )
        out, err = payer_proc.communicate(timeout=60)
    finally:
        if payer_proc.poll() is None:
            payer_proc.kill()
            payer_proc.communicate()
    assert payee_run.returncode == 0, payee_run.stdout + payee_run.stderr
    assert payer_proc.returncode == 0, out + err
    assert "completed: 3.00 EUR" in payee_run.stdout
    assert json.dumps("completed")[1:-1] in out
