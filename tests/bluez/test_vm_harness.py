"""The test-bed harness itself, without booting anything."""

from __future__ import annotations

import shutil

import pytest

from tests.bluez import vm


def test_a_missing_tool_is_reported_with_its_debian_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda tool: None if tool == "btvirt" else "/bin/x")
    missing = vm.missing_prerequisites()
    assert any("btvirt" in line and "bluez-test-tools" in line for line in missing)


def test_the_hint_names_the_command_that_installs_the_test_bed() -> None:
    assert "bash scripts/setup.sh --system" in vm.SETUP_HINT
