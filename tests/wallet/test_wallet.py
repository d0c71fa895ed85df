"""The wallet home: init, identity, open, config, allowance import and trust."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from p2ppay.errors import AppErrorCode, IssuerError, StoreError, WalletError
from p2ppay.wallet import (
    HOME_ENV,
    KdfParams,
    WalletConfig,
    WalletHome,
    import_allowance,
    init_wallet,
    load_config,
    open_store,
    open_wallet,
    parse_public_key,
    read_identity,
    save_config,
    wallet_id_of,
)
from p2ppay.wallet.issuer import init_issuer, open_issuer
from protocol.keys import key_id

FAST = KdfParams.minimum()
NOW = 1_800_000_000


def _home(tmp_path: Path, name: str = "alice") -> WalletHome:
    return WalletHome(root=tmp_path / name)


def test_home_comes_from_the_flag_then_the_environment_then_the_default(tmp_path: Path) -> None:
    env = {HOME_ENV: str(tmp_path / "env")}
    assert WalletHome.resolve(tmp_path / "flag", environ=env).root == tmp_path / "flag"
    assert WalletHome.resolve(None, environ=env).root == tmp_path / "env"
    assert WalletHome.resolve(None, environ={}).root == Path.home() / ".p2ppay"


def test_init_creates_an_owner_only_home_with_key_store_and_config(tmp_path: Path) -> None:
    home = _home(tmp_path)
    init_wallet(home, passphrase=None, now=NOW, kdf=FAST, label="kiosk 3")
    assert home.key_file.exists() and home.store_file.exists()
    assert home.root.stat().st_mode & 0o077 == 0
    assert load_config(home).label == "kiosk 3"


def test_the_identity_reads_without_the_passphrase(tmp_path: Path) -> None:
    home = _home(tmp_path)
    created = init_wallet(home, passphrase="pw", now=NOW, kdf=FAST)
    public = read_identity(home)
    assert public == created
    assert public.key_id == key_id(public.public_key)
    assert re.fullmatch(r"W(-[0-9A-HJKMNP-TV-Z]{4}){4}", public.wallet_id)


def test_the_wallet_id_is_a_function_of_the_key_alone() -> None:
    assert wallet_id_of(bytes(32)) == wallet_id_of(bytes(32)) != wallet_id_of(bytes([1]) * 32)


def test_init_twice_refuses_and_keeps_the_first_key(tmp_path: Path) -> None:
    home = _home(tmp_path)
    first = init_wallet(home, passphrase=None, now=NOW, kdf=FAST)
    with pytest.raises(WalletError) as err:
        init_wallet(home, passphrase=None, now=NOW, kdf=FAST)
    assert err.value.code is AppErrorCode.WALLET_EXISTS
    assert read_identity(home) == first


def test_open_unlocks_the_signing_key_of_the_identity(tmp_path: Path) -> None:
    home = _home(tmp_path)
    public = init_wallet(home, passphrase="pw", now=NOW, kdf=FAST)
    with open_wallet(home, passphrase="pw", now=NOW) as wallet:
        assert wallet.public == public
        assert bytes(wallet.identity.signing_key.verify_key) == public.public_key
        assert "signing_key" not in repr(wallet.identity)


def test_open_with_a_wrong_passphrase_fails_before_touching_the_store(tmp_path: Path) -> None:
    home = _home(tmp_path)
    init_wallet(home, passphrase="pw", now=NOW, kdf=FAST)
    with pytest.raises(WalletError) as err:
        open_wallet(home, passphrase="nope", now=NOW)
    assert err.value.code is AppErrorCode.WRONG_PASSPHRASE
    open_wallet(home, passphrase="pw", now=NOW).close()  # no lock was left behind


def test_open_of_an_empty_home_says_there_is_no_wallet(tmp_path: Path) -> None:
    with pytest.raises(WalletError) as err:
        open_wallet(_home(tmp_path), passphrase=None, now=NOW)
    assert err.value.code is AppErrorCode.WALLET_NOT_FOUND


def test_two_wallets_live_side_by_side_in_two_homes(tmp_path: Path) -> None:
    alice, bob = _home(tmp_path, "alice"), _home(tmp_path, "bob")
    a = init_wallet(alice, passphrase=None, now=NOW, kdf=FAST)
    b = init_wallet(bob, passphrase=None, now=NOW, kdf=FAST)
    with open_wallet(alice, passphrase=None, now=NOW), open_wallet(bob, passphrase=None, now=NOW):
        assert a.public_key != b.public_key


def test_a_running_wallet_excludes_a_second_writer_but_not_a_reader(tmp_path: Path) -> None:
    home = _home(tmp_path)
    init_wallet(home, passphrase=None, now=NOW, kdf=FAST)
    with open_wallet(home, passphrase=None, now=NOW):
        with pytest.raises(StoreError) as err:
            open_store(home, now=NOW)
        with open_store(home, now=NOW, readonly=True) as reader:
            assert reader.sessions.history() == []
    assert err.value.code is AppErrorCode.STORE_IN_USE


def test_config_keeps_keys_it_does_not_know(tmp_path: Path) -> None:
    home = _home(tmp_path)
    home.ensure()
    home.config_file.write_text('{"version": 1, "adapter": "hci0", "future": [1, 2]}')
    config = load_config(home)
    save_config(home, WalletConfig(adapter="virtual", extra=config.extra))
    again = load_config(home)
    assert again.adapter == "virtual" and dict(again.extra) == {"future": [1, 2]}


def test_a_config_of_the_wrong_shape_is_reported_not_reset(tmp_path: Path) -> None:
    home = _home(tmp_path)
    home.ensure()
    home.config_file.write_text('{"rssi_threshold": "loud"}')
    with pytest.raises(WalletError) as err:
        load_config(home)
    assert err.value.code is AppErrorCode.CONFIG_CORRUPT
    assert home.config_file.read_text() == '{"rssi_threshold": "loud"}'


def test_public_keys_parse_from_hex_only_at_the_right_length() -> None:
    assert parse_public_key("ab" * 32) == bytes([0xAB]) * 32
    for bad in ("ab" * 31, "zz" * 32, ""):
        with pytest.raises(WalletError) as err:
            parse_public_key(bad)
        assert err.value.code is AppErrorCode.BAD_KEY


def _granted(tmp_path: Path, wallet_key: bytes, *, now: int = NOW) -> bytes:
    issuer_home = _home(tmp_path, "issuer")
    if not issuer_home.issuer_key_file.exists():
        init_issuer(issuer_home, now=now, kdf=FAST)
    return open_issuer(issuer_home).grant(wallet_key, 2000, "EUR", now=now)


def test_an_allowance_granted_to_the_wallet_is_imported(tmp_path: Path) -> None:
    home = _home(tmp_path)
    public = init_wallet(home, passphrase=None, now=NOW, kdf=FAST)
    signed = _granted(tmp_path, public.public_key)
    with open_wallet(home, passphrase=None, now=NOW) as wallet:
        record = wallet.import_allowance(signed, now=NOW)
        state = wallet.store.allowances.payer_position("EUR")
    assert record.limit_minor == 2000 and record.signed == signed
    assert state.allowance == record and state.next_counter == 1


def test_an_allowance_for_another_wallet_is_refused(tmp_path: Path) -> None:
    home = _home(tmp_path)
    init_wallet(home, passphrase=None, now=NOW, kdf=FAST)
    signed = _granted(tmp_path, bytes([5]) * 32)
    with open_store(home, now=NOW) as store, pytest.raises(IssuerError) as err:
        import_allowance(store, signed, now=NOW)
    assert err.value.code is AppErrorCode.ALLOWANCE_NOT_MINE


@pytest.mark.parametrize("why", ["tampered", "expired"])
def test_an_allowance_that_does_not_verify_is_refused(tmp_path: Path, why: str) -> None:
    home = _home(tmp_path)
    public = init_wallet(home, passphrase=None, now=NOW, kdf=FAST)
    signed = _granted(tmp_path, public.public_key)
    now = NOW
    if why == "tampered":
        signed = signed[:-1] + bytes([signed[-1] ^ 1])
    else:
        now = NOW + 400 * 24 * 3600
    with open_wallet(home, passphrase=None, now=now) as wallet, pytest.raises(IssuerError) as err:
        wallet.import_allowance(signed, now=now)
    assert err.value.code is AppErrorCode.ALLOWANCE_INVALID
    assert err.value.__cause__ is not None


def test_a_trusted_issuer_key_is_what_the_payee_checks_against(tmp_path: Path) -> None:
    home = _home(tmp_path)
    init_wallet(home, passphrase=None, now=NOW, kdf=FAST)
    issuer_key = parse_public_key("cd" * 32)
    with open_wallet(home, passphrase=None, now=NOW) as wallet:
        wallet.trust_issuer(issuer_key, now=NOW, label="dev issuer")
    with open_store(home, now=NOW, readonly=True) as store:
        assert store.trust.issuer_keys() == {issuer_key}
