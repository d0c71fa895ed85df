"""``p2ppay conformance`` as a script runs it: our payer and our payee, each in its own
process on Bumble's TCP-hosted controllers, pass every case; the payee is driven by a
script that follows the runner's instructions on stderr; a DUT that never appears is the
typed DEVICE_NOT_FOUND, exit 1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_world import ROOT, cli, cli_json, payer_process, set_up_wallets

pytestmark = pytest.mark.slow  # whole processes or fault sweeps: not the fast tier


def _conformance(home: str, port: int, role: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "p2ppay",
            "--home",
            home,
            "conformance",
            "--role",
            role,
            "--adapter",
            f"bumble:tcp-client:127.0.0.1:{port}",
            "--within",
            "30",
            "--non-interactive",
            "--json",
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "P2PPAY_PASSPHRASE": ""},
    )


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def test_our_payer_in_its_own_process_passes_every_case(
    tmp_path: Path, controllers: tuple[int, int]
) -> None:
    payer, _ = set_up_wallets(tmp_path)
    port_a, port_b = controllers
    dut = payer_process(payer, port_a, "--auto-approve-count", "10")
    try:
        runner = _conformance(str(tmp_path / "runner"), port_b, "payer")
        out, err = runner.communicate(timeout=300)
    finally:
        _stop(dut)
    report = json.loads(out)
    assert runner.returncode == 0, (report, err)
    assert report["passed"] is True and report["passed_cases"] == report["total_cases"] == 7
    assert "error" not in report
    # The operator was told what to do before each case.
    assert err.count("on the device:") == 8  # seven cases, and the resumption


def test_our_payee_driven_by_the_runners_instructions_passes_every_case(
    tmp_path: Path, controllers: tuple[int, int]
) -> None:
    _, payee = set_up_wallets(tmp_path)
    runner_home = str(tmp_path / "runner")
    issuer = cli_json("--home", runner_home, "issuer", "init", "--json")["public_key"]
    cli("--home", payee, "trust-issuer", issuer)
    port_a, port_b = controllers
    dut = ("--adapter", f"bumble:tcp-client:127.0.0.1:{port_b}", "--json")
    runner = _conformance(runner_home, port_a, "payee")
    done: list[str] = []
    invoice_id = ""
    try:
        assert runner.stderr is not None
        for line in runner.stderr:
            if "on the device: start a payment request of 1.00 EUR" in line:
                result = cli(
                    "--home", payee, "request", "1.00", "EUR", "--attempts", "1", *dut, check=False
                )
                invoice_id = json.loads(result.stdout)["invoice_id"]
                done.append("request")
            elif "on the device: the link was cut on purpose: resume" in line:
                cli("--home", payee, "resume", invoice_id, *dut, check=False)
                done.append("resume")
        out, _ = runner.communicate(timeout=60)
    finally:
        _stop(runner)
    report = json.loads(out)
    assert runner.returncode == 0, report
    assert report["passed"] is True and report["issuer"] == issuer
    assert done == ["request"] * 4 + ["resume"] + ["request"] * 3
    history = cli_json("--home", payee, "history", "--json")["entries"]
    assert sorted(e["status"] for e in history).count("completed") == 2


def test_a_device_that_never_appears_is_device_not_found(tmp_path: Path) -> None:
    result = cli(
        "--home",
        str(tmp_path / "runner"),
        "conformance",
        "--role",
        "payer",
        "--within",
        "1",
        "--non-interactive",
        "--json",
        check=False,
    )
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert (report["error"], report["code"], report["passed"]) == ("DEVICE_NOT_FOUND", 1309, False)
    assert [c["observed"] for c in report["cases"]] == [None] * 7


def test_testing_a_payee_without_a_development_issuer_says_how_to_make_one(tmp_path: Path) -> None:
    result = cli(
        "--home", str(tmp_path / "runner"), "conformance", "--role", "payee", "--json", check=False
    )
    assert result.returncode == 3
    body = json.loads(result.stdout)
    assert body["error"] == "ISSUER_NOT_FOUND" and "issuer init" in body["message"]
