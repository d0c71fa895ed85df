"""The ``p2ppay`` command line: one module per command, wired here.

Each command module exposes ``register(subparsers)``; it adds its parser and sets
``handler`` to a function ``(args) -> int`` that returns the exit code. Commands that a
script reads take ``--json`` and print exactly one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from p2ppay import __version__

__all__ = ["build_parser", "main"]

_COMMAND_MODULES: tuple[str, ...] = ("inspect_cmd",)


def build_parser() -> argparse.ArgumentParser:
    """The whole argument parser, with every command registered."""
    parser = argparse.ArgumentParser(
        prog="p2ppay",
        description="Offline face-to-face payments over Bluetooth Low Energy.",
    )
    parser.add_argument("--version", action="version", version=f"p2ppay {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    import importlib

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
        return 2
    code: int = handler(args)
    return code
