"""The development issuer: its own key, unique serials, allowances any verifier accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2ppay.errors import AppErrorCode, IssuerError, WalletError
from p2ppay.wallet import KdfParams, WalletHome, open_wallet
from p2ppay.wallet.issuer import init_issuer, open_issuer, read_issuer_key
from protocol.documents import Allowance
from protocol.verify import verify_as

FAST = KdfParams.minimum()
NOW = 1_800_000_000
WALLET_KEY = bytes([4]) * 32


@pytest.fixture
def home(tmp_path: Path) -> WalletHome:
    home = WalletHome(root=tmp_path / "issuer")
    init_issuer(home, now=NOW, kdf=FAST)
    return home


def test_init_returns_the_key_that_signs_the_grants(home: WalletHome) -> None:
    signed = open_issuer(home).grant(WALLET_KEY, 1250, "EUR", now=NOW)
    allowance = verify_as(signed, Allowance, now=NOW, trusted_issuers={read_issuer_key(home)})
    assert (allowance.doc.wallet, allowance.doc.limit, allowance.doc.currency) == (
        WALLET_KEY,
        1250,
        "EUR",
    )


def test_each_grant_takes_a_new_serial(home: WalletHome) -> None:
    issuer = open_issuer(home)
    serials = [
        verify_as(issuer.grant(WALLET_KEY, 100, "EUR", now=NOW), Allowance, now=NOW).doc.serial
        for _ in range(3)
    ]
    again = open_issuer(home).grant(WALLET_KEY, 100, "EUR", now=NOW)
    assert serials == [1, 2, 3]
    assert verify_as(again, Allowance, now=NOW).doc.serial == 4


def test_a_grant_is_valid_for_the_window_asked(home: WalletHome) -> None:
    signed = open_issuer(home).grant(WALLET_KEY, 100, "EUR", now=NOW, valid_for=3600)
    doc = verify_as(signed, Allowance, now=NOW).doc
    assert (doc.not_before, doc.not_after) == (NOW, NOW + 3600)


def test_init_twice_refuses_and_keeps_the_key(home: WalletHome) -> None:
    before = read_issuer_key(home)
    with pytest.raises(IssuerError) as err:
        init_issuer(home, now=NOW, kdf=FAST)
    assert err.value.code is AppErrorCode.ISSUER_EXISTS
    assert read_issuer_key(home) == before


def test_a_grant_in_an_unknown_currency_is_refused(home: WalletHome) -> None:
    with pytest.raises(IssuerError) as err:
        open_issuer(home).grant(WALLET_KEY, 100, "XXX", now=NOW)
    assert err.value.code is AppErrorCode.ALLOWANCE_INVALID


def test_a_home_without_an_issuer_key_says_so(tmp_path: Path) -> None:
    with pytest.raises(IssuerError) as err:
        open_issuer(WalletHome(root=tmp_path))
    assert err.value.code is AppErrorCode.ISSUER_NOT_FOUND


def test_an_issuer_home_is_not_a_wallet(home: WalletHome) -> None:
    with pytest.raises(WalletError) as err:
        open_wallet(home, passphrase=None, now=NOW)
    assert err.value.code is AppErrorCode.WALLET_NOT_FOUND


def test_an_encrypted_issuer_key_needs_its_passphrase(tmp_path: Path) -> None:
    home = WalletHome(root=tmp_path / "locked")
    init_issuer(home, now=NOW, passphrase="issuer pw", kdf=FAST)
    with pytest.raises(IssuerError) as err:
        open_issuer(home, passphrase="wrong")
    assert err.value.code is AppErrorCode.WRONG_PASSPHRASE
    assert open_issuer(home, passphrase="issuer pw").public_key == read_issuer_key(home)
