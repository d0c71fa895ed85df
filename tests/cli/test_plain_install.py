"""A plain ``pip install p2ppay`` runs every wallet command that needs no radio, sync included.

The extras hold only the ledger server (fastapi, uvicorn, asyncpg), the kiosk (starlette,
uvicorn) and the BLE backends (bumble, bleak, bless). Each wallet command runs here in a process
where importing any of those raises ``ModuleNotFoundError``, exactly as on a machine that
installed the base package alone; the ledger it syncs with is a real one on loopback, served by
this test's process (which has the extras).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p2ppay.cli import main
from tests.ledger.world import ledger_in_thread

pytestmark = pytest.mark.slow  # whole processes or fault sweeps: not the fast tier

TOKEN = "plain-install-token-0123456789-abcdefghijklmnopqrstuvwxyz"
EXTRAS = ("fastapi", "uvicorn", "asyncpg", "starlette", "bumble", "bleak", "bless", "dbus_fast")

RUN_WITHOUT_EXTRAS = f"""
import sys
# None in sys.modules: `import x` raises ModuleNotFoundError and importlib.util.find_spec(x)
# answers None, as for a package that is not installed.
sys.modules.update(dict.fromkeys({EXTRAS!r}))
from p2ppay.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def ledger_url(tmp_path: Path) -> Iterator[str]:
    with ledger_in_thread(f"sqlite:///{tmp_path / 'ledger.db'}", admin_token=TOKEN) as url:
        yield url


def plain(home: Path, *argv: str, code: int = 0) -> Any:
    """Runs ``p2ppay --home HOME ARGV --json`` without the extras; returns its JSON."""
    result = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_EXTRAS, "--home", str(home), *argv, "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert "ModuleNotFoundError" not in result.stdout + result.stderr, result
    assert result.returncode == code, (argv, result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_the_blocker_is_real() -> None:
    result = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_EXTRAS.replace("from p2ppay.cli", "import bumble\n#")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "ModuleNotFoundError: import of bumble halted" in result.stderr


def test_wallet_commands_and_sync_run_on_the_base_install(
    ledger_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "wallet"
    plain(home, "init", "--no-passphrase")
    account = plain(home, "register", "--ledger", ledger_url)
    token = tmp_path / "admin-token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    code = main(
        [
            "ledger",
            "deposit",
            account["wallet_id"],
            "50.00",
            "EUR",
            "--ledger",
            ledger_url,
            "--admin-token-file",
            str(token),
            "--json",
        ]
    )
    assert code == 0, capsys.readouterr()
    allowance = plain(home, "allowance", "request", "20.00", "EUR")
    assert (allowance["limit"], allowance["currency"]) == ("20.00", "EUR")
    assert plain(home, "sync")["rejected"] == 0
    assert plain(home, "statement")["currencies"]["EUR"]["balance"] == "30.00"
    assert plain(home, "balance") is not None
    assert plain(home, "allowance", "list") is not None
    assert plain(home, "history")["count"] == 0
    assert plain(home, "limits") is not None
    doctor = plain(home, "doctor", code=1)  # no radio backend works: that is its finding
    assert "p2ppay[bumble]" in doctor["backends"]["virtual"]["detail"]


def test_radio_kiosk_and_ledger_server_name_the_extra_they_need(tmp_path: Path) -> None:
    home = tmp_path / "wallet"
    plain(home, "init", "--no-passphrase")
    for argv, extra in [
        (("scan", "--json"), "bumble"),
        (("ledger", "serve", "--db", f"sqlite:///{tmp_path / 'l.db'}"), "ledger"),
    ]:
        result = subprocess.run(
            [sys.executable, "-c", RUN_WITHOUT_EXTRAS, "--home", str(home), *argv],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env={**os.environ, "P2PPAY_ADMIN_TOKEN": TOKEN},
        )
        said = result.stdout + result.stderr
        assert result.returncode == 3, said
        assert f"pip install 'p2ppay[{extra}]'" in said, said
        assert "Traceback" not in said and "INTERNAL_ERROR" not in said, said
