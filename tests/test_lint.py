"""Lint, types and layer contracts are part of the suite: a red linter fails the build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_reports_nothing() -> None:
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_enforced() -> None:
    result = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_passes_strict_on_everything() -> None:
    """``strict = true`` for the whole project (pyproject.toml): product, tests, benches,
    examples and fuzz harnesses alike."""
    result = _run(
        sys.executable,
        "-m",
        "mypy",
        "protocol",
        "gatt",
        "p2ppay",
        "tests",
        "bench",
        "examples",
        "fuzz",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_linter_layer_contracts_hold() -> None:
    result = _run(str(BIN / "lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("module", ["protocol", "gatt"])
def test_sans_io_layers_import_without_ble_stacks(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "bad = sorted(m for m in ('bleak', 'bless', 'bumble', 'sqlite3') if m in sys.modules); "
        "assert not bad, bad"
    )
    result = _run(sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
