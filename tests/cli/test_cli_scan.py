"""``scan`` over Bumble's TCP-hosted radio: the payer advertising in another process is listed
with its tag and signal, and ``request --tag`` with that tag pays it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.cli_world import cli, payer_process, set_up_wallets

pytestmark = pytest.mark.slow  # whole processes or fault sweeps: not the fast tier


def test_scan_lists_the_advertising_payer_and_its_tag_pays(
    tmp_path: Path, controllers: tuple[int, int]
) -> None:
    payer, payee = set_up_wallets(tmp_path)
    port_a, port_b = controllers
    pay = payer_process(payer, port_a, "--once")
    try:
        adapter = f"bumble:tcp-client:127.0.0.1:{port_b}"
        deadline = time.monotonic() + 30
        payers: list[dict[str, object]] = []
        while not payers and time.monotonic() < deadline:
            scanned = json.loads(
                cli("--home", payee, "scan", "--adapter", adapter, "--within", "2", "--json").stdout
            )
            payers = scanned["payers"]
        assert len(payers) == 1 and scanned["copied_tags"] == []
        (found,) = payers
        seen = found["seen"]
        assert isinstance(found["rssi"], int) and isinstance(seen, int) and seen >= 1
        request = cli(
            "--home",
            payee,
            "request",
            "1.50",
            "EUR",
            "--tag",
            str(found["tag"]),
            "--adapter",
            adapter,
            "--json",
        )
        pay_out, pay_err = pay.communicate(timeout=60)
    finally:
        if pay.poll() is None:
            pay.kill()
            pay.communicate()
    assert pay.returncode == 0, pay_err
    assert json.loads(request.stdout)["tag"] == found["tag"] == json.loads(pay_out)["tag"]
