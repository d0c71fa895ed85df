"""A ledger in its own process (``python -m p2ppay ledger serve``) that a test can SIGKILL and
restart on the same port and database, and a PostgreSQL it can restart under load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.ledger.pg import PgServer
from tests.ledger.test_two_processes import free_port, wait_healthy

__all__ = ["LedgerProcess", "restart_postgres"]

TOKEN = "reliability-token-0123456789-abcdefghijklmnopqrstuvwxyz"
KEYS = Path(tempfile.mkdtemp(prefix="p2ppay-reliability-keys-"))


@dataclass(kw_only=True)
class LedgerProcess:
    """One ledger server process; :meth:`kill` and :meth:`start` keep the URL."""

    db_url: str
    port: int = field(default_factory=free_port)
    admin_token: str = TOKEN
    issuer_key_file: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(dir=KEYS)) / "issuer.key"
    )
    process: subprocess.Popen[bytes] | None = None
    kills: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "p2ppay",
            "ledger",
            "serve",
            "--db",
            self.db_url,
            "--port",
            str(self.port),
            "--issuer-key-file",
            str(self.issuer_key_file),
        ]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONWARNINGS": "ignore", "P2PPAY_ADMIN_TOKEN": self.admin_token},
        )
        wait_healthy(self.url, self.process)

    def kill(self) -> None:
        """SIGKILL: no shutdown, whatever the ledger was doing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


def restart_postgres(server: PgServer) -> None:
    """Fast shutdown (open transactions rolled back, clients cut off), then start it again."""
    subprocess.run(
        [
            *server.run_as,
            str(server.bindir / "pg_ctl"),
            "-D",
            str(server.root / "data"),
            "-m",
            "fast",
            "-w",
            "stop",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server.process.wait(timeout=30)
    with open(server.root / "server.log", "ab") as log:
        server.process = subprocess.Popen(
            [
                *server.run_as,
                str(server.bindir / "postgres"),
                "-D",
                str(server.root / "data"),
                "-p",
                str(server.port),
                "-h",
                "127.0.0.1",
                "-k",
                str(server.root),
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
                "-c",
                "synchronous_commit=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    deadline = 30.0
    import time

    end = time.monotonic() + deadline
    while time.monotonic() < end:
        ready = subprocess.run(
            [str(server.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(server.port), "-q"],
            check=False,
        )
        if ready.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("PostgreSQL did not come back")
