"""The conformance runner across two host stacks and two controllers, in the BlueZ VM.

In the shared boot (``conftest.bluez_boot``) the guest ran our payer, ``p2ppay pay`` on bless
and BlueZ, on one btvirt controller, and ``p2ppay conformance --role payer`` on Bumble over
the other controller's raw HCI socket (``bumble:hci-socket:N``): the way a kiosk on a USB
dongle meets a laptop on BlueZ. Every case must pass, and the payer's own log must agree
with what the runner saw. Opt out with ``-m "not bluez"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.bluez.conftest import Boot
from tests.bluez.guest_run import CONFORMANCE

pytestmark = [pytest.mark.bluez, pytest.mark.slow, pytest.mark.timeout(1200)]


def _tail(path: Path, lines: int = 25) -> str:
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    return f"--- {path.name} ---\n" + "\n".join(x[:200] for x in text[-lines:])


@pytest.fixture(scope="module")
def session(bluez_boot: Boot) -> tuple[dict[str, Any], list[dict[str, Any]], Path]:
    """The runner's report, the payer's per-session JSON lines, and the session's folder."""
    folder = bluez_boot.folder(CONFORMANCE)
    out = (folder / "runner.out").read_text().strip() if (folder / "runner.out").exists() else ""
    logs = "\n".join(_tail(folder / name) for name in ("runner.err", "pay.err", "power-off.txt"))
    assert out, f"the runner printed nothing\n{bluez_boot.retries()}\n{logs}"
    served = [json.loads(line) for line in (folder / "pay.out").read_text().splitlines() if line]
    return json.loads(out.splitlines()[-1]), served, folder


def test_our_bless_payer_passes_every_case_against_the_runner_on_a_raw_hci_socket(
    session: tuple[dict[str, Any], list[dict[str, Any]], Path],
) -> None:
    report, _, folder = session
    failed = {c["case"]: (c["observed"], c["problems"]) for c in report["cases"] if not c["passed"]}
    assert report["passed"] is True, f"{failed}\n{_tail(folder / 'runner.err')}"
    assert report["adapter"].startswith("bumble:hci-socket:")
    assert report["passed_cases"] == report["total_cases"] == 7


def test_the_payer_recorded_what_the_runner_saw(
    session: tuple[dict[str, Any], list[dict[str, Any]], Path],
) -> None:
    """Two payments completed (happy path, and the resumed one after the cut), the rest of
    the sessions failed on its side; nothing was paid twice."""
    _, served, _ = session
    completed = [s for s in served if s["status"] == "completed"]
    assert len(completed) == 2, served
    assert len({s["invoice_id"] for s in completed}) == 2
