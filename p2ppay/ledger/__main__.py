"""``python -m p2ppay.ledger serve ...``: the ``p2ppay ledger`` command on its own."""

from __future__ import annotations

import argparse
import sys

from p2ppay.cli import ledger_cmd
from p2ppay.cli.output import Exit, Output
from p2ppay.errors import AppError


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m p2ppay.ledger")
    ledger_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["ledger", *sys.argv[1:]])
    out = Output(json_mode=bool(getattr(args, "json", False)))
    try:
        return int(args.handler(args, out))
    except AppError as exc:
        out.error(exc.code.name, exc.message, code=int(exc.code))
        return Exit.ERROR
    except KeyboardInterrupt:
        return Exit.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
