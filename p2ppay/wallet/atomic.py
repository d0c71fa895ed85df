"""Crash-safe file writes for the wallet home.

Invariants:
- A reader sees either the old file or the complete new one, never a torn write: content goes
  to a temporary file in the same directory, is fsynced, then renamed (or hard-linked) into
  place, and the directory is fsynced so the name survives a power cut.
- :func:`write_new` never replaces an existing file (``os.link`` fails on an existing name;
  where links are unsupported, ``O_EXCL`` does), so creating a key file never clobbers one.
- Files are created with the mode given (0600 for secrets) from the first byte: the mode is
  set at ``open``, not changed afterwards, so no window exists where others could read.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["fsync_dir", "replace_file", "write_new"]


def _write_temp(path: Path, data: bytes, mode: int) -> Path:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.close(fd)
    return tmp


def fsync_dir(directory: Path) -> None:
    """Make a rename or link inside ``directory`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_new(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Create ``path`` with ``data`` atomically; raise ``FileExistsError`` if it exists."""
    tmp = _write_temp(path, data, mode)
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        # No hard links here (FAT, some network shares): create exclusively instead. A torn
        # write is then possible on power loss, and the key file's length and checksum
        # report it as truncated or corrupt rather than passing it off as a key.
        _write_exclusive(path, data, mode)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    fsync_dir(path.parent)


def _write_exclusive(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically, replacing any previous content."""
    tmp = _write_temp(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)
