"""Settlement over a real uvicorn server on loopback, on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
from pathlib import Path

import anyio
import pytest

from p2ppay.ledger import RunningLedger, running_ledger
from p2ppay.store import OutboxStatus
from p2ppay.sync import AdminClient, sync_outbox
from protocol.acceptance import check_payment
from protocol.builders import make_invoice, make_payment
from protocol.chain import FraudProof, chain_key
from protocol.documents import Allowance, Payment
from protocol.errors import ErrorCode, RemoteProtocolError
from protocol.verify import open_as
from tests.ledger.world import Party, fund, new_party, now_s, pay_offline, trust_ledger

pytestmark = pytest.mark.anyio


async def conserved(ledger: RunningLedger) -> dict[str, int]:
    """The totals of EUR, after checking the conservation invariant."""
    async with AdminClient(ledger.url, ledger.admin_token) as admin:
        totals = (await admin.totals()).currencies["EUR"]
    assert totals.balances + totals.reserves + totals.claims + totals.held == (
        totals.deposits - totals.withdrawals
    )
    # Spendable money is always backed: held credit mirrors the claims exactly.
    assert totals.held == -totals.claims
    assert totals.balances + totals.reserves == totals.deposits - totals.withdrawals
    return totals.model_dump()


async def setup_pair(ledger: RunningLedger, root: Path) -> tuple[Party, Party]:
    payer, payee = new_party(root, "payer"), new_party(root, "payee")
    await fund(ledger, payer, deposit=100_00, allowance=20_00)
    await trust_ledger(ledger, payee)
    return payer, payee


async def test_a_bundle_synced_50_times_concurrently_by_both_parties_settles_once(
    db_url: str, tmp_path: Path
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        payer, payee = await setup_pair(ledger, tmp_path)
        bundle = base64.b64encode(pay_offline(payer, payee, 12_50)).decode()
        statuses: list[str] = []
        async with payer.client(ledger) as by_payer, payee.client(ledger) as by_payee:

            async def upload(i: int) -> None:
                client = by_payer if i % 2 else by_payee
                answer = await client.sync([bundle], [])
                statuses.append(answer.results[0].status)

            async with anyio.create_task_group() as tg:
                for i in range(50):
                    tg.start_soon(upload, i)
            assert sorted(statuses) == ["duplicate"] * 49 + ["settled"]
            statement = await by_payee.statement()
        assert [(b.currency, b.balance_minor) for b in statement.balances] == [("EUR", 12_50)]
        assert (await conserved(ledger))["reserves"] == 20_00 - 12_50


async def test_the_outbox_of_both_parties_ends_settled_whoever_syncs_first(
    db_url: str, tmp_path: Path
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        payer, payee = await setup_pair(ledger, tmp_path)
        pay_offline(payer, payee, 5_00)
        pay_offline(payer, payee, 7_00)
        for party, expected in ((payer, (2, 0)), (payee, (0, 2))):
            async with party.client(ledger) as client:
                with party.open() as wallet:
                    report = await sync_outbox(wallet.store, client, now=now_s)
                    statuses = {i.status for i in wallet.store.outbox.items()}
            assert (report.settled, report.duplicate) == expected
            assert statuses == {OutboxStatus.SETTLED}
        await conserved(ledger)


async def test_a_payer_without_the_receipt_learns_the_settlement_from_the_ledger(
    db_url: str, tmp_path: Path
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        payer, payee = await setup_pair(ledger, tmp_path)
        pay_offline(payer, payee, 3_00, receipt_lost=True)
        async with payee.client(ledger) as client:
            with payee.open() as wallet:
                assert (await sync_outbox(wallet.store, client, now=now_s)).settled == 1
        async with payer.client(ledger) as client:
            with payer.open() as wallet:
                report = await sync_outbox(wallet.store, client, now=now_s)
                assert report.updated == 1
                assert {i.status for i in wallet.store.outbox.items()} == {OutboxStatus.SETTLED}


async def test_a_fork_across_two_payees_is_fraud_with_a_proof_and_revokes_the_payer(
    db_url: str, tmp_path: Path
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        payer, first = await setup_pair(ledger, tmp_path)
        second, third = new_party(tmp_path, "second"), new_party(tmp_path, "third")
        await trust_ledger(ledger, second)
        await trust_ledger(ledger, third)
        pay_offline(payer, first, 15_00)
        pay_offline(payer, second, 15_00, cheat_head=None)  # counter 1 again: a double spend

        async with first.client(ledger) as client:
            with first.open() as wallet:
                assert (await sync_outbox(wallet.store, client, now=now_s)).settled == 1
        async with second.client(ledger) as client:
            with second.open() as wallet:
                report = await sync_outbox(wallet.store, client, now=now_s)
                assert report.fraud == 1
                assert [i.status for i in wallet.store.outbox.items()] == [OutboxStatus.FRAUD]
        # The proof stands on its own: two payer-signed payments, one chain, one counter.
        (proof,) = report.proofs
        key, counter = FraudProof(first=proof.first, second=proof.second).verify()
        assert counter == 1
        assert open_as(proof.first, Payment).doc.payer == payer.public
        assert key == chain_key(open_as(proof.second, Payment))

        # Both payees are paid: the reserve covered the interval (0, 15.00] once, and the
        # payer's own balance (100.00 - 20.00) paid the double-spent 15.00; 5.00 stays
        # reserved, nothing is owed and nothing is held.
        totals = await conserved(ledger)
        assert (totals["reserves"], totals["claims"], totals["held"]) == (5_00, 0, 0)
        assert totals["balances"] == 100_00 - 5_00

        # The revocation list reaches the next payee, whose offline check now refuses.
        async with third.client(ledger) as client:
            with third.open() as wallet:
                await sync_outbox(wallet.store, client, now=now_s)
                revoked = wallet.store.trust.revoked_keys()
                trusted = wallet.store.trust.issuer_keys()
        assert payer.public in revoked
        with payer.open() as wallet:
            record = wallet.store.allowances.payer_position("EUR").allowance
            assert record is not None
            allowance = open_as(record.signed, Allowance)
        invoice = make_invoice(third.key, amount=1_00, currency="EUR", now=now_s())
        payment = make_payment(payer.key, invoice=invoice, allowance=allowance, head=None)
        with pytest.raises(RemoteProtocolError) as refused:
            check_payment(
                payment.raw,
                invoice=invoice,
                payee_key=third.public,
                trusted_issuers=trusted,
                revoked=revoked,
                now=now_s(),
            )
        assert refused.value.code is ErrorCode.ACCEPT_PAYER_REVOKED


async def test_a_revoked_wallet_gets_no_new_allowance(db_url: str, tmp_path: Path) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        payer, first = await setup_pair(ledger, tmp_path)
        second = new_party(tmp_path, "second")
        await trust_ledger(ledger, second)
        good = pay_offline(payer, first, 1_00)
        fork = pay_offline(payer, second, 2_00, cheat_head=None)
        async with payer.client(ledger) as client:
            answer = await client.sync([base64.b64encode(b).decode() for b in (good, fork)], [])
            assert [r.status for r in answer.results] == ["settled", "fraud"]
            assert answer.revocations.keys == [payer.public.hex()]
            from p2ppay.sync import SyncError

            with pytest.raises(SyncError) as refused:
                await client.request_allowance(currency="EUR", amount_minor=1_00)
        assert refused.value.remote == "LEDGER_WALLET_REVOKED"


async def test_a_bundle_from_another_issuer_is_rejected_with_its_code(
    db_url: str, tmp_path: Path
) -> None:
    from tests.world import make_homes

    homes = make_homes(tmp_path / "dev")  # a development issuer the ledger does not know
    with homes.open_payer() as payer_wallet, homes.open_payee() as payee_wallet:
        payer = Party(home=homes.payer, key=payer_wallet.identity.signing_key)
        payee = Party(home=homes.payee, key=payee_wallet.identity.signing_key)
    async with running_ledger(db_url=db_url) as ledger:
        bundle = pay_offline(payer, payee, 1_00)
        async with payee.client(ledger) as client:
            await client.register()
            answer = await client.sync([base64.b64encode(bundle).decode()], [])
        (result,) = answer.results
        assert (result.status, result.error) == ("rejected", "DOC_UNTRUSTED_ISSUER")
        assert result.code == int(ErrorCode.DOC_UNTRUSTED_ISSUER)


async def test_a_malformed_bundle_is_rejected_not_an_error(db_url: str, tmp_path: Path) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        party = new_party(tmp_path, "p")
        async with party.client(ledger) as client:
            await client.register()
            answer = await client.sync([base64.b64encode(b"\x83\x41a").decode()], [])
        assert [(r.status, r.error) for r in answer.results] == [("rejected", "BUNDLE_MALFORMED")]


async def test_bundles_verified_on_worker_processes_get_the_same_answers(
    tmp_path: Path,
) -> None:
    from p2ppay.ledger.service import LedgerConfig, LedgerService

    async with running_ledger(db_url=f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        payer, payee = await setup_pair(ledger, tmp_path)
        bundles = [pay_offline(payer, payee, 1_00) for _ in range(10)]
        bundles += [b"\x83\x41a", bundles[0]]
        issuer_key = ledger.service.issuer_key
    config = LedgerConfig(
        db_url=f"sqlite:///{tmp_path / 'l.db'}", admin_token="t", clock=now_s, verify_workers=2
    )
    service = await LedgerService.open(config)
    try:
        assert service.issuer_key == issuer_key
        answer = await service.sync(payee.public, bundles * 2, [])
    finally:
        await service.close()
    statuses = [(o.status.value, o.error) for o in answer.outcomes]
    assert statuses[:12] == [("settled", None)] * 10 + [
        ("rejected", "BUNDLE_MALFORMED"),
        ("duplicate", None),
    ]
    assert statuses[12:] == [("duplicate", None)] * 10 + [
        ("rejected", "BUNDLE_MALFORMED"),
        ("duplicate", None),
    ]


async def test_a_double_spend_uploaded_twice_in_one_batch_is_fraud_both_times(
    db_url: str, tmp_path: Path
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        payer, first = await setup_pair(ledger, tmp_path)
        second = new_party(tmp_path, "second")
        await trust_ledger(ledger, second)
        good = pay_offline(payer, first, 1_00)
        fork = pay_offline(payer, second, 2_00, cheat_head=None)
        async with second.client(ledger) as client:
            answer = await client.sync(
                [base64.b64encode(b).decode() for b in (good, fork, fork)], []
            )
        assert [r.status for r in answer.results] == ["settled", "fraud", "fraud"]
        assert answer.results[1].proof == answer.results[2].proof is not None
        assert (await conserved(ledger))["claims"] == 0  # the reserve still covered 3.00


async def test_both_parties_syncing_their_outboxes_at_once_settle_each_payment_once(
    db_url: str, tmp_path: Path
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        payer, payee = await setup_pair(ledger, tmp_path)
        for _ in range(50):
            pay_offline(payer, payee, 10)
        reports = {}

        async def sync(party: Party) -> None:
            async with party.client(ledger) as client:
                with party.open() as wallet:
                    reports[party.home] = await sync_outbox(
                        wallet.store, client, now=now_s, batch_size=5
                    )

        async with anyio.create_task_group() as tg:
            tg.start_soon(sync, payer)
            tg.start_soon(sync, payee)
        settled = sum(r.settled for r in reports.values())
        duplicate = sum(r.duplicate for r in reports.values())
        assert (settled, duplicate) == (50, 50)
        async with payee.client(ledger) as client:
            (eur,) = (await client.statement()).balances
        assert eur.balance_minor == 50 * 10
        await conserved(ledger)


async def test_a_wallet_that_never_registered_is_registered_by_its_first_sync(
    tmp_path: Path,
) -> None:
    async with running_ledger() as ledger:
        payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")
        await fund(ledger, payer, deposit=10_00, allowance=10_00)
        async with payee.client(ledger) as client:
            from p2ppay.sync import SyncError

            with pytest.raises(SyncError) as refused:  # the raw call: refused, nothing checked
                await client.sync([], [])
            assert refused.value.remote == "LEDGER_UNKNOWN_ACCOUNT"
            with payee.open() as wallet:
                await sync_outbox(wallet.store, client, now=now_s)  # registers, then syncs
                assert wallet.store.trust.issuer_keys()
