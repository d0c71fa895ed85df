"""The CLI as scripts drive it, for tests: run ``python -m p2ppay`` and set up three wallets.

Shared by the two-process CLI tests, the examples' tests and the BlueZ test-bed, so the
scripts' contract (``init``, ``id --json``, ``issuer init/grant``, ``allowance import``,
``trust-issuer``) is exercised by one piece of code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["ALLOWANCE", "ROOT", "cli", "cli_json", "payer_process", "set_up_wallets"]

ROOT = Path(__file__).resolve().parent.parent
"""The repository, where ``python -m p2ppay`` runs."""

ALLOWANCE = ("50.00", "EUR")
"""The payer's offline allowance in every CLI-made world."""


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``python -m p2ppay ARGS``; with ``check`` it must exit 0."""
    result = subprocess.run(
        [sys.executable, "-m", "p2ppay", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "P2PPAY_PASSPHRASE": ""},
    )
    if check:
        assert result.returncode == 0, f"{args}: rc={result.returncode}\n{result.stderr}"
    return result


def cli_json(*args: str) -> Any:
    """The JSON a ``--json`` command printed."""
    return json.loads(cli(*args).stdout)


def set_up_wallets(root: Path) -> tuple[str, str]:
    """An issuer, a payer holding an ALLOWANCE from it, a payee trusting it: (payer, payee)."""
    issuer, payer, payee = (str(root / name) for name in ("issuer", "payer", "payee"))
    cli("--home", payer, "init", "--no-passphrase")
    cli("--home", payee, "init", "--no-passphrase")
    payer_key = cli_json("--home", payer, "id", "--json")["public_key"]
    issuer_key = cli_json("--home", issuer, "issuer", "init", "--json")["public_key"]
    allowance = str(root / "allowance.cbor")
    cli("--home", issuer, "issuer", "grant", payer_key, *ALLOWANCE, "--out", allowance)
    cli("--home", payer, "allowance", "import", allowance)
    cli("--home", payee, "trust-issuer", issuer_key)
    return payer, payee


def payer_process(home: str, port: int, *extra: str) -> subprocess.Popen[str]:
    """``pay`` in its own process on the TCP-hosted controller at ``port``, auto-approving
    up to 20.00 (``extra``: more flags, e.g. ``--once``); stdout and stderr piped."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "p2ppay",
            "--home",
            home,
            "pay",
            "--adapter",
            f"bumble:tcp-client:127.0.0.1:{port}",
            "--auto-approve-up-to",
            "20.00",
            *extra,
            "--json",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "P2PPAY_PASSPHRASE": ""},
    )
