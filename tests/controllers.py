"""Bumble controllers hosted over TCP, for tests that run each BLE role in its own process.

``python -m bumble.apps.controllers tcp-server:127.0.0.1:A tcp-server:127.0.0.1:B`` puts two
virtual controllers on one link; a process using ``bumble:tcp-client:127.0.0.1:A`` talks to
one using ``bumble:tcp-client:127.0.0.1:B`` over real HCI, ATT and GATT.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def bumble_controllers() -> Iterator[tuple[int, int]]:
    """Two Bumble controllers on one link, hosted over TCP on two free ports."""
    ports = (_free_port(), _free_port())
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bumble.apps.controllers",
            *(f"tcp-server:127.0.0.1:{port}" for port in ports),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        for port in ports:
            _wait_listening(port, deadline)
        yield ports
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
