"""The os backend's adapter names: ``os`` or exactly ``hciN`` (bless matches by substring)."""

from __future__ import annotations

import pytest

from gatt.errors import AdapterUnavailable, BadAdapter
from gatt.os_backend.names import match_adapter, stack_adapter


def test_hci1_matches_hci1_and_not_hci10() -> None:
    paths = ["/org/bluez/hci10", "/org/bluez/hci1", "/org/bluez/hci0"]
    assert match_adapter("hci1", paths) == "/org/bluez/hci1"


def test_a_name_that_is_only_a_prefix_of_an_adapter_is_unavailable() -> None:
    with pytest.raises(AdapterUnavailable, match="hci1"):
        match_adapter("hci1", ["/org/bluez/hci10", "/org/bluez/hci11"])


def test_os_means_the_platform_default_adapter() -> None:
    assert stack_adapter("os", platform="linux") is None
    assert stack_adapter("os", platform="darwin") is None


def test_hci_names_pass_through_on_linux() -> None:
    assert stack_adapter("hci12", platform="linux") == "hci12"


def test_hci_names_are_unavailable_off_linux() -> None:
    with pytest.raises(AdapterUnavailable):
        stack_adapter("hci0", platform="win32")


@pytest.mark.parametrize("adapter", ["hci", "hci0x", "xhci0", "HCI0", "usb:0"])
def test_other_strings_are_bad_adapters(adapter: str) -> None:
    with pytest.raises(BadAdapter):
        stack_adapter(adapter, platform="linux")
