"""The hardware test's code paths on two TCP-hosted Bumble controllers: a whole CLI payment
and ``bench/tap.py --adapters PERIPHERAL,CENTRAL`` (tests/gatt/test_hardware.py runs the same
helpers on two physical adapters)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gatt.adapter_runs import cli_payment, tap_bench

pytestmark = pytest.mark.slow  # whole processes or fault sweeps: not the fast tier


def _adapters(ports: tuple[int, int]) -> tuple[str, str]:
    return (f"bumble:tcp-client:127.0.0.1:{ports[0]}", f"bumble:tcp-client:127.0.0.1:{ports[1]}")


def test_a_whole_cli_payment_on_the_given_adapters(
    tmp_path: Path, controllers: tuple[int, int]
) -> None:
    paid, received = cli_payment(tmp_path, *_adapters(controllers))
    assert paid["status"] == received["status"] == "completed"
    assert paid["invoice_id"] == received["invoice_id"]


def test_the_tap_bench_measures_the_given_adapters(controllers: tuple[int, int]) -> None:
    adapters = _adapters(controllers)
    output, figures = tap_bench(*adapters, payments=2)
    assert f"adapters: {adapters[0]} (payer) / {adapters[1]} (payee)" in output
    assert figures["adapters"] == list(adapters)
    assert len(figures["runs"]) == 2
    for run in figures["runs"]:
        # The whole connection, from the MTU exchange the payee starts to the session's end.
        assert run["sequence"].startswith("C:EXCHANGE_MTU_REQ | P:EXCHANGE_MTU_RSP")
        assert run["direction_changes"] == run["sequence"].count(" | ")
        assert run["measured_connect_to_last_pdu_ms"] is not None
        assert run["projected_ms"]["15.0"] == 2 * run["projected_ms"]["7.5"]
