"""The key file at rest: encrypted or owner-only, and exact errors that overwrite nothing."""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import nacl.encoding
import nacl.hash
import pytest

from p2ppay.errors import AppErrorCode, IssuerError, WalletError
from p2ppay.wallet import KdfParams, KeyPurpose, change_passphrase
from p2ppay.wallet.keystore import create_key, load_key, read_public

FAST = KdfParams.minimum()
SEED = bytes(range(32))


@pytest.fixture
def encrypted(tmp_path: Path) -> Path:
    path = tmp_path / "encrypted.key"
    create_key(path, purpose=KeyPurpose.WALLET, passphrase="correct horse", kdf=FAST, seed=SEED)
    return path


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    path = tmp_path / "plain.key"
    create_key(path, purpose=KeyPurpose.WALLET, passphrase=None, kdf=FAST, seed=SEED)
    return path


def _code(path: Path, passphrase: str | None) -> AppErrorCode:
    with pytest.raises(WalletError) as err:
        load_key(path, purpose=KeyPurpose.WALLET, passphrase=passphrase)
    return err.value.code


def _rechecksum(data: bytes) -> bytes:
    body = data[:-16]
    return body + nacl.hash.blake2b(
        body, digest_size=16, person=b"p2ppay-keyfile", encoder=nacl.encoding.RawEncoder
    )


def test_the_right_passphrase_opens_the_key(encrypted: Path) -> None:
    contents, key = load_key(encrypted, purpose=KeyPurpose.WALLET, passphrase="correct horse")
    assert bytes(key) == SEED and contents.encrypted


def test_the_seed_is_not_in_an_encrypted_file(encrypted: Path) -> None:
    assert SEED not in encrypted.read_bytes()


def test_a_wrong_passphrase_is_reported_and_the_file_is_untouched(encrypted: Path) -> None:
    before = encrypted.read_bytes()
    assert _code(encrypted, "wrong horse") is AppErrorCode.WRONG_PASSPHRASE
    assert encrypted.read_bytes() == before


def test_an_encrypted_key_without_a_passphrase_asks_for_one(encrypted: Path) -> None:
    assert _code(encrypted, None) is AppErrorCode.PASSPHRASE_REQUIRED


def test_the_passphrase_is_compared_in_unicode_normal_form(tmp_path: Path) -> None:
    path = tmp_path / "k"
    create_key(path, purpose=KeyPurpose.WALLET, passphrase="caf\u00e9", kdf=FAST, seed=SEED)
    _, key = load_key(path, purpose=KeyPurpose.WALLET, passphrase="cafe\u0301")
    assert bytes(key) == SEED


@pytest.mark.parametrize("keep", [0, 5, 9, 60, 156])
def test_a_truncated_key_file_is_reported_as_truncated(encrypted: Path, keep: int) -> None:
    encrypted.write_bytes(encrypted.read_bytes()[:keep])
    assert _code(encrypted, "correct horse") is AppErrorCode.KEY_FILE_TRUNCATED


@pytest.mark.parametrize("offset", [0, 7, 20, 50, 100, 150])
def test_a_flipped_byte_is_reported_as_corruption_not_a_wrong_passphrase(
    encrypted: Path, offset: int
) -> None:
    data = bytearray(encrypted.read_bytes())
    data[offset] ^= 0x01
    encrypted.write_bytes(bytes(data))
    assert _code(encrypted, "correct horse") is AppErrorCode.KEY_FILE_CORRUPT


def test_trailing_bytes_are_corruption(encrypted: Path) -> None:
    encrypted.write_bytes(encrypted.read_bytes() + b"\x00")
    assert _code(encrypted, "correct horse") is AppErrorCode.KEY_FILE_CORRUPT


def test_a_file_of_another_format_is_corruption(encrypted: Path) -> None:
    encrypted.write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY-----\n" * 4)
    assert _code(encrypted, "correct horse") is AppErrorCode.KEY_FILE_CORRUPT


def test_a_public_key_that_does_not_match_the_seed_is_corruption(plain: Path) -> None:
    data = bytearray(plain.read_bytes())
    data[9:41] = bytes(32)  # the header's public key, with a valid checksum recomputed
    plain.write_bytes(_rechecksum(bytes(data)))
    assert _code(plain, None) is AppErrorCode.KEY_FILE_CORRUPT


def test_a_crafted_huge_argon2_memory_cost_is_refused(encrypted: Path) -> None:
    data = bytearray(encrypted.read_bytes())
    data[45:53] = struct.pack(">Q", 1 << 40)
    encrypted.write_bytes(_rechecksum(bytes(data)))
    assert _code(encrypted, "correct horse") is AppErrorCode.KEY_FILE_UNSUPPORTED


def test_a_missing_key_file_means_no_wallet(tmp_path: Path) -> None:
    assert _code(tmp_path / "absent.key", None) is AppErrorCode.WALLET_NOT_FOUND


def test_key_files_are_created_owner_only(plain: Path, encrypted: Path) -> None:
    for path in (plain, encrypted):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_unencrypted_key_readable_by_others_is_refused(plain: Path) -> None:
    os.chmod(plain, 0o644)
    assert _code(plain, None) is AppErrorCode.KEY_FILE_PERMISSIONS


def test_an_unencrypted_key_file_opens_without_a_passphrase(plain: Path) -> None:
    contents, key = load_key(plain, purpose=KeyPurpose.WALLET, passphrase=None)
    assert bytes(key) == SEED and not contents.encrypted


def test_creating_a_key_never_overwrites_one(encrypted: Path) -> None:
    before = encrypted.read_bytes()
    with pytest.raises(WalletError) as err:
        create_key(encrypted, purpose=KeyPurpose.WALLET, passphrase=None, kdf=FAST)
    assert err.value.code is AppErrorCode.WALLET_EXISTS
    assert encrypted.read_bytes() == before
    assert [p.name for p in encrypted.parent.iterdir()] == ["encrypted.key"]  # no temp left


def test_the_public_key_reads_without_the_passphrase(encrypted: Path) -> None:
    contents = read_public(encrypted, purpose=KeyPurpose.WALLET)
    _, key = load_key(encrypted, purpose=KeyPurpose.WALLET, passphrase="correct horse")
    assert contents.public_key == bytes(key.verify_key)


def test_an_issuer_key_does_not_load_as_a_wallet_key(tmp_path: Path) -> None:
    path = tmp_path / "issuer.key"
    create_key(path, purpose=KeyPurpose.ISSUER, passphrase=None, kdf=FAST)
    assert _code(path, None) is AppErrorCode.KEY_FILE_UNSUPPORTED


def test_issuer_key_errors_are_issuer_errors(tmp_path: Path) -> None:
    with pytest.raises(IssuerError) as err:
        load_key(tmp_path / "issuer.key", purpose=KeyPurpose.ISSUER, passphrase=None)
    assert err.value.code is AppErrorCode.ISSUER_NOT_FOUND


def test_a_new_passphrase_replaces_the_old_one(encrypted: Path) -> None:
    change_passphrase(
        encrypted, purpose=KeyPurpose.WALLET, old="correct horse", new="battery staple", kdf=FAST
    )
    _, key = load_key(encrypted, purpose=KeyPurpose.WALLET, passphrase="battery staple")
    assert bytes(key) == SEED
    assert _code(encrypted, "correct horse") is AppErrorCode.WRONG_PASSPHRASE


def test_a_passphrase_change_with_the_wrong_old_one_changes_nothing(encrypted: Path) -> None:
    before = encrypted.read_bytes()
    with pytest.raises(WalletError):
        change_passphrase(encrypted, purpose=KeyPurpose.WALLET, old="nope", new="x", kdf=FAST)
    assert encrypted.read_bytes() == before
