"""Ledger schema migrations on both databases: applied once, re-opening is a no-op, a newer
schema is refused, and concurrent starts agree on one issuer key."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from p2ppay.ledger.database import open_database
from p2ppay.ledger.errors import LedgerError
from p2ppay.ledger.schema import SCHEMA_VERSION, migrate
from p2ppay.ledger.service import LedgerConfig, LedgerService

pytestmark = pytest.mark.anyio


async def version_of(db_url: str) -> int:
    db = await open_database(db_url)
    try:
        async with db.transaction() as tx:
            row = await tx.fetchone("SELECT version FROM ledger_schema WHERE id = 1")
    finally:
        await db.close()
    assert row is not None
    return int(row[0])


async def test_a_new_database_is_migrated_to_the_current_version_once(db_url: str) -> None:
    db = await open_database(db_url)
    try:
        assert await migrate(db) == 0
        assert await migrate(db) == SCHEMA_VERSION
    finally:
        await db.close()
    assert await version_of(db_url) == SCHEMA_VERSION


async def test_a_database_from_a_newer_ledger_is_refused(db_url: str) -> None:
    db = await open_database(db_url)
    try:
        await migrate(db)
        async with db.transaction() as tx:
            await tx.execute("UPDATE ledger_schema SET version = $1", SCHEMA_VERSION + 1)
        with pytest.raises(LedgerError) as refused:
            await migrate(db)
    finally:
        await db.close()
    assert refused.value.code.name == "LEDGER_SCHEMA_TOO_NEW"


async def test_services_started_together_share_one_issuer_key(db_url: str, tmp_path: Path) -> None:
    config = LedgerConfig(
        db_url=db_url, admin_token="t", clock=lambda: 0, issuer_key_file=tmp_path / "issuer.key"
    )
    services: list[LedgerService] = []

    async def start() -> None:
        services.append(await LedgerService.open(config))

    async with anyio.create_task_group() as tg:
        for _ in range(3 if db_url.startswith("postgresql") else 1):
            tg.start_soon(start)
    try:
        assert len({s.issuer_key for s in services}) == 1
    finally:
        for service in services:
            await service.close()


async def test_an_unknown_database_scheme_is_refused() -> None:
    with pytest.raises(LedgerError) as refused:
        await open_database("mysql://localhost/ledger")
    assert refused.value.code.name == "LEDGER_BAD_DATABASE_URL"


async def test_a_sqlite_database_serves_one_ledger_at_a_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    first = await open_database(url)
    try:
        with pytest.raises(LedgerError) as refused:
            await open_database(url)
        assert refused.value.code.name == "LEDGER_STORAGE"
    finally:
        await first.close()
    await (await open_database(url)).close()  # free again once the first one closed
