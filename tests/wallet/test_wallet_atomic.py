"""Crash-safe writes of the wallet home's files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from p2ppay.wallet.atomic import replace_file, write_new


def test_a_new_file_is_created_with_the_asked_mode_and_no_temp_left(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    write_new(path, b"data", mode=0o600)
    assert path.read_bytes() == b"data"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["secret"]


def test_a_new_file_never_replaces_an_existing_one(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        write_new(path, b"new")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["secret"]


def test_without_hard_links_a_new_file_is_still_exclusive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise PermissionError("links unsupported here")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "secret"
    write_new(path, b"data")
    with pytest.raises(FileExistsError):
        write_new(path, b"other")
    assert path.read_bytes() == b"data"
    assert os.listdir(tmp_path) == ["secret"]


def test_a_replacement_swaps_the_whole_content(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b"a much longer old content")
    replace_file(path, b"new")
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["config.json"]
