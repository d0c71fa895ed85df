"""Wallet backups: the key file, a consistent copy of the store, config and contacts, sealed.

Format (integers big-endian)::

    offset  size  field
    0       6     magic b"P2PBAK"
    6       1     format version (1)
    7       4     Argon2id opslimit
    11      8     Argon2id memlimit (bytes)
    19      16    salt
    35      24    SecretBox nonce
    59      ...   SecretBox ciphertext of a CBOR map:
                  {"wallet": public key, "created": Unix seconds,
                   "files": {"wallet.key": bytes, "store.sqlite3": bytes,
                             "config.json": bytes (optional), "contacts.json": bytes (optional)}}

Invariants:
- The store is copied with SQLite's online backup from a read-only connection, so a backup
  taken while ``pay`` or the kiosk runs is one consistent snapshot (WAL included).
- The key file inside stays as it is (still under its own passphrase, if it has one); the
  backup passphrase seals everything else: history, counterparties and memos included.
- A restore writes nothing until every check holds: the seal opens, the key file's public key
  is the manifest's, the store passes ``integrity_check`` and belongs to that key. It fills
  a fresh owner-only folder beside the home and renames it into place, so the home is either
  absent (or empty) or the whole restored wallet: never half of one.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cbor2
import nacl.exceptions
import nacl.secret
import nacl.utils
from nacl.pwhash import argon2id

from p2ppay.clock import seconds, wall_ms
from p2ppay.errors import AppErrorCode, WalletError
from p2ppay.files.keyfile import KdfParams, normalize_passphrase, peek_key_file
from p2ppay.wallet.atomic import fsync_dir, replace_file
from p2ppay.wallet.home import WalletHome

__all__ = ["BackupSummary", "restore_backup", "write_backup"]

_MAGIC = b"P2PBAK"
_VERSION = 1
_HEADER = struct.Struct(">6sBIQ16s24s")
_MAX_MEMLIMIT = 4 * 1024**3
_FILES = ("wallet.key", "store.sqlite3", "config.json", "contacts.json")
"""The files a backup may carry; anything else in a manifest is ignored, never written."""


@dataclass(frozen=True, kw_only=True)
class BackupSummary:
    """What a backup holds."""

    public_key: bytes
    created: int
    files: tuple[str, ...]
    store_size: int


def _key(passphrase: str | bytes, salt: bytes, kdf: KdfParams) -> bytes:
    return argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE,
        normalize_passphrase(passphrase),
        salt,
        opslimit=kdf.opslimit,
        memlimit=kdf.memlimit,
    )


def _store_snapshot(path: Path) -> bytes:
    """A consistent copy of the SQLite store at ``path``, as the bytes of a database file."""
    source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    target = sqlite3.connect(":memory:")
    try:
        source.backup(target)
        image = bytearray(target.serialize())
        # The copy keeps the source's WAL marks (header bytes 18-19 = 2), which a
        # deserialized or fresh single file cannot honour: mark it a rollback-journal file.
        # The store switches it back to WAL when it is opened after a restore.
        image[18:20] = b"\x01\x01"
        return bytes(image)
    except sqlite3.Error as exc:
        raise WalletError(AppErrorCode.HOME_UNUSABLE, f"cannot copy the store: {exc}") from exc
    finally:
        source.close()
        target.close()


def write_backup(
    home: WalletHome, out: Path, *, passphrase: str | bytes, kdf: KdfParams, now: int | None = None
) -> BackupSummary:
    """Seal the wallet in ``home`` into ``out`` (created 0600, replaced atomically)."""
    home.check_private()
    try:
        key_file = home.key_file.read_bytes()
    except FileNotFoundError:
        raise WalletError(AppErrorCode.WALLET_NOT_FOUND, f"no wallet in {home.root}") from None
    public_key = peek_key_file(key_file).public_key
    files: dict[str, bytes] = {
        "wallet.key": key_file,
        "store.sqlite3": _store_snapshot(home.store_file),
    }
    for optional in (home.config_file, home.contacts_file):
        if optional.exists():
            files[optional.name] = optional.read_bytes()
    created = seconds(wall_ms) if now is None else now
    plain = cbor2.dumps({"wallet": public_key, "created": created, "files": files})
    salt = nacl.utils.random(16)
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    sealed = nacl.secret.SecretBox(_key(passphrase, salt, kdf)).encrypt(plain, nonce).ciphertext
    header = _HEADER.pack(_MAGIC, _VERSION, kdf.opslimit, kdf.memlimit, salt, nonce)
    try:
        replace_file(out, header + sealed, mode=0o600)
    except (OSError, ValueError) as exc:
        raise WalletError(AppErrorCode.FILE_UNWRITABLE, f"cannot write {out!r}: {exc}") from exc
    return BackupSummary(
        public_key=public_key,
        created=created,
        files=tuple(sorted(files)),
        store_size=len(files["store.sqlite3"]),
    )


def _open(data: bytes, passphrase: str | bytes) -> dict[str, Any]:
    if len(data) < _HEADER.size or data[:6] != _MAGIC:
        raise WalletError(AppErrorCode.BACKUP_CORRUPT, "not a p2ppay backup")
    magic, version, opslimit, memlimit, salt, nonce = _HEADER.unpack_from(data)
    del magic
    if version != _VERSION:
        raise WalletError(AppErrorCode.BACKUP_CORRUPT, f"backup format {version} is unknown")
    if not (argon2id.OPSLIMIT_MIN <= opslimit <= argon2id.OPSLIMIT_MAX) or not (
        argon2id.MEMLIMIT_MIN <= memlimit <= _MAX_MEMLIMIT
    ):
        raise WalletError(AppErrorCode.BACKUP_CORRUPT, "backup KDF limits out of range")
    kdf = KdfParams(opslimit=opslimit, memlimit=memlimit)
    try:
        plain = nacl.secret.SecretBox(_key(passphrase, salt, kdf)).decrypt(
            data[_HEADER.size :], nonce
        )
    except nacl.exceptions.CryptoError:
        raise WalletError(
            AppErrorCode.WRONG_PASSPHRASE,
            "the backup passphrase does not open it (or it is damaged)",
        ) from None
    try:
        body = cbor2.loads(plain)
        files = body["files"]
        if not isinstance(body["wallet"], bytes) or not isinstance(files, dict):
            raise TypeError("manifest")
        if not {"wallet.key", "store.sqlite3"} <= set(files):
            raise KeyError("files")
    except (ValueError, TypeError, KeyError, cbor2.CBORDecodeError) as exc:
        raise WalletError(AppErrorCode.BACKUP_CORRUPT, f"bad manifest: {exc}") from None
    return body  # type: ignore[no-any-return]


def _check_store(data: bytes, public_key: bytes) -> None:
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(data)
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise WalletError(AppErrorCode.BACKUP_CORRUPT, "the store copy fails integrity_check")
        row = conn.execute("SELECT public_key FROM wallet_state WHERE id = 1").fetchone()
    except sqlite3.Error as exc:
        raise WalletError(AppErrorCode.BACKUP_CORRUPT, f"the store copy: {exc}") from None
    finally:
        conn.close()
    if row is None or row[0] != public_key:
        raise WalletError(AppErrorCode.BACKUP_CORRUPT, "the store belongs to another wallet")


def _install(home: WalletHome, files: dict[str, bytes]) -> None:
    root = home.root
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise WalletError(
            AppErrorCode.WALLET_EXISTS, f"{root} is not empty: restore into a new home"
        )
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.restore-", dir=root.parent))
        for name, content in files.items():
            if name in _FILES:
                replace_file(staging / name, content, mode=0o600)
        os.replace(staging, root)  # onto a missing or empty home only (checked above)
        fsync_dir(root.parent)
    except OSError as exc:
        raise WalletError(AppErrorCode.HOME_UNUSABLE, f"cannot restore into {root}: {exc}") from exc


def restore_backup(home: WalletHome, backup: Path, *, passphrase: str | bytes) -> BackupSummary:
    """Check every part of ``backup`` (module docstring), then write it into ``home``."""
    try:
        data = backup.read_bytes()
    except (OSError, ValueError) as exc:
        raise WalletError(AppErrorCode.FILE_UNREADABLE, f"cannot read {backup!r}: {exc}") from exc
    body = _open(data, passphrase)
    files: dict[str, bytes] = body["files"]
    public_key: bytes = body["wallet"]
    if peek_key_file(files["wallet.key"]).public_key != public_key:
        raise WalletError(AppErrorCode.BACKUP_CORRUPT, "the key file is another wallet's")
    _check_store(files["store.sqlite3"], public_key)
    _install(home, files)
    return BackupSummary(
        public_key=public_key,
        created=int(body.get("created", 0)),
        files=tuple(sorted(files)),
        store_size=len(files["store.sqlite3"]),
    )
