"""Opt-in: the 4 KB exchange between two physical BLE adapters.

This test is opt-in: it runs only with ``--ble-adapters PERIPHERAL,CENTRAL`` and is otherwise
deselected (the run's summary says so). One command::

    .venv/bin/python -m pytest tests/gatt/test_hardware.py --ble-adapters bumble:usb:0,bumble:usb:1

or ``--ble-adapters hci0,hci1`` for the OS stacks (bless + bleak). Each side runs in its own
process, as on two real devices.
"""

from __future__ import annotations

import pytest

from tests.gatt.two_processes import run_pair


@pytest.mark.hardware
def test_two_adapters_exchange_4kb_each_way(ble_adapters: tuple[str, str]) -> None:
    peripheral, central = ble_adapters
    reports = run_pair(peripheral, central, timeout=120)
    assert reports["peripheral"]["match"] and reports["central"]["match"]
    assert reports["central"]["info_ok"]
