"""Adapter strings choose a backend, and nothing imports a BLE stack before it is chosen."""

from __future__ import annotations

import pytest

from gatt.adapters import parse_adapter
from gatt.errors import BadAdapter


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
