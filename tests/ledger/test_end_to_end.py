"""A whole payment over Bumble's virtual radio with a ledger allowance, then both wallets
sync: the payee is credited once, the payer's reserve is spent, both histories say settled."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2ppay.ledger import running_ledger
from p2ppay.store.settlement import Settlement, settlement_of
from p2ppay.sync import fund_wallet, sync_outbox, sync_wallet, wallet_statement
from tests.ledger.world import fund, new_party, now_s, trust_ledger
from tests.world import Homes, pay_once

pytestmark = pytest.mark.anyio


async def test_a_radio_payment_is_settled_once_when_both_parties_sync(tmp_path: Path) -> None:
    async with running_ledger(db_url=f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")
        await fund(ledger, payer, deposit=40_00, allowance=20_00)
        await trust_ledger(ledger, payee)
        homes = Homes(issuer=payer.home, payer=payer.home, payee=payee.home, issuer_key=b"")
        payer_out, payee_out, invoice = await pay_once(homes, amount=12_50)
        assert payer_out.status == payee_out.status == "completed"

        reports = []
        for party in (payee, payer):
            async with party.client(ledger) as client:
                with party.open() as wallet:
                    reports.append(await sync_outbox(wallet.store, client, now=now_s))
                    assert settlement_of(wallet.store, invoice.doc.id) is Settlement.SETTLED
        assert [(r.settled, r.duplicate) for r in reports] == [(1, 0), (0, 1)]
        async with payer.client(ledger) as client:
            (eur,) = (await client.statement()).balances
        assert (eur.balance, eur.reserve, eur.claims) == ("20.00", "7.50", "0.00")
        async with payee.client(ledger) as client:
            (eur,) = (await client.statement()).balances
        assert eur.balance == "12.50"


async def test_a_stored_transfer_without_payment_has_no_settlement(tmp_path: Path) -> None:
    party = new_party(tmp_path, "p")
    with party.open() as wallet:
        assert settlement_of(wallet.store, b"\x00" * 16) is None


async def test_the_demo_flow_funds_pays_syncs_and_shows_settled_balances(tmp_path: Path) -> None:
    payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")
    async with running_ledger() as ledger:
        with payer.open() as wallet:
            record = await fund_wallet(
                ledger.url,
                ledger.admin_token,
                wallet,
                deposit=50_00,
                allowance=20_00,
                currency="EUR",
                now=now_s(),
            )
        assert record is not None and record.limit_minor == 20_00
        with payee.open() as wallet:
            await fund_wallet(
                ledger.url,
                ledger.admin_token,
                wallet,
                deposit=0,
                allowance=0,
                currency="EUR",
                now=now_s(),
            )
            await sync_wallet(ledger.url, wallet, now=now_s)
        homes = Homes(issuer=payer.home, payer=payer.home, payee=payee.home, issuer_key=b"")
        await pay_once(homes, amount=4_00)
        for party in (payee, payer):
            with party.open() as wallet:
                report = await sync_wallet(ledger.url, wallet, now=now_s)
                assert report.settled + report.duplicate == 1
        with payer.open() as wallet:
            (eur,) = (await wallet_statement(ledger.url, wallet)).balances
        assert (eur.balance, eur.reserve) == ("30.00", "16.00")
