"""``p2ppay doctor`` says, per BlueZ adapter, whether the payer may advertise there."""

from __future__ import annotations

import pytest

from gatt.os_backend import privacy
from p2ppay.cli import doctor_cmd


def test_an_adapter_without_privacy_is_named_with_the_way_to_enable_it() -> None:
    text = doctor_cmd._describe_privacy({"hci0": True, "hci1": False, "hci2": None})
    assert "privacy on: hci0" in text
    assert "privacy off or unknown: hci1, hci2" in text
    assert "Privacy = device" in text and "btmgmt -i hci1 privacy on" in text


def test_each_adapter_is_read_from_the_kernel_by_its_index(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[int] = []

    def reading(index: int) -> bool:
        asked.append(index)
        return index == 0

    monkeypatch.setattr(privacy, "privacy_enabled", reading)
    assert doctor_cmd._privacy(["hci0", "hci3"]) == {"hci0": True, "hci3": False}
    assert asked == [0, 3]
