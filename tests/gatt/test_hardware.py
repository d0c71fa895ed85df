"""Opt-in: a whole CLI payment, the tap benchmark and a 4 KB exchange between two physical
BLE adapters.

These tests are opt-in: they run only with ``--ble-adapters PERIPHERAL,CENTRAL`` and are
otherwise deselected (the run's summary says so). One command gives a person with two
dongles the real figures (``-s`` shows the benchmark's table, measured times beside the
projection)::

    .venv/bin/python -m pytest tests/gatt/test_hardware.py -s \
        --ble-adapters bumble:usb:0,bumble:usb:1

or ``--ble-adapters hci0,hci1`` for the OS stacks (bless + bleak). Each side runs in its own
process, as on two real devices. ``tests/gatt/test_adapter_runs.py`` runs the same code on
two TCP-hosted Bumble controllers in the normal suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gatt.adapter_runs import cli_payment, tap_bench
from tests.gatt.two_processes import run_pair


@pytest.mark.hardware
def test_two_adapters_exchange_4kb_each_way(ble_adapters: tuple[str, str]) -> None:
    peripheral, central = ble_adapters
    reports = run_pair(peripheral, central, timeout=120)
    assert reports["peripheral"]["match"] and reports["central"]["match"]
    assert reports["central"]["info_ok"]


@pytest.mark.hardware
def test_a_whole_cli_payment_between_two_adapters(
    tmp_path: Path, ble_adapters: tuple[str, str]
) -> None:
    paid, received = cli_payment(tmp_path, *ble_adapters)
    assert paid["status"] == received["status"] == "completed"
    assert paid["invoice_id"] == received["invoice_id"]


@pytest.mark.hardware
def test_the_tap_bench_on_two_adapters(ble_adapters: tuple[str, str]) -> None:
    output, figures = tap_bench(*ble_adapters, payments=3)
    print(output)  # the table a person runs this for (shown with -s)
    assert figures["adapters"] == list(ble_adapters)
    assert len(figures["runs"]) == 3
    assert all(run["measured_connect_to_last_pdu_ms"] is not None for run in figures["runs"])
