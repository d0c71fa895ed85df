"""The kiosk as a real process (``python -m p2ppay kiosk --config FILE``), and a restartable
pair of Bumble controllers hosted over TCP, for the restart and adapter-loss tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx

from tests.controllers import free_port, listening

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, *, home: Path, adapter: str, socket: Path) -> Path:
    path.write_text(
        f"""
[wallet]
home = "{home}"

[radio]
adapter = "{adapter}"
min_rssi = -127
margin_db = -1
listen = 0.2
scan_timeout = 20

[payments]
currency = "EUR"
attempts = 1

[api]
listen = "unix:{socket}"

[daemon]
shutdown_grace = 10
health_interval = 0.3
backoff_initial = 0.2
backoff_max = 1.0
log_level = "DEBUG"
""",
        encoding="utf-8",
    )
    return path


def start_kiosk(config: Path, log: Path, *, crash_at: str = "") -> subprocess.Popen[bytes]:
    """``p2ppay kiosk --config`` in its own process (dying at ``crash_at``, if given)."""
    env = {**os.environ, "P2PPAY_PASSPHRASE": "", "P2PPAY_CRASH_AT": crash_at}
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "p2ppay", "kiosk", "--config", str(config)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env=env,
        )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    """Send ``sig`` and return the exit status (killing it if it does not exit in time)."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


async def wait_health(pos: httpx.AsyncClient, *, ok: bool, within: float = 20) -> dict[str, object]:
    """Poll /healthz until it answers 200 (``ok``) or 503 (not ``ok``)."""
    with anyio.fail_after(within):
        while True:
            try:
                response = await pos.get("/healthz")
            except httpx.TransportError:
                response = None
            if response is not None and (response.status_code == 200) == ok:
                body: dict[str, object] = response.json()
                return body
            await anyio.sleep(0.1)


async def wait_state(
    pos: httpx.AsyncClient, request_id: str, state: str, within: float = 20
) -> dict[str, object]:
    """Poll a request's status until it is in ``state``."""
    with anyio.fail_after(within):
        while True:
            status: dict[str, object] = (await pos.get(f"/invoices/{request_id}")).json()
            if status["state"] == state:
                return status
            await anyio.sleep(0.05)


class Controllers:
    """Two Bumble controllers on one link, on two fixed loopback ports, stoppable and
    restartable on the same ports (the "adapter goes away and comes back")."""

    def __init__(self) -> None:
        self.ports = (free_port(), free_port())
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bumble.apps.controllers",
                *(f"tcp-server:127.0.0.1:{port}" for port in self.ports),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Not by connecting: Bumble's tcp-server serves only its latest client, so a probe
        # connection would steal the controller from a kiosk that reconnected first.
        deadline = time.monotonic() + 20
        while not all(listening(port) for port in self.ports):
            if time.monotonic() > deadline:
                raise TimeoutError(f"controllers not listening on {self.ports}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def adapter(self, i: int) -> str:
        return f"bumble:tcp-client:127.0.0.1:{self.ports[i]}"
