"""A Bumble central whose transport goes away (the TCP-hosted controller process dies):
scanning and connecting fail at once with AdapterUnavailable instead of waiting forever."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import anyio
import pytest

from gatt.adapters import open_central
from gatt.errors import AdapterUnavailable
from gatt.link import LinkOptions, ScanResult
from tests.controllers import free_port, wait_listening

pytestmark = pytest.mark.anyio


@pytest.fixture
def controller() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A TCP-hosted controller process (killable by the test) and the adapter string for it."""
    ports = (free_port(), free_port())
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bumble.apps.controllers",
            *(f"tcp-server:127.0.0.1:{port}" for port in ports),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        for port in ports:
            wait_listening(port, deadline)
        yield proc, f"bumble:tcp-client:127.0.0.1:{ports[0]}"
    finally:
        proc.kill()
        proc.wait()


async def test_a_scan_after_the_transport_died_fails_at_once(
    controller: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, adapter = controller
    async with open_central(adapter, options=LinkOptions()) as central:
        proc.kill()
        proc.wait()
        with anyio.fail_after(5):
            while True:
                try:
                    async with central.scan():
                        pass
                except AdapterUnavailable as exc:
                    assert "lost" in exc.message
                    break
                await anyio.sleep(0.05)  # the socket's end may take a moment to be seen


async def test_a_running_scan_ends_with_adapter_unavailable_when_the_transport_dies(
    controller: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, adapter = controller
    async with open_central(adapter, options=LinkOptions()) as central:
        with anyio.fail_after(5), pytest.raises(AdapterUnavailable):
            async with central.scan() as results:
                proc.kill()
                seen: list[ScanResult] = [result async for result in results]
                pytest.fail(f"the scan ended without an error after {len(seen)} results")
