"""The PostgreSQL test harness fails loudly, with the fix, when PostgreSQL is missing."""

from __future__ import annotations

import glob
import shutil

import pytest

from tests.ledger import pg


def test_missing_postgresql_binaries_fail_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(glob, "glob", lambda pattern: [])
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pg.PostgresMissing) as missing:
        pg.start_postgres()
    assert "bash scripts/setup.sh --system" in str(missing.value)
