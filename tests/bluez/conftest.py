"""One VM boot for every BlueZ test: the guest runs all sessions, the tests judge the records.

The ``bluez_boot`` fixture (session scope) prepares the payment's wallets on the host, boots
the test-bed once (``vm.py``; about 40 s on 2 idle cores, several times that on a loaded
machine) with :data:`tests.bluez.guest_run.CONTROLLERS` controllers, and runs
:mod:`tests.bluez.guest_run`, which gives every session a fresh controller pair. When the
test-bed is not installed the fixture fails and says how to install it (``bash
scripts/setup.sh --system``): it never skips. Opt out explicitly with ``-m "not bluez"``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.bluez import guest_run
from tests.bluez.vm import SETUP_HINT, VmRun, missing_prerequisites, run_in_vm
from tests.cli_world import set_up_wallets

VM_TIMEOUT = 1100.0
_STACK_STEPS = {
    10: "loading hci_vhci",
    11: "starting dbus",
    12: "creating the btvirt controllers",
    13: "starting bluetoothd / powering the controllers",
}


@dataclass(frozen=True, kw_only=True)
class Boot:
    """What one VM boot left in its out folder."""

    out: Path
    run: VmRun
    sessions: dict[str, dict[str, Any]]
    """``sessions.json``: per session, its attempts (folder, controller pair, whether met)."""
    seconds: float
    """Wall-clock seconds of the boot, as the host saw it."""

    def folder(self, session: str) -> Path:
        """The folder of the session's last attempt (the one the tests judge)."""
        attempts = self.sessions.get(session, {}).get("attempts", [])
        assert attempts, f"the guest ran no {session} session:\n{self.run.console[-3000:]}"
        return self.out / str(attempts[-1]["folder"])

    def retries(self) -> str:
        """One line per retried session (empty if none), for failure messages."""
        return "\n".join(
            f"{name}: {len(s['attempts'])} attempts {s['attempts']}"
            for name, s in self.sessions.items()
            if len(s["attempts"]) > 1
        )


@pytest.fixture(scope="session")
def bluez_boot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Boot]:
    missing = missing_prerequisites()
    if missing:
        pytest.fail(
            "the real-BlueZ test-bed is not installed: missing "
            + "; ".join(missing)
            + f". To install it, {SETUP_HINT}; to leave these tests out, -m 'not bluez'.",
            pytrace=False,
        )
    out = tmp_path_factory.mktemp("bluez-vm")
    set_up_wallets(out / "wallets")
    program = [sys.executable, "-m", "tests.bluez.guest_run", str(out)]
    started = time.monotonic()
    run = run_in_vm(
        program,
        out_dir=out,
        timeout=VM_TIMEOUT,
        guest_env={"CONTROLLERS": str(guest_run.CONTROLLERS)},
    )
    seconds = time.monotonic() - started
    (out / "console.txt").write_text(run.console)
    if run.returncode in _STACK_STEPS:
        pytest.fail(
            f"BlueZ did not come up in the VM ({_STACK_STEPS[run.returncode]}); logs in {out}\n"
            + run.console[-3000:],
            pytrace=False,
        )
    summary = out / "sessions.json"
    if not summary.exists():
        pytest.fail(
            f"the guest wrote no sessions.json (rc {run.returncode}):\n" + run.console[-3000:],
            pytrace=False,
        )
    yield Boot(out=out, run=run, sessions=json.loads(summary.read_text()), seconds=seconds)
