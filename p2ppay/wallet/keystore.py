"""Key files on disk: create without clobbering, load with exact errors, change the passphrase.

Invariants:
- Creating a key file never overwrites one (``WALLET_EXISTS`` / ``ISSUER_EXISTS``); changing
  the passphrase replaces it atomically only after the new bytes were fully built and the
  old passphrase verified. A failed call leaves the file as it was.
- An unencrypted key file must be owner-only (no group or other permission bits) and owned by
  the current user, as ssh demands of private keys; otherwise ``KEY_FILE_PERMISSIONS``.
- Every ``OSError`` becomes a ``WalletError`` (or ``IssuerError`` for issuer keys) with a code.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import nacl.utils
from nacl.signing import SigningKey

from p2ppay.errors import AppError, AppErrorCode, IssuerError, WalletError
from p2ppay.files.keyfile import (
    KdfParams,
    KeyFileContents,
    KeyPurpose,
    decode_key_file,
    encode_key_file,
    normalize_passphrase,
    peek_key_file,
)
from p2ppay.wallet.atomic import replace_file, write_new

__all__ = ["change_passphrase", "create_key", "load_key", "read_public"]

_MAX_KEY_FILE = 4096


def _error(purpose: KeyPurpose, code: AppErrorCode, message: str) -> AppError:
    if purpose is KeyPurpose.ISSUER:
        return IssuerError(code, message)
    return WalletError(code, message)


def _missing_code(purpose: KeyPurpose) -> AppErrorCode:
    if purpose is KeyPurpose.ISSUER:
        return AppErrorCode.ISSUER_NOT_FOUND
    return AppErrorCode.WALLET_NOT_FOUND


def _exists_code(purpose: KeyPurpose) -> AppErrorCode:
    if purpose is KeyPurpose.ISSUER:
        return AppErrorCode.ISSUER_EXISTS
    return AppErrorCode.WALLET_EXISTS


def _read(path: Path, purpose: KeyPurpose) -> tuple[bytes, os.stat_result]:
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            data = handle.read(_MAX_KEY_FILE + 1)
    except FileNotFoundError:
        raise _error(purpose, _missing_code(purpose), f"no key file at {path}") from None
    except OSError as exc:
        raise _error(purpose, AppErrorCode.HOME_UNUSABLE, f"{path}: {exc}") from exc
    if len(data) > _MAX_KEY_FILE:
        raise _error(purpose, AppErrorCode.KEY_FILE_CORRUPT, "key file is far too large")
    return data, info


def _check_permissions(path: Path, info: os.stat_result, purpose: KeyPurpose) -> None:
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise _error(
            purpose,
            AppErrorCode.KEY_FILE_PERMISSIONS,
            f"{path} is unencrypted and readable by others; chmod 600 it",
        )
    getuid = getattr(os, "getuid", None)
    if getuid is not None and info.st_uid != getuid():
        raise _error(purpose, AppErrorCode.KEY_FILE_PERMISSIONS, f"{path} is not yours")


def _rewrap(exc: WalletError, purpose: KeyPurpose) -> AppError:
    return exc if purpose is KeyPurpose.WALLET else IssuerError(exc.code, exc.message)


def create_key(
    path: Path,
    *,
    purpose: KeyPurpose,
    passphrase: str | bytes | None,
    kdf: KdfParams,
    seed: bytes | None = None,
) -> SigningKey:
    """Write a new key file (a fresh seed unless ``seed`` is given); never overwrite one."""
    secret = nacl.utils.random(32) if seed is None else seed
    data = encode_key_file(
        seed=secret,
        purpose=purpose,
        passphrase=None if passphrase is None else normalize_passphrase(passphrase),
        kdf=kdf,
    )
    try:
        write_new(path, data, mode=0o600)
    except FileExistsError:
        raise _error(purpose, _exists_code(purpose), f"{path} exists; nothing changed") from None
    except OSError as exc:
        raise _error(purpose, AppErrorCode.HOME_UNUSABLE, f"{path}: {exc}") from exc
    return SigningKey(secret)


def read_public(path: Path, *, purpose: KeyPurpose) -> KeyFileContents:
    """The key file's public part (no passphrase needed); structure and checksum checked."""
    data, _ = _read(path, purpose)
    try:
        contents = peek_key_file(data)
    except WalletError as exc:
        raise _rewrap(exc, purpose) from None
    if contents.purpose is not purpose:
        raise _error(purpose, AppErrorCode.KEY_FILE_UNSUPPORTED, "a key file of another kind")
    return contents


def load_key(
    path: Path, *, purpose: KeyPurpose, passphrase: str | bytes | None
) -> tuple[KeyFileContents, SigningKey]:
    """Open the key file: ``WRONG_PASSPHRASE``, ``KEY_FILE_CORRUPT``, ``..._TRUNCATED`` etc."""
    data, info = _read(path, purpose)
    try:
        if not peek_key_file(data).encrypted:
            _check_permissions(path, info, purpose)
        contents, seed = decode_key_file(
            data,
            purpose=purpose,
            passphrase=None if passphrase is None else normalize_passphrase(passphrase),
        )
    except WalletError as exc:
        raise _rewrap(exc, purpose) from None
    return contents, SigningKey(seed)


def change_passphrase(
    path: Path,
    *,
    purpose: KeyPurpose,
    old: str | bytes | None,
    new: str | bytes | None,
    kdf: KdfParams,
) -> None:
    """Re-encrypt the key file under ``new`` (``None``: unencrypted, owner-only)."""
    _, signing_key = load_key(path, purpose=purpose, passphrase=old)
    data = encode_key_file(
        seed=bytes(signing_key),
        purpose=purpose,
        passphrase=None if new is None else normalize_passphrase(new),
        kdf=kdf,
    )
    try:
        replace_file(path, data, mode=0o600)
    except OSError as exc:
        raise _error(purpose, AppErrorCode.HOME_UNUSABLE, f"{path}: {exc}") from exc
