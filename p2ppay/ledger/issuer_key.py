"""The ledger's issuer signing key: a key file outside the database, loaded at start.

The file uses the wallet key file format (:mod:`p2ppay.files.keyfile`, purpose ``ISSUER``):
either encrypted with a passphrase (Argon2id + SecretBox) or plain, in which case it must be
readable by its owner only (mode 0600, else ``LEDGER_ISSUER_KEY``). The database records only
the issuer's *public* key, so every ledger process on one database must load the same file
(a different key is refused), and a copy of the database reveals no signing key.

Invariants:
- A missing file is created once, exclusively (``O_EXCL``, mode 0600): two processes starting
  together end with one key. A database of schema 1 that still holds the seed (table
  ``ledger_keys``, name ``issuer``) has it moved into the new file and deleted from the
  database, so existing allowances keep verifying.
- Any problem with the file is a ``LedgerError(LEDGER_ISSUER_KEY)`` with the reason.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from nacl.signing import SigningKey

from p2ppay.errors import AppErrorCode, WalletError
from p2ppay.files.keyfile import KdfParams, KeyPurpose, decode_key_file, encode_key_file
from p2ppay.ledger.database import Tx
from p2ppay.ledger.errors import LedgerError

__all__ = ["ISSUER_PASSPHRASE_ENV", "load_issuer"]

ISSUER_PASSPHRASE_ENV = "P2PPAY_ISSUER_PASSPHRASE"
"""Environment variable holding the issuer key file's passphrase (if it is encrypted)."""


def _refuse(why: str) -> LedgerError:
    return LedgerError(AppErrorCode.LEDGER_ISSUER_KEY, why)


def _read(path: Path, passphrase: bytes | None) -> SigningKey:
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise _refuse(f"{path}: {exc.strerror}") from exc
    try:
        contents, seed = decode_key_file(data, purpose=KeyPurpose.ISSUER, passphrase=passphrase)
    except WalletError as exc:
        raise _refuse(f"{path}: {exc.code.name}: {exc.message}") from exc
    if not contents.encrypted and stat.S_IMODE(mode) & 0o077:
        raise _refuse(f"{path} is readable by others: chmod 600 it (or encrypt it)")
    return SigningKey(seed)


def _create(path: Path, seed: bytes, passphrase: bytes | None, kdf: KdfParams) -> bool:
    """Write a new key file; False if another process created it first."""
    data = encode_key_file(seed=seed, purpose=KeyPurpose.ISSUER, passphrase=passphrase, kdf=kdf)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise _refuse(f"{path}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return True


def _open_or_create(
    path: Path, legacy: bytes | None, passphrase: bytes | None, kdf: KdfParams
) -> SigningKey:
    """Once, at start (blocking file I/O is fine there)."""
    if not path.exists():
        _create(path, legacy if legacy is not None else os.urandom(32), passphrase, kdf)
    return _read(path, passphrase)


async def load_issuer(
    tx: Tx, path: Path, *, passphrase: bytes | None, kdf: KdfParams
) -> SigningKey:
    """The issuer key from ``path`` (created if missing), checked against the database."""
    legacy = await tx.fetchone("SELECT secret FROM ledger_keys WHERE name = 'issuer'")
    key = _open_or_create(path, None if legacy is None else bytes(legacy[0]), passphrase, kdf)
    public = bytes(key.verify_key)
    await tx.execute(
        "INSERT INTO ledger_keys (name, secret) VALUES ('issuer_public', $1) "
        "ON CONFLICT (name) DO NOTHING",
        public,
    )
    row = await tx.fetchone("SELECT secret FROM ledger_keys WHERE name = 'issuer_public'")
    assert row is not None
    if bytes(row[0]) != public:
        raise _refuse(f"{path} holds another issuer key than this database's")
    if legacy is not None:
        if bytes(SigningKey(bytes(legacy[0])).verify_key) != public:
            raise _refuse(f"{path} holds another issuer key than this database's")
        await tx.execute("DELETE FROM ledger_keys WHERE name = 'issuer'")
    return key
