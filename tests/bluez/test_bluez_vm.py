"""The os backend over a real BlueZ: bless on hci0, bleak on hci1, inside one VM boot.

The module boots the test-bed once (``vm.py``, about 35 s on 2 idle cores, several times that
on a loaded machine), the guest runs ``guest_exchange.py`` and writes what each side saw; the
tests below judge those records on the host. Runs by default; when the test-bed is not
installed it fails and says how to install it (``bash scripts/setup.sh --system``): it never
skips. Opt out explicitly with ``-m "not bluez"``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gatt.os_backend.central import MAX_WRITE_VALUE
from gatt.spec import max_chunk
from tests.bluez.vm import SETUP_HINT, missing_prerequisites, run_in_vm

pytestmark = [pytest.mark.bluez, pytest.mark.slow, pytest.mark.timeout(1200)]

VM_TIMEOUT = 900.0
_STACK_STEPS = {
    10: "loading hci_vhci",
    11: "starting dbus",
    12: "creating the btvirt controllers",
    13: "starting bluetoothd / powering the controllers",
}


@dataclass(frozen=True, kw_only=True)
class Records:
    """What each side wrote, per session, and where the guest's logs are."""

    peripheral: dict[str, Any]
    central: dict[str, Any]
    out: Path

    def session(self, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(peripheral, central) records of one session; fails with both errors if any."""
        side_p = self.peripheral.get(name, {})
        side_c = self.central.get(name, {})
        errors = {
            k: v["error"] for k, v in (("peripheral", side_p), ("central", side_c)) if "error" in v
        }
        assert not errors, f"session {name} failed: {errors}\n{self.log_tail()}"
        return side_p, side_c

    def log_tail(self, lines: int = 15) -> str:
        """The last log lines of both roles (pytest may delete ``out`` with its old temp dirs)."""
        tails = []
        for role in ("peripheral", "central"):
            path = self.out / f"{role}.log"
            text = path.read_text(errors="replace").splitlines() if path.exists() else []
            kept = [line[:200] for line in text if "dbus" not in line][-lines:]
            tails.append(f"--- {role}.log ---\n" + "\n".join(kept))
        return "\n".join(tails)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Records:
    missing = missing_prerequisites()
    if missing:
        pytest.fail(
            "the real-BlueZ test-bed is not installed: missing "
            + "; ".join(missing)
            + f". To install it, {SETUP_HINT}; to leave these tests out, -m 'not bluez'.",
            pytrace=False,
        )
    out = tmp_path_factory.mktemp("bluez-vm")
    program = [sys.executable, "-m", "tests.bluez.guest_exchange", "main", str(out)]
    run = run_in_vm(program, out_dir=out, timeout=VM_TIMEOUT)
    if run.returncode in _STACK_STEPS:
        pytest.fail(
            f"BlueZ did not come up in the VM ({_STACK_STEPS[run.returncode]}); logs in {out}\n"
            + run.console[-3000:],
            pytrace=False,
        )
    loaded = {}
    for role in ("peripheral", "central"):
        path = out / f"{role}.json"
        if not path.exists():
            pytest.fail(
                f"the guest wrote no {path.name} (rc {run.returncode}):\n" + run.console[-3000:]
            )
        loaded[role] = json.loads(path.read_text())
    return Records(peripheral=loaded["peripheral"], central=loaded["central"], out=out)


def test_both_sides_ran_to_the_end(records: Records) -> None:
    assert records.peripheral.get("ok") and records.central.get("ok"), (
        records.peripheral.get("error"),
        records.central.get("error"),
    )


EXCHANGES = ["exchange", "exchange_with_response"]
"""Sessions moving 4 KB each way: ATT Write Commands (the fast path), then Write Requests."""


def test_the_central_finds_the_tag_the_peripheral_advertises(records: Records) -> None:
    side_p, side_c = records.session("exchange")
    assert side_c["tag"] == side_p["tag"]


def test_each_session_advertises_a_fresh_tag(records: Records) -> None:
    tags = [records.peripheral[name]["tag"] for name in EXCHANGES]
    assert len(set(tags)) == len(tags)


def test_the_central_reads_info_before_the_session(records: Records) -> None:
    _, side_c = records.session("exchange")
    assert side_c["info_versions"] == [1]


def test_both_sides_use_the_negotiated_att_mtu(records: Records) -> None:
    side_p, side_c = records.session("exchange")
    # bless cannot see the MTU: the peripheral's figure comes from the central's START.
    assert side_p["att_mtu"] == side_c["att_mtu"] > 23
    assert side_p["max_chunk"] == max_chunk(side_c["att_mtu"])
    # The central writes at most 510 bytes: BlueZ's server refuses more (MAX_WRITE_VALUE).
    assert side_c["max_chunk"] == min(max_chunk(side_c["att_mtu"]), MAX_WRITE_VALUE)


@pytest.mark.parametrize("session", EXCHANGES)
def test_4kb_central_to_peripheral_arrives_intact(records: Records, session: str) -> None:
    side_p, side_c = records.session(session)
    assert side_p["received_length"] == 4096
    assert side_p["received"] == side_c["sent"]


@pytest.mark.parametrize("session", EXCHANGES)
def test_4kb_peripheral_to_central_arrives_intact(records: Records, session: str) -> None:
    side_p, side_c = records.session(session)
    assert side_c["received_length"] == 4096
    assert side_c["received"] == side_p["sent"]


def test_the_peripheral_sees_link_closed_when_the_central_closes(records: Records) -> None:
    side_p, _ = records.session("exchange")
    assert side_p["after_peer_close"].startswith("LinkClosed")


def test_the_central_sees_link_closed_when_the_peripheral_closes(records: Records) -> None:
    _, side_c = records.session("exchange_with_response")
    assert side_c["after_peer_close"].startswith("LinkClosed")
