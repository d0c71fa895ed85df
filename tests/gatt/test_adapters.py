"""Adapter strings choose a backend, and nothing imports a BLE stack before it is chosen."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from gatt import Info, open_central, open_peripheral
from gatt.adapters import parse_adapter
from gatt.errors import AdapterUnavailable, BadAdapter


@pytest.mark.parametrize(
    ("adapter", "backend", "module"),
    [
        ("virtual", "virtual", "gatt.bumble_backend"),
        ("bumble:usb:0", "bumble", "gatt.bumble_backend"),
        ("bumble:tcp-client:127.0.0.1:9101", "bumble", "gatt.bumble_backend"),
        ("bumble:hci-socket:0", "bumble", "gatt.bumble_backend"),
        ("os", "os", "gatt.os_backend"),
        ("hci0", "os", "gatt.os_backend"),
        ("hci12", "os", "gatt.os_backend"),
        ("memory", "memory", "gatt.memory"),
        ("memory:mtu=23,drop_at=3", "memory", "gatt.memory"),
    ],
)
def test_adapter_string_selects_backend_and_passes_string_unchanged(
    adapter: str, backend: str, module: str
) -> None:
    choice = parse_adapter(adapter)
    assert (choice.backend, choice.module, choice.adapter) == (backend, module, adapter)


@pytest.mark.parametrize("adapter", ["", "bumble:", "hci", "hcix", "hci0x", "usb:0", "Virtual"])
def test_unknown_adapter_string_is_refused_with_bad_adapter(adapter: str) -> None:
    with pytest.raises(BadAdapter):
        parse_adapter(adapter)


def test_memory_adapter_works_without_loading_any_ble_stack() -> None:
    code = (
        "import sys, anyio\n"
        "from gatt import Info, open_central, open_peripheral\n"
        "async def main():\n"
        "    async with open_peripheral('memory', info=Info(versions=(1,), max_message_size=9)),"
        " open_central('memory'):\n"
        "        pass\n"
        "anyio.run(main)\n"
        "bad = sorted(m for m in ('bleak', 'bless', 'bumble') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.anyio
@pytest.mark.parametrize("role", ["peripheral", "central"])
async def test_unreachable_bumble_transport_raises_adapter_unavailable(role: str) -> None:
    adapter = f"bumble:tcp-client:127.0.0.1:{_closed_port()}"
    opener = (
        open_peripheral(adapter, info=Info(versions=(1,), max_message_size=9))
        if role == "peripheral"
        else open_central(adapter)
    )
    with pytest.raises(AdapterUnavailable):
        async with opener:
            pass


def test_package_all_lists_exactly_the_public_names() -> None:
    import gatt

    public = {
        name
        for name, value in vars(gatt).items()
        if not name.startswith("_") and not isinstance(value, type(sys))
    }
    public.discard("annotations")
    assert set(gatt.__all__) == public
