"""Payer and payee as two ``p2ppay`` processes over Bumble's TCP-hosted controllers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from p2ppay.roles.crashpoints import CRASH_AT_ENV
from p2ppay.wallet import WalletHome
from tests.world import Homes

__all__ = ["Pair", "invoice_ids"]

ROOT = Path(__file__).resolve().parents[2]
PHASE_LIMIT = 60.0
"""Seconds a phase may take before the test gives up on it (never a timing assertion)."""
GRACE = 0.5
"""Seconds the survivor of a crash gets to end on its own before it is killed too."""


def _start(home: WalletHome, args: Sequence[str], crash: str | None) -> subprocess.Popen[str]:
    env = {**os.environ, "P2PPAY_PASSPHRASE": ""}
    env.pop(CRASH_AT_ENV, None)
    if crash is not None:
        env[CRASH_AT_ENV] = crash
    return subprocess.Popen(
        [sys.executable, "-m", "p2ppay", "--home", str(home.root), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(proc: subprocess.Popen[str], wait: float) -> int:
    """The exit status after at most ``wait`` seconds; SIGKILLed (-9) if it was still running."""
    try:
        return proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        return proc.wait()


@dataclass(frozen=True, kw_only=True)
class Ended:
    """How the two processes of one phase ended (negative: killed by that signal)."""

    payer: int
    payee: int
    payer_err: str
    payee_err: str


@dataclass(frozen=True, kw_only=True)
class Pair:
    """A payer and a payee home, and the two controller ports they use."""

    homes: Homes
    ports: tuple[int, int]

    def _payer(self, crash: str | None) -> subprocess.Popen[str]:
        adapter = f"bumble:tcp-client:127.0.0.1:{self.ports[0]}"
        args = ["pay", "--once", "--json", "--auto-approve-up-to", "100", "--adapter", adapter]
        return _start(self.homes.payer, args, crash)

    def _payee(self, args: Sequence[str], crash: str | None) -> subprocess.Popen[str]:
        adapter = f"bumble:tcp-client:127.0.0.1:{self.ports[1]}"
        return _start(
            self.homes.payee,
            [*args, "--json", "--attempts", "1", "--within", "20", "--adapter", adapter],
            crash,
        )

    def phase(
        self,
        payee_args: Sequence[str],
        *,
        crash: str | None = None,
        kill_after: float | None = None,
        kill_payer: bool = True,
    ) -> Ended:
        """Run both processes once.

        ``crash`` (a crash point) kills its role by ``os._exit`` in the process; after that
        the survivor gets :data:`GRACE` seconds, then SIGKILL. ``kill_after`` SIGKILLs the
        payer (or the payee) that many seconds after the start instead, and the other after
        the grace.
        """
        role = None if crash is None else crash.partition(".")[0]
        payer = self._payer(crash if role == "payer" else None)
        payee = self._payee(payee_args, crash if role == "payee" else None)
        procs = {"payer": payer, "payee": payee}
        try:
            if kill_after is not None:
                time.sleep(kill_after)
                victim, other = ("payer", "payee") if kill_payer else ("payee", "payer")
                codes = {victim: _stop(procs[victim], 0)}
                codes[other] = _stop(procs[other], GRACE)
            elif role is not None:
                other = "payee" if role == "payer" else "payer"
                codes = {role: _stop(procs[role], PHASE_LIMIT)}
                codes[other] = _stop(procs[other], GRACE)
            else:
                codes = {name: _stop(p, PHASE_LIMIT) for name, p in procs.items()}
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        return Ended(
            payer=codes["payer"],
            payee=codes["payee"],
            payer_err=payer.communicate()[1][-2000:],
            payee_err=payee.communicate()[1][-2000:],
        )


def invoice_ids(home: WalletHome) -> list[bytes]:
    """Every invoice id in a store, oldest first."""
    uri = f"file:{home.store_file.as_posix()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT invoice_id FROM invoices ORDER BY rowid")]
    finally:
        conn.close()
