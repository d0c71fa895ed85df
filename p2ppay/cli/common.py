"""What many commands share: the wallet home, unlocking, the adapter option, the clock.

Invariants:
- The home is ``--home``, else ``P2PPAY_HOME``, else ``~/.p2ppay`` (one rule, here).
- A passphrase comes from ``P2PPAY_PASSPHRASE`` or, on a terminal, from a prompt on stderr;
  never from the command line (it would sit in the shell history and ``ps``).
- Nothing here prints to stdout: stdout belongs to the command's result.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gatt.adapters import DEFAULT_ADAPTER
from p2ppay.clock import seconds, wall_ms
from p2ppay.errors import AppError, AppErrorCode, WalletError
from p2ppay.wallet import Wallet, WalletHome, open_wallet

__all__ = [
    "BACKUP_PASSPHRASE_ENV",
    "NEW_PASSPHRASE_ENV",
    "PASSPHRASE_ENV",
    "add_adapter",
    "add_ca_file",
    "add_json",
    "check_output_folder",
    "int_in",
    "read_input",
    "seconds_in",
    "write_output",
    "home_of",
    "new_passphrase",
    "now_s",
    "passphrase_for",
    "unlock",
]

PASSPHRASE_ENV = "P2PPAY_PASSPHRASE"
"""Environment variable holding the wallet passphrase for unattended use."""
NEW_PASSPHRASE_ENV = "P2PPAY_NEW_PASSPHRASE"
"""The new passphrase for ``passphrase change``, for scripts."""
BACKUP_PASSPHRASE_ENV = "P2PPAY_BACKUP_PASSPHRASE"
"""The passphrase that seals (``backup``) and opens (``restore``) a backup file."""


def now_s() -> int:
    """The wall clock in Unix seconds (:mod:`p2ppay.clock`; a command reads it once)."""
    return seconds(wall_ms)


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (a usage error otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in {low}..{high}")
        return value

    return parse


def seconds_in(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: seconds from ``low`` to ``high`` (no nan, no infinity)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not low <= value <= high:  # also refuses nan
            raise argparse.ArgumentTypeError(f"{text} is not in {low:g}..{high:g} seconds")
        return value

    return parse


def write_output(path: Path, data: bytes) -> None:
    """Write an ``--out`` file, or raise ``FILE_UNWRITABLE`` naming it."""
    try:
        path.write_bytes(data)
    except ValueError as exc:  # a NUL byte in the name
        raise AppError(AppErrorCode.FILE_UNWRITABLE, f"cannot write {path!r}: {exc}") from exc
    except OSError as exc:
        raise AppError(
            AppErrorCode.FILE_UNWRITABLE, f"cannot write {path}: {exc.strerror}"
        ) from exc


def check_output_folder(path: Path) -> None:
    """Refuse an ``--out`` whose folder is missing before any work (a signature, a serial)."""
    folder = path.parent if str(path.parent) else Path(".")
    if "\0" in str(path) or not folder.is_dir():
        raise AppError(AppErrorCode.FILE_UNWRITABLE, f"cannot write {path}: no folder {folder}")


def read_input(path: Path) -> bytes:
    """Read a file named on the command line, or raise ``FILE_UNREADABLE`` naming it."""
    try:
        return path.read_bytes()
    except ValueError as exc:  # a NUL byte in the name
        raise AppError(AppErrorCode.FILE_UNREADABLE, f"cannot read {path!r}: {exc}") from exc
    except OSError as exc:
        raise AppError(AppErrorCode.FILE_UNREADABLE, f"cannot read {path}: {exc.strerror}") from exc


@contextmanager
def needs_extra(extra: str) -> Iterator[None]:
    """Import an optional part inside this block; its absence is ``EXTRA_MISSING`` naming the
    extra that adds it, not a traceback (a plain install runs every other wallet command)."""
    try:
        yield
    except ModuleNotFoundError as exc:
        raise AppError(
            AppErrorCode.EXTRA_MISSING,
            f"{exc.name or exc} is not installed: pip install 'p2ppay[{extra}]'",
        ) from exc


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def add_ca_file(parser: argparse.ArgumentParser) -> None:
    """``--ca-file PEM``: trust this CA for the ledger's https certificate (a private CA)."""
    parser.add_argument(
        "--ca-file",
        type=Path,
        default=None,
        metavar="PEM",
        help="CA certificate(s) for the ledger's https (default: the system CAs, or the "
        "one remembered by register/trust-ledger)",
    )


def add_adapter(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--adapter",
        default=DEFAULT_ADAPTER,
        help="virtual (default), bumble:<transport> (bumble:usb:0, bumble:tcp-client:HOST:PORT), "
        "os, hciN",
    )


def home_of(args: argparse.Namespace) -> WalletHome:
    """The wallet home this command works on."""
    return WalletHome.resolve(args.home)


def _ask(prompt: str) -> str | None:
    if not sys.stdin.isatty():
        return None
    return getpass.getpass(prompt, stream=sys.stderr)


def new_passphrase(*, env: str = PASSPHRASE_ENV, what: str = "passphrase") -> str:
    """A new passphrase: the environment variable ``env``, or asked twice on a terminal.

    An empty one is refused (``PASSPHRASE_EMPTY``): "no passphrase" is a choice made with
    ``--no-passphrase``, never by pressing Enter. A repeat that differs is ``PASSPHRASES_DIFFER``.
    """
    given = os.environ.get(env)
    if given:
        return given
    first = _ask(f"New {what}: ")
    if first is None:
        raise WalletError(
            AppErrorCode.PASSPHRASE_REQUIRED,
            f"set {env} or run on a terminal"
            + (" (or use --no-passphrase)" if env == PASSPHRASE_ENV else ""),
        )
    if not first:
        raise WalletError(AppErrorCode.PASSPHRASE_EMPTY, f"the {what} is empty")
    if _ask(f"Repeat {what}: ") != first:
        raise WalletError(AppErrorCode.PASSPHRASES_DIFFER, f"the two {what}s differ")
    return first


def passphrase_for(env: str, what: str) -> str:
    """An existing passphrase: the environment variable ``env``, or asked once."""
    given = os.environ.get(env) or _ask(f"{what[0].upper()}{what[1:]}: ")
    if given is None:
        raise WalletError(AppErrorCode.PASSPHRASE_REQUIRED, f"set {env} or run on a terminal")
    return given


def unlock(home: WalletHome) -> Wallet:
    """Open the wallet, asking for the passphrase only if its key file is encrypted."""
    try:
        return open_wallet(home, passphrase=None, now=now_s())
    except WalletError as exc:
        if exc.code is not AppErrorCode.PASSPHRASE_REQUIRED:
            raise
    passphrase = os.environ.get(PASSPHRASE_ENV) or _ask("Passphrase: ")
    if passphrase is None:
        raise WalletError(
            AppErrorCode.PASSPHRASE_REQUIRED, f"the key is encrypted: set {PASSPHRASE_ENV}"
        )
    return open_wallet(home, passphrase=passphrase, now=now_s())
