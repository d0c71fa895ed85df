"""The ledger over TLS on loopback, and the client's refusal of plain HTTP off loopback."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from p2ppay.errors import AppErrorCode
from p2ppay.ledger import running_ledger
from p2ppay.sync import (
    AdminClient,
    LedgerClient,
    RetryPolicy,
    SyncError,
    register_wallet,
    request_allowance,
    sync_outbox,
)
from p2ppay.sync.client import check_ledger_url
from tests.ledger.tls_certs import make_certs
from tests.ledger.world import FAST_RETRY, new_party, pay_offline


def now_s() -> int:
    return int(time.time())


def test_a_whole_sync_runs_over_https_with_a_private_ca(tmp_path: Path) -> None:
    ca, cert, key = make_certs(tmp_path)
    payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")

    async def main() -> None:
        async with running_ledger(tls=(cert, key)) as ledger:
            assert ledger.url.startswith("https://localhost:")
            for party in (payer, payee):
                async with LedgerClient(
                    ledger.url, party.key, retry=FAST_RETRY, ca_file=ca
                ) as client:
                    with party.open() as wallet:
                        pinned = await register_wallet(wallet, client, ledger.url, now=now_s())
                        assert pinned.pin.url == ledger.url
            async with AdminClient(ledger.url, ledger.admin_token, ca_file=ca) as admin:
                await admin.deposit(payer.public.hex(), 100_00, "EUR")
            async with LedgerClient(ledger.url, payer.key, retry=FAST_RETRY, ca_file=ca) as c:
                with payer.open() as wallet:
                    await request_allowance(
                        wallet, c, amount_minor=50_00, currency="EUR", now=now_s()
                    )
            pay_offline(payer, payee, 12_50)
            for party, status in ((payee, "settled"), (payer, "duplicate")):
                async with LedgerClient(
                    ledger.url, party.key, retry=FAST_RETRY, ca_file=ca
                ) as client:
                    with party.open() as wallet:
                        report = await sync_outbox(wallet.store, client, now=now_s)
                assert report.as_json()[status] == 1
                assert report.trust == "updated"

    anyio.run(main)


def test_a_certificate_from_an_unknown_ca_is_refused(tmp_path: Path) -> None:
    _, cert, key = make_certs(tmp_path)
    payee = new_party(tmp_path, "payee")

    async def main() -> None:
        async with running_ledger(tls=(cert, key)) as ledger:
            once = RetryPolicy(attempts=1, timeout=10)
            async with LedgerClient(ledger.url, payee.key, retry=once) as client:
                with pytest.raises(SyncError) as refused:
                    await client.trust()
            assert refused.value.code is AppErrorCode.SYNC_UNREACHABLE
            assert "CERTIFICATE_VERIFY_FAILED" in refused.value.message

    anyio.run(main)


@pytest.mark.parametrize(
    "url", ["http://ledger.example.com", "http://10.0.0.7:8080", "ftp://localhost", "ledger"]
)
def test_plain_http_off_loopback_is_refused_naming_the_fix(url: str) -> None:
    with pytest.raises(SyncError) as refused:
        check_ledger_url(url)
    assert refused.value.code is AppErrorCode.SYNC_INSECURE_URL
    assert "https://" in refused.value.message


@pytest.mark.parametrize(
    "url",
    ["https://ledger.example.com", "http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:2"],
)
def test_https_and_loopback_http_are_taken(url: str) -> None:
    assert check_ledger_url(url) == url
