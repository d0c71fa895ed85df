"""The issuer signing key lives in a key file outside the database, never in it."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from p2ppay.files.keyfile import KdfParams, KeyPurpose, peek_key_file
from p2ppay.ledger.errors import LedgerError
from p2ppay.ledger.service import LedgerConfig, LedgerService

pytestmark = pytest.mark.anyio


def config(db: Path, key: Path | None = None, passphrase: bytes | None = None) -> LedgerConfig:
    return LedgerConfig(
        db_url=f"sqlite:///{db}",
        admin_token="t",
        clock=lambda: 0,
        issuer_key_file=key,
        issuer_passphrase=passphrase,
        issuer_kdf=KdfParams.minimum(),
    )


async def test_the_seed_is_in_a_0600_key_file_and_not_in_the_database(tmp_path: Path) -> None:
    service = await LedgerService.open(config(tmp_path / "l.db"))
    issuer = service.issuer_key
    await service.close()
    key_file = tmp_path / "l.db.issuer-key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert peek_key_file(key_file.read_bytes()).public_key == issuer
    with sqlite3.connect(tmp_path / "l.db") as db:
        rows = dict(db.execute("SELECT name, secret FROM ledger_keys").fetchall())
    assert rows == {"issuer_public": issuer}
    again = await LedgerService.open(config(tmp_path / "l.db"))
    assert again.issuer_key == issuer
    await again.close()


async def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    service = await LedgerService.open(config(tmp_path / "l.db"))
    await service.close()
    os.chmod(tmp_path / "l.db.issuer-key", 0o644)
    with pytest.raises(LedgerError) as refused:
        await LedgerService.open(config(tmp_path / "l.db"))
    assert refused.value.code.name == "LEDGER_ISSUER_KEY"


async def test_another_key_file_than_the_databases_is_refused(tmp_path: Path) -> None:
    service = await LedgerService.open(config(tmp_path / "l.db"))
    await service.close()
    with pytest.raises(LedgerError) as refused:
        await LedgerService.open(config(tmp_path / "l.db", tmp_path / "other.key"))
    assert refused.value.code.name == "LEDGER_ISSUER_KEY"


async def test_an_encrypted_key_file_needs_its_passphrase(tmp_path: Path) -> None:
    key = tmp_path / "issuer.key"
    service = await LedgerService.open(config(tmp_path / "l.db", key, b"correct horse"))
    issuer = service.issuer_key
    await service.close()
    contents = peek_key_file(key.read_bytes())
    assert (contents.encrypted, contents.purpose) == (True, KeyPurpose.ISSUER)
    for wrong in (None, b"wrong"):
        with pytest.raises(LedgerError) as refused:
            await LedgerService.open(config(tmp_path / "l.db", key, wrong))
        assert refused.value.code.name == "LEDGER_ISSUER_KEY"
    again = await LedgerService.open(config(tmp_path / "l.db", key, b"correct horse"))
    assert again.issuer_key == issuer
    await again.close()


async def test_a_schema_1_seed_moves_out_of_the_database(tmp_path: Path) -> None:
    service = await LedgerService.open(config(tmp_path / "l.db"))
    issuer = service.issuer_key
    await service.close()
    # What a schema-1 ledger left behind: the seed in the database, no key file.
    key_file = tmp_path / "l.db.issuer-key"
    from p2ppay.files.keyfile import decode_key_file

    _, seed = decode_key_file(key_file.read_bytes(), purpose=KeyPurpose.ISSUER, passphrase=None)
    key_file.unlink()
    with sqlite3.connect(tmp_path / "l.db") as db:
        db.execute("INSERT INTO ledger_keys (name, secret) VALUES ('issuer', ?)", (seed,))
    moved = await LedgerService.open(config(tmp_path / "l.db"))
    assert moved.issuer_key == issuer
    await moved.close()
    with sqlite3.connect(tmp_path / "l.db") as db:
        names = {r[0] for r in db.execute("SELECT name FROM ledger_keys")}
    assert names == {"issuer_public"}
    assert key_file.exists()
