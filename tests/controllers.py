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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def listening(port: int) -> bool:
    """Whether a TCP socket listens on ``port``, read from /proc without connecting.

    Bumble's tcp-server serves only its most recent client: a connect-and-close probe can
    race the real client and leave it with a controller that never answers.
    """
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def wait_listening(port: int, deadline: float) -> None:
    """Wait until ``port`` listens (TimeoutError at ``deadline``, a ``time.monotonic`` value)."""
    while not listening(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on port {port}")
        time.sleep(0.05)


@contextmanager
def bumble_controllers() -> Iterator[tuple[int, int]]:
    """Two Bumble controllers on one link, hosted over TCP on two free ports."""
    ports = (free_port(), free_port())
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
            wait_listening(port, deadline)
        yield ports
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
