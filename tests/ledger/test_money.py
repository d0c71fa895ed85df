"""Allowances, reserve, release after expiry and grace, claims and their repayment (HTTP)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from p2ppay.api.schemas import StatementOut
from p2ppay.ledger import RunningLedger, running_ledger
from p2ppay.sync import AdminClient, SyncError
from p2ppay.wallet import import_allowance
from tests.ledger.world import fund, new_party, now_s, pay_offline, trust_ledger

pytestmark = pytest.mark.anyio

GRACE = 3600


def eur(statement: StatementOut) -> tuple[int, int, int]:
    (row,) = [b for b in statement.balances if b.currency == "EUR"]
    return row.balance_minor, row.reserve_minor, row.claims_minor


async def totals_hold(ledger: RunningLedger) -> None:
    async with AdminClient(ledger.url, ledger.admin_token) as admin:
        t = (await admin.totals()).currencies["EUR"]
    assert t.balances + t.reserves + t.claims + t.held == t.deposits - t.withdrawals
    assert t.balances + t.reserves == t.deposits - t.withdrawals  # spendable money is backed


def held(statement: StatementOut) -> int:
    (row,) = [b for b in statement.balances if b.currency == "EUR"]
    return int(row.held_minor)


async def test_an_allowance_moves_its_amount_from_balance_to_reserve(
    db_url: str, tmp_path: Path
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        payer = new_party(tmp_path, "payer")
        await fund(ledger, payer, deposit=50_00, allowance=20_00)
        async with payer.client(ledger) as client:
            statement = await client.statement()
        assert eur(statement) == (30_00, 20_00, 0)
        (allowance,) = statement.allowances
        assert (allowance.limit_minor, allowance.reserve_left_minor) == (20_00, 20_00)
        with payer.open() as wallet:
            state = wallet.store.allowances.payer_position("EUR")
        assert state.allowance is not None and state.allowance.serial == allowance.serial


async def test_an_allowance_larger_than_the_balance_is_refused(db_url: str, tmp_path: Path) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        payer = new_party(tmp_path, "payer")
        await fund(ledger, payer, deposit=10_00)
        async with payer.client(ledger) as client:
            with pytest.raises(SyncError) as refused:
                await client.request_allowance(currency="EUR", amount_minor=10_01)
            assert refused.value.remote == "LEDGER_INSUFFICIENT_FUNDS"
            assert eur(await client.statement()) == (10_00, 0, 0)


async def test_the_unspent_reserve_returns_only_after_expiry_and_grace(
    db_url: str, tmp_path: Path
) -> None:
    clock = [now_s()]
    async with running_ledger(db_url=db_url, clock=lambda: clock[0], grace=GRACE) as ledger:
        payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")
        await fund(ledger, payer, deposit=50_00)
        await trust_ledger(ledger, payee)
        async with payer.client(ledger, lambda: clock[0]) as client:
            issued = await client.request_allowance(
                currency="EUR", amount_minor=20_00, valid_for=600
            )
            with payer.open() as wallet:
                import_allowance(wallet.store, base64.b64decode(issued.allowance), now=clock[0])
            bundle = pay_offline(payer, payee, 5_00)
            await client.sync([base64.b64encode(bundle).decode()], [])
            clock[0] = issued.not_after + GRACE - 1
            assert eur(await client.statement()) == (30_00, 15_00, 0)
            clock[0] = issued.not_after + GRACE
            assert eur(await client.statement()) == (45_00, 0, 0)
        await totals_hold(ledger)


async def test_a_bundle_synced_after_release_is_paid_from_the_payers_balance(
    db_url: str, tmp_path: Path
) -> None:
    clock = [now_s()]
    async with running_ledger(db_url=db_url, clock=lambda: clock[0], grace=GRACE) as ledger:
        payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")
        await fund(ledger, payer, deposit=20_00, allowance=20_00)
        await trust_ledger(ledger, payee)
        bundle = pay_offline(payer, payee, 8_00)
        async with payer.client(ledger, lambda: clock[0]) as client:
            clock[0] += 8 * 24 * 3600 + GRACE  # past the default 7-day validity and the grace
            assert eur(await client.statement()) == (20_00, 0, 0)
            answer = await client.sync([base64.b64encode(bundle).decode()], [])
            assert answer.results[0].status == "settled"
            # The released reserve went back to the balance: the late payment comes from it.
            assert eur(await client.statement()) == (12_00, 0, 0)
        async with payee.client(ledger, lambda: clock[0]) as client:
            assert eur(await client.statement()) == (8_00, 0, 0)
        await totals_hold(ledger)


async def test_a_late_bundle_the_payers_balance_cannot_cover_is_held_until_it_repays(
    db_url: str, tmp_path: Path
) -> None:
    clock = [now_s()]
    async with running_ledger(db_url=db_url, clock=lambda: clock[0], grace=GRACE) as ledger:
        payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")
        await fund(ledger, payer, deposit=20_00, allowance=20_00)
        await trust_ledger(ledger, payee)
        bundle = pay_offline(payer, payee, 8_00)
        async with (
            payer.client(ledger, lambda: clock[0]) as by_payer,
            payee.client(ledger, lambda: clock[0]) as by_payee,
            AdminClient(ledger.url, ledger.admin_token) as admin,
        ):
            clock[0] += 8 * 24 * 3600 + GRACE
            assert eur(await by_payer.statement()) == (20_00, 0, 0)
            await admin.withdraw(payer.public.hex(), 15_00, "EUR")  # spends the released money
            answer = await by_payee.sync([base64.b64encode(bundle).decode()], [])
            assert answer.results[0].status == "settled"
            assert eur(await by_payer.statement()) == (0, 0, -3_00)
            payee_view = await by_payee.statement()
            assert (eur(payee_view), held(payee_view)) == ((5_00, 0, 0), 3_00)
            with pytest.raises(SyncError) as refused:  # held credit is not spendable
                await admin.withdraw(payee.public.hex(), 5_01, "EUR")
            assert refused.value.remote == "LEDGER_INSUFFICIENT_FUNDS"
            await totals_hold(ledger)
            await admin.deposit(payer.public.hex(), 2_00, "EUR")  # repays 2.00 of the claim
            payee_view = await by_payee.statement()
            assert (eur(payee_view), held(payee_view)) == ((7_00, 0, 0), 1_00)
        await totals_hold(ledger)


async def test_a_deposit_repays_claims_before_it_adds_to_the_balance(
    db_url: str, tmp_path: Path
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        payer, first = new_party(tmp_path, "payer"), new_party(tmp_path, "first")
        second = new_party(tmp_path, "second")
        await fund(ledger, payer, deposit=10_00, allowance=10_00)
        for payee in (first, second):
            await trust_ledger(ledger, payee)
        good = pay_offline(payer, first, 10_00)
        fork = pay_offline(payer, second, 6_00, cheat_head=None)
        async with payer.client(ledger) as client:
            answer = await client.sync([base64.b64encode(b).decode() for b in (good, fork)], [])
            assert [r.status for r in answer.results] == ["settled", "fraud"]
            assert eur(await client.statement()) == (0, 0, -6_00)
            async with AdminClient(ledger.url, ledger.admin_token) as admin:
                await admin.deposit(payer.public.hex(), 10_00, "EUR")
            assert eur(await client.statement()) == (4_00, 0, 0)
        async with second.client(ledger) as client:
            statement = await client.statement()  # the repaid claim released its held credit
        assert (eur(statement), held(statement)) == ((6_00, 0, 0), 0)
        await totals_hold(ledger)
