"""One writer process per database: an OS advisory lock on a file beside it.

Invariants:
- Taking the lock never waits: a second writer fails at once with ``STORE_IN_USE``.
- The OS drops the lock when the process dies, so a crash never leaves a stale lock behind.
- The lock file is created owner-only (0600), like the database it guards.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

from p2ppay.errors import AppErrorCode, StoreError

__all__ = ["WriterLock"]

_PRIVATE_FILE = 0o600


class WriterLock:
    """An OS advisory lock on a file beside the database: one writer process per store.

    The OS drops it when the process dies, so a crash never leaves a stale lock behind.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[bytes] | None = None

    def acquire(self) -> None:
        """Take the lock or raise ``STORE_IN_USE`` at once (never wait for another writer)."""
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_APPEND, _PRIVATE_FILE)
        handle = os.fdopen(fd, "a+b")
        try:
            _lock_nonblocking(handle)
        except OSError:
            handle.close()
            raise StoreError(
                AppErrorCode.STORE_IN_USE, f"another process is using {self._path.parent}"
            ) from None
        self._file = handle

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None


if sys.platform == "win32":
    import msvcrt

    def _lock_nonblocking(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

else:
    import fcntl

    def _lock_nonblocking(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
