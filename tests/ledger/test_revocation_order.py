"""The revocation list is append-only on both databases (SPEC 4.1): keys keep the position
they got when revoked, a schema-3 database gets its order by revocation time, and
concurrent revocations commit in position order, so every list is a prefix of later ones."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from p2ppay.ledger.database import open_database
from p2ppay.ledger.schema import MIGRATIONS, migrate
from p2ppay.ledger.service import LedgerConfig, LedgerService

pytestmark = pytest.mark.anyio


def _key(n: int) -> bytes:
    return bytes([n]) * 32


async def test_a_schema_3_database_orders_its_revocations_by_time(db_url: str) -> None:
    db = await open_database(db_url)
    try:
        await migrate(db)
        async with db.transaction() as tx:
            await tx.execute("DROP TABLE revocation_order")
            await tx.execute("UPDATE ledger_schema SET version = 3")
            for n, at in ((1, 300), (2, 100), (3, 200)):
                await tx.execute(
                    "INSERT INTO key_revocations (public_key, revoked_at, reason) "
                    "VALUES ($1, $2, 'lost')",
                    _key(n),
                    at,
                )
        assert await migrate(db) == 3
        async with db.transaction() as tx:
            rows = await tx.fetch("SELECT public_key FROM revocation_order ORDER BY position")
    finally:
        await db.close()
    assert [bytes(r[0]) for r in rows] == [_key(2), _key(3), _key(1)]
    assert len(MIGRATIONS) == 4


async def test_concurrent_revocations_only_ever_extend_the_published_list(
    db_url: str, tmp_path: Path
) -> None:
    config = LedgerConfig(
        db_url=db_url,
        admin_token="t",
        clock=lambda: 1_800_000_000,
        issuer_key_file=tmp_path / "issuer.key",
    )
    service = await LedgerService.open(config)
    seen: list[tuple[bytes, ...]] = []
    try:

        async def revoke(n: int) -> None:
            await service.revoke_self(_key(n))

        async def watch() -> None:
            for _ in range(20):
                trust = await service.trust()
                seen.append(trust.revocation_list.doc.keys)
                await anyio.lowlevel.checkpoint()

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            for n in range(1, 21):
                tg.start_soon(revoke, n)
        final = (await service.trust()).revocation_list.doc
    finally:
        await service.close()
    assert final.version == 20 and set(final.keys) == {_key(n) for n in range(1, 21)}
    for listed in seen:
        assert final.keys[: len(listed)] == listed
