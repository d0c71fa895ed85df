"""Fixtures of the ledger tests: a real PostgreSQL (one server per session, one database per
test) and the ``db_url`` parameter that runs a test on SQLite and on PostgreSQL.

PostgreSQL is required, never skipped: without it every PostgreSQL test fails with the
command that installs it (``bash scripts/setup.sh --system``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.ledger.pg import PgServer, PostgresMissing, create_database, start_postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    """A private PostgreSQL server for the whole test session."""
    try:
        server = start_postgres()
    except PostgresMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def new_pg_database(server: PgServer) -> str:
    """A fresh, empty database on ``server``; its URL."""
    return anyio.run(create_database, server, f"t_{uuid.uuid4().hex[:16]}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh ledger database URL: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return new_pg_database(request.getfixturevalue("postgres"))
