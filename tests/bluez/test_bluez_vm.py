"""The os backend over a real BlueZ: bless and bleak exchange 4 KB each way, per session.

The VM boot is shared with the payment test (``conftest.bluez_boot``: one boot per pytest
run); every session ran on its own fresh controller pair (:mod:`tests.bluez.guest_run`).
The tests below judge the records each side wrote. Opt out with ``-m "not bluez"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gatt.spec import max_chunk, max_write_chunk
from tests.bluez.conftest import Boot
from tests.bluez.guest_exchange import SESSIONS

pytestmark = [pytest.mark.bluez, pytest.mark.slow, pytest.mark.timeout(1200)]


def _load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"error": f"no {path.name}"}
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


@dataclass(frozen=True, kw_only=True)
class Records:
    """What each side wrote in each session's last attempt."""

    boot: Boot

    def session(self, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(peripheral, central) records of one session; fails with both errors if any."""
        folder = self.boot.folder(name)
        side_p, side_c = _load(folder / "peripheral.json"), _load(folder / "central.json")
        errors = {
            k: v["error"] for k, v in (("peripheral", side_p), ("central", side_c)) if "error" in v
        }
        assert not errors, (
            f"session {name} failed: {errors}\n{self.boot.retries()}\n{self.log_tail(folder)}"
        )
        return side_p, side_c

    @staticmethod
    def log_tail(folder: Path, lines: int = 15) -> str:
        """The last log lines of both roles (pytest may delete ``out`` with its old temp dirs)."""
        tails = []
        for role in ("peripheral", "central"):
            path = folder / f"{role}.log"
            text = path.read_text(errors="replace").splitlines() if path.exists() else []
            kept = [line[:200] for line in text if "dbus" not in line][-lines:]
            tails.append(f"--- {folder.name}/{role}.log ---\n" + "\n".join(kept))
        return "\n".join(tails)


@pytest.fixture(scope="module")
def records(bluez_boot: Boot) -> Records:
    return Records(boot=bluez_boot)


EXCHANGES = list(SESSIONS)
"""Sessions moving 4 KB each way: ATT Write Commands (the fast path), then Write Requests."""


@pytest.mark.parametrize("session", EXCHANGES)
def test_both_sides_run_the_session_to_the_end(records: Records, session: str) -> None:
    side_p, side_c = records.session(session)
    assert side_p.get("ok") and side_c.get("ok")


def test_each_session_runs_on_its_own_controller_pair(records: Records) -> None:
    adapters = [records.session(name)[i]["adapter"] for name in EXCHANGES for i in (0, 1)]
    assert len(set(adapters)) == len(adapters)


def test_the_central_finds_the_tag_the_peripheral_advertises(records: Records) -> None:
    side_p, side_c = records.session("exchange")
    assert side_c["tag"] == side_p["tag"]


def test_each_session_advertises_a_fresh_tag(records: Records) -> None:
    tags = [records.session(name)[0]["tag"] for name in EXCHANGES]
    assert len(set(tags)) == len(tags)


def test_the_central_reads_info_before_the_session(records: Records) -> None:
    _, side_c = records.session("exchange")
    assert side_c["info_versions"] == [1]


def test_both_sides_use_the_negotiated_att_mtu(records: Records) -> None:
    side_p, side_c = records.session("exchange")
    # bless cannot see the MTU: the peripheral's figure comes from the central's START.
    assert side_p["att_mtu"] == side_c["att_mtu"] > 23
    assert side_p["max_chunk"] == max_chunk(side_c["att_mtu"])
    # The central writes at most 510 bytes: BlueZ's server refuses more.
    assert side_c["max_chunk"] == max_write_chunk(side_c["att_mtu"])


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
