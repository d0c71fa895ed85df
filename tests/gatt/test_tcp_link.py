"""Two processes, one role each, over Bumble's TCP-hosted virtual link.

The test starts ``python -m bumble.apps.controllers tcp-server:127.0.0.1:A
tcp-server:127.0.0.1:B`` (two controllers on one link) on free ports; the peripheral process
uses ``bumble:tcp-client:127.0.0.1:A`` and the central ``bumble:tcp-client:127.0.0.1:B``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.gatt.two_processes import run_pair


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


@pytest.fixture
def controllers() -> Iterator[tuple[int, int]]:
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


def test_two_processes_exchange_4kb_each_way_over_tcp_hosted_controllers(
    controllers: tuple[int, int],
) -> None:
    port_a, port_b = controllers
    reports = run_pair(
        f"bumble:tcp-client:127.0.0.1:{port_a}", f"bumble:tcp-client:127.0.0.1:{port_b}"
    )
    assert reports["peripheral"]["match"] and reports["central"]["match"]
    assert reports["central"]["info_ok"]
    assert reports["central"]["att_mtu"] == 517
