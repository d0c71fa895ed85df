"""The ``p2ppay`` command line: one module per command, wired here.

Each command module exposes ``register(subparsers)``; it adds its parser and sets
``handler`` to a function ``(args, out) -> int`` that returns the exit code. Commands that a
script reads take ``--json`` and print exactly one JSON document on stdout.

Every typed failure that escapes a handler is printed here, once, by its stable code name
(:mod:`p2ppay.cli.output`): app errors, protocol errors and byte-pipe errors alike.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from gatt.errors import GattError
from p2ppay import __version__
from p2ppay.cli.output import Exit, Output, exit_for_app_error, exit_for_protocol_error
from p2ppay.errors import AppError
from protocol import LocalProtocolError, ProtocolError

__all__ = ["build_parser", "main"]

_COMMAND_MODULES: tuple[str, ...] = (
    "wallet_cmd",
    "issuer_cmd",
    "allowance_cmd",
    "pay_cmd",
    "request_cmd",
    "resume_cmd",
    "records_cmd",
    "ledger_cmd",
    "register_cmd",
    "sync_cmd",
    "statement_cmd",
    "limits_cmd",
    "balance_cmd",
    "contacts_cmd",
    "scan_cmd",
    "revoke_cmd",
    "inspect_cmd",
    "doctor_cmd",
    "demo_cmd",
    "kiosk_cmd",
    "conformance_cmd",
)


class UsageError(Exception):
    """The command line is wrong (argparse's complaint, with the usage of the command)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing and exiting, so ``main`` can print
    the complaint as JSON when ``--json`` was asked (subparsers inherit the class)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (usage: {self.format_usage().strip()[7:]})")


def build_parser() -> argparse.ArgumentParser:
    """The whole argument parser, with every command registered."""
    parser = _Parser(
        prog="p2ppay",
        description="Offline face-to-face payments over Bluetooth Low Energy.",
    )
    parser.add_argument("--version", action="version", version=f"p2ppay {__version__}")
    parser.add_argument(
        "--home",
        default=None,
        metavar="DIR",
        help="wallet home (default: $P2PPAY_HOME, else ~/.p2ppay)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"p2ppay.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        Output(json_mode="--json" in argv).error("USAGE", str(exc))
        return Exit.USAGE
    handler = getattr(args, "handler", None)
    if handler is None:
        if "--json" in argv:
            Output(json_mode=True).error("USAGE", "name a command (p2ppay --help lists them)")
        else:
            parser.print_help(sys.stderr)
        return Exit.USAGE
    out = Output(json_mode=bool(getattr(args, "json", False)))
    try:
        code: int = handler(args, out)
    except AppError as exc:
        out.error(exc.code.name, exc.message, code=int(exc.code))
        return exit_for_app_error(exc.code.name)
    except ProtocolError as exc:
        out.error(exc.code.name, exc.message, code=int(exc.code))
        return exit_for_protocol_error(exc.code.name, local=isinstance(exc, LocalProtocolError))
    except GattError as exc:
        out.error(exc.code.name, exc.message, code=int(exc.code))
        return Exit.ERROR
    except KeyboardInterrupt:
        out.error("INTERRUPTED", "stopped")
        return Exit.INTERRUPTED
    except Exception as exc:
        # A bug, never a user's fault: say so plainly, with a stable name and no traceback
        # unless asked (P2PPAY_DEBUG=1), so a script still reads one JSON object.
        if os.environ.get("P2PPAY_DEBUG"):
            raise
        out.error("INTERNAL_ERROR", f"{type(exc).__name__}: {exc} (a bug: please report it)")
        return Exit.ERROR
    return code
