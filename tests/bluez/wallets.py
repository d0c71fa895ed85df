"""The payment's wallets for the BlueZ test-bed, made on the host through the CLI before boot.

The guest shares the host's filesystem, so homes made here under the out folder (the guest's
only writable folder) are the ones the guest's ``pay`` and ``request`` use, and the host can
read ``history`` / ``export`` from them afterwards. Preparing them here costs no emulated time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.bluez.vm import REPO

__all__ = ["ALLOWANCE", "cli", "cli_json", "prepare_wallets"]

ALLOWANCE = ("50.00", "EUR")


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``python -m p2ppay ARGS`` on the host; with ``check`` it must exit 0."""
    result = subprocess.run(
        [sys.executable, "-m", "p2ppay", *args],
        cwd=REPO,
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


def prepare_wallets(root: Path) -> None:
    """An issuer, a payer holding a 50.00 EUR allowance from it, a payee trusting it."""
    issuer, payer, payee = (str(root / name) for name in ("issuer", "payer", "payee"))
    cli("--home", payer, "init", "--no-passphrase")
    cli("--home", payee, "init", "--no-passphrase")
    payer_key = cli_json("--home", payer, "id", "--json")["public_key"]
    issuer_key = cli_json("--home", issuer, "issuer", "init", "--json")["public_key"]
    allowance = str(root / "allowance.cbor")
    cli("--home", issuer, "issuer", "grant", payer_key, *ALLOWANCE, "--out", allowance)
    cli("--home", payer, "allowance", "import", allowance)
    cli("--home", payee, "trust-issuer", issuer_key)
