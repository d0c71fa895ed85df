"""A throwaway PostgreSQL server for the ledger tests and the benchmark.

``initdb`` into a fresh temporary directory, then ``postgres`` on a free loopback port with
trust authentication, as the ``postgres`` user when we are root (PostgreSQL refuses to run
as root; CI runs as root). Stopped and deleted by :meth:`PgServer.stop`.

If the binaries are missing this raises with the command that installs them: the tests fail
loudly instead of being skipped.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = (
    "PostgreSQL is not installed: run `bash scripts/setup.sh --system` as root "
    "(it installs Debian's postgresql), then run the tests again"
)


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def _bindir() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise PostgresMissing(INSTALL_HINT)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    """A running PostgreSQL server."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    bindir: Path
    run_as: list[str]

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGINT to the postmaster itself is PostgreSQL's fast shutdown (no waiting for
            # clients to leave); ``runuser`` in between would not pass it on.
            try:
                pid = int((self.root / "data" / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGINT)
            except (OSError, ValueError, IndexError):
                self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PgServer:
    """Start a private server; raises PostgresMissing with the install hint if absent."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="p2ppay-pg-"))
    data = root / "data"
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    port = _free_port()
    with open(root / "server.log", "wb") as log:  # the child keeps its own copy of the fd
        process = subprocess.Popen(
            [
                *run_as,
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
                "-k",
                str(root),
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
    server = PgServer(root=root, port=port, process=process, bindir=bindir, run_as=run_as)
    deadline = time.monotonic() + 30
    while True:
        ready = subprocess.run(
            [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-q"], check=False
        )
        if ready.returncode == 0:
            return server
        if process.poll() is not None or time.monotonic() > deadline:
            server_log = (root / "server.log").read_text(errors="replace")
            server.stop()
            raise RuntimeError(f"PostgreSQL did not start:\n{server_log}")
        time.sleep(0.1)


async def create_database(server: PgServer, name: str) -> str:
    """A new empty database on ``server``; its DSN."""
    import asyncpg

    conn = await asyncpg.connect(server.dsn())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server.dsn(name)
