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
import sys
from collections.abc import Sequence

from gatt.errors import GattError
from p2ppay import __version__
from p2ppay.cli.output import Exit, Output
from p2ppay.errors import AppError
from protocol import ProtocolError

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
    "revoke_cmd",
    "inspect_cmd",
    "doctor_cmd",
    "demo_cmd",
    "kiosk_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    """The whole argument parser, with every command registered."""
    parser = argparse.ArgumentParser(
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
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return Exit.USAGE
    out = Output(json_mode=bool(getattr(args, "json", False)))
    try:
        code: int = handler(args, out)
    except AppError as exc:
        out.error(exc.code.name, exc.message, code=int(exc.code))
        return Exit.ERROR
    except ProtocolError as exc:
        out.error(exc.code.name, exc.message, code=int(exc.code))
        return Exit.FAILED
    except GattError as exc:
        out.error(exc.code.name, exc.message, code=int(exc.code))
        return Exit.ERROR
    except KeyboardInterrupt:
        out.error("INTERRUPTED", "stopped")
        return Exit.INTERRUPTED
    return code
