"""A participant running modified software cannot get out of the ledger money nobody put in.

Invariant (what a user cares about): spendable money is always backed,
``sum(balance) + sum(reserve) <= deposits - withdrawals`` (here always equal, since every
claim is held by exactly one creditor); every payment an honest payee accepted is credited
to it exactly once (spendable or held); a cheater that signed two inconsistent payments is
revoked, with a proof anyone checks alone. Each attack runs end to end: real keys, a real
ledger over HTTP on loopback, SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from p2ppay.api.schemas import ResultOut
from p2ppay.ledger import RunningLedger, running_ledger
from p2ppay.sync import AdminClient, LedgerClient, SyncError
from protocol.chain import FraudProof
from protocol.documents import Allowance, Payment
from protocol.errors import ErrorCode
from protocol.verify import SignedDocument, open_as, open_document
from tests.ledger.cheater import b64, signed_payment
from tests.ledger.world import FAST_RETRY, fund, new_party, now_s, pay_offline, trust_ledger

pytestmark = pytest.mark.anyio

GRACE = 3600


async def backed(ledger: RunningLedger) -> dict[str, int]:
    """EUR totals, after checking that spendable money is backed by deposits."""
    async with AdminClient(ledger.url, ledger.admin_token) as admin:
        t = (await admin.totals()).currencies["EUR"]
    assert t.balances >= 0 and t.reserves >= 0 and t.held >= 0 and t.claims <= 0
    assert t.balances + t.reserves <= t.deposits - t.withdrawals
    assert t.balances + t.reserves + t.claims + t.held == t.deposits - t.withdrawals
    assert t.held == -t.claims
    return t.model_dump()


def client(ledger: RunningLedger, key: SigningKey, clock: list[int] | None = None) -> LedgerClient:
    return LedgerClient(
        ledger.url, key, retry=FAST_RETRY, clock=(lambda: clock[0]) if clock else now_s
    )


async def cheater_with_allowance(
    ledger: RunningLedger,
    key: SigningKey,
    amount: int,
    *,
    clock: list[int] | None = None,
    valid_for: int | None = None,
    deposit: bool = True,
) -> SignedDocument[Allowance]:
    async with client(ledger, key, clock) as c:
        await c.register()
        if deposit:
            async with AdminClient(ledger.url, ledger.admin_token) as admin:
                await admin.deposit(bytes(key.verify_key).hex(), amount, "EUR")
        issued = await c.request_allowance(currency="EUR", amount_minor=amount, valid_for=valid_for)
    return open_as(base64.b64decode(issued.allowance), Allowance)


async def eur_of(
    ledger: RunningLedger, key: SigningKey, clock: list[int] | None = None
) -> dict[str, int]:
    async with client(ledger, key, clock) as c:
        await c.register()
        rows = [b for b in (await c.statement()).balances if b.currency == "EUR"]
    if not rows:
        return {"balance": 0, "reserve": 0, "claims": 0, "held": 0}
    (row,) = rows
    return {
        "balance": row.balance_minor,
        "reserve": row.reserve_minor,
        "claims": row.claims_minor,
        "held": row.held_minor,
    }


def proof_of(result: ResultOut) -> FraudProof:
    proof = result.proof
    assert proof is not None
    return FraudProof(first=base64.b64decode(proof.first), second=base64.b64decode(proof.second))


async def test_twenty_self_payments_are_refused_offline_code_and_move_nothing(
    db_url: str,
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        cheater = SigningKey.generate()
        allowance = await cheater_with_allowance(ledger, cheater, 50_00)
        bundles = [
            signed_payment(
                cheater,
                allowance,
                payee=cheater,
                amount=50_00,
                counter=k,
                spent=50_00,
                now=now_s(),
            )[0]
            for k in range(1, 21)
        ]
        async with client(ledger, cheater) as c:
            answer = await c.sync([b64(b) for b in bundles], [])
        assert {(r.status, r.error) for r in answer.results} == {
            ("rejected", "ACCEPT_SELF_PAYMENT")
        }
        assert answer.results[0].code == int(ErrorCode.ACCEPT_SELF_PAYMENT)
        assert await eur_of(ledger, cheater) == {
            "balance": 0,
            "reserve": 50_00,
            "claims": 0,
            "held": 0,
        }
        await backed(ledger)


async def test_twenty_payments_to_sybils_with_invented_prev_pay_out_only_the_reserve(
    db_url: str,
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        cheater = SigningKey.generate()
        sybils = [SigningKey.generate() for _ in range(20)]
        allowance = await cheater_with_allowance(ledger, cheater, 50_00)
        bundles = [
            signed_payment(
                cheater,
                allowance,
                payee=sybil,
                amount=50_00,
                counter=k,
                spent=50_00,
                now=now_s(),
            )[0]
            for k, sybil in enumerate(sybils, start=1)
        ]
        async with client(ledger, cheater) as c:
            answer = await c.sync([b64(b) for b in bundles], [])
        statuses = [r.status for r in answer.results]
        assert statuses == ["settled"] + ["fraud"] * 19
        for result in answer.results[1:]:
            proof = proof_of(result)
            proof.verify()
            # Independently: both halves open as payments signed by the cheater's key.
            for half in (proof.first, proof.second):
                opened = open_document(half)
                assert isinstance(opened.doc, Payment)
                assert opened.doc.payer == bytes(cheater.verify_key)
            assert FraudProof.decode(proof.encode()) == proof
        views = [await eur_of(ledger, s) for s in sybils]
        assert sum(v["balance"] for v in views) == 50_00  # the reserve, once
        assert sum(v["held"] for v in views) == 19 * 50_00  # credited, never spendable
        assert answer.revocations.keys == [bytes(cheater.verify_key).hex()]
        # The ledger publishes every proof; any wallet checks each in its wire form, alone.
        async with client(ledger, sybils[0]) as c:
            published = (await c.proofs()).fraud
        assert len(published) == 19
        for entry in published:
            assert entry.payer == bytes(cheater.verify_key).hex()
            FraudProof.decode(base64.b64decode(entry.cbor)).verify()
        async with client(ledger, cheater) as c:
            with pytest.raises(SyncError) as refused:
                await c.request_allowance(currency="EUR", amount_minor=1)
        assert refused.value.remote == "LEDGER_WALLET_REVOKED"
        async with AdminClient(ledger.url, ledger.admin_token) as admin:
            rich = sybils[[v["balance"] for v in views].index(50_00)]
            with pytest.raises(SyncError) as short:
                await admin.withdraw(bytes(rich.verify_key).hex(), 50_01, "EUR")
            assert short.value.remote == "LEDGER_INSUFFICIENT_FUNDS"
        totals = await backed(ledger)
        assert totals["deposits"] == 50_00 and totals["balances"] + totals["reserves"] == 50_00


async def test_an_honest_payment_uploaded_after_release_is_not_paid_twice(db_url: str) -> None:
    clock = [now_s()]
    async with running_ledger(db_url=db_url, clock=lambda: clock[0], grace=GRACE) as ledger:
        cheater, sybil = SigningKey.generate(), SigningKey.generate()
        spendable = []
        for cycle in range(3):
            allowance = await cheater_with_allowance(
                ledger, cheater, 50_00, clock=clock, valid_for=600, deposit=cycle == 0
            )
            bundle, _ = signed_payment(
                cheater,
                allowance,
                payee=sybil,
                amount=50_00,
                counter=1,
                spent=50_00,
                now=clock[0],
            )
            clock[0] += 600 + GRACE  # the allowance ends and its reserve is released
            assert (await eur_of(ledger, cheater, clock))["balance"] == 50_00
            async with client(ledger, sybil, clock) as c:
                await c.register()
                (result,) = (await c.sync([b64(bundle)], [])).results
            assert result.status == "settled"
            cheat, syb = await eur_of(ledger, cheater, clock), await eur_of(ledger, sybil, clock)
            spendable.append(cheat["balance"] + cheat["reserve"] + syb["balance"])
            await backed(ledger)
            # The next cycle's allowance needs money the cheater no longer has after the
            # late payment came out of its balance: the loop stops growing.
            if cheat["balance"] < 50_00:
                break
        assert spendable == [50_00]


async def test_a_late_payment_after_a_new_allowance_is_held_not_doubled(db_url: str) -> None:
    clock = [now_s()]
    async with running_ledger(db_url=db_url, clock=lambda: clock[0], grace=GRACE) as ledger:
        cheater, sybil = SigningKey.generate(), SigningKey.generate()
        allowance = await cheater_with_allowance(ledger, cheater, 50_00, clock=clock, valid_for=600)
        bundle, _ = signed_payment(
            cheater,
            allowance,
            payee=sybil,
            amount=50_00,
            counter=1,
            spent=50_00,
            now=clock[0],
        )
        clock[0] += 600 + GRACE
        # The released 50.00 goes into a new allowance before the sybil uploads.
        await cheater_with_allowance(ledger, cheater, 50_00, clock=clock, deposit=False)
        async with client(ledger, sybil, clock) as c:
            await c.register()
            (result,) = (await c.sync([b64(bundle)], [])).results
        assert result.status == "settled"
        assert await eur_of(ledger, sybil, clock) == {
            "balance": 0,
            "reserve": 0,
            "claims": 0,
            "held": 50_00,
        }
        assert (await eur_of(ledger, cheater, clock))["claims"] == -50_00
        totals = await backed(ledger)
        assert totals["balances"] + totals["reserves"] == 50_00


@pytest.mark.parametrize("honest_first", [True, False])
async def test_overlapping_intervals_in_any_order_are_fraud_and_credit_the_honest_payee_once(
    db_url: str, tmp_path: Path, honest_first: bool
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        cheater, honest = new_party(tmp_path, "cheater"), new_party(tmp_path, "honest")
        sybil = SigningKey.generate()
        await fund(ledger, cheater, deposit=50_00, allowance=50_00)
        await trust_ledger(ledger, honest)
        good = pay_offline(cheater, honest, 30_00)  # counter 1: (0, 30.00]
        with cheater.open() as wallet:
            state = wallet.store.allowances.payer_position("EUR")
            assert state.allowance is not None
            allowance = open_as(state.allowance.signed, Allowance)
        # Counter 2 with an invented prev, claiming (0, 40.00]: overlaps counter 1.
        bad, _ = signed_payment(
            cheater.key,
            allowance,
            payee=sybil,
            amount=40_00,
            counter=2,
            spent=40_00,
            now=now_s(),
        )
        order = [(honest.key, good), (sybil, bad)]
        if not honest_first:
            order.reverse()
        statuses = []
        for key, bundle in order:
            async with client(ledger, key) as c:
                await c.register()
                (result,) = (await c.sync([b64(bundle)], [])).results
            statuses.append(result.status)
        assert statuses == ["settled", "fraud"]
        proof = proof_of(result)
        proof.verify()
        honest_view = await eur_of(ledger, honest.key)
        assert honest_view["balance"] + honest_view["held"] == 30_00  # credited exactly once
        sybil_view = await eur_of(ledger, sybil)
        assert sybil_view["balance"] + sybil_view["held"] == 40_00
        totals = await backed(ledger)
        assert totals["balances"] + totals["reserves"] == 50_00
        async with client(ledger, honest.key) as c:
            revoked = (await c.revocations()).keys
        assert revoked == [cheater.public.hex()]


async def test_an_honest_chain_settles_in_any_order_without_waiting(
    db_url: str, tmp_path: Path
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        payer = new_party(tmp_path, "payer")
        first, second = new_party(tmp_path, "first"), new_party(tmp_path, "second")
        await fund(ledger, payer, deposit=50_00, allowance=50_00)
        for payee in (first, second):
            await trust_ledger(ledger, payee)
        one = pay_offline(payer, first, 30_00)
        two = pay_offline(payer, second, 20_00)
        for party, bundle in ((second, two), (first, one)):  # counter 2 arrives first
            async with client(ledger, party.key) as c:
                (result,) = (await c.sync([b64(bundle)], [])).results
            assert result.status == "settled"
        assert (await eur_of(ledger, second.key))["balance"] == 20_00
        assert (await eur_of(ledger, first.key))["balance"] == 30_00
        totals = await backed(ledger)
        assert totals["claims"] == 0 and totals["reserves"] == 0


async def test_the_operator_guarantee_releases_held_credit_and_takes_over_the_debt(
    db_url: str,
) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        cheater, a, b = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
        allowance = await cheater_with_allowance(ledger, cheater, 10_00)
        bundles = [
            signed_payment(
                cheater,
                allowance,
                payee=p,
                amount=10_00,
                counter=1,
                spent=10_00,
                now=now_s(),
            )[0]
            for p in (a, b)
        ]
        async with client(ledger, a) as c:
            await c.register()
            await c.sync([b64(x) for x in bundles], [])
        held_by = b if (await eur_of(ledger, b))["held"] else a
        wallet = bytes(held_by.verify_key).hex()
        async with AdminClient(ledger.url, ledger.admin_token) as admin:
            with pytest.raises(SyncError) as short:
                await admin.release_held(wallet, 10_00, "EUR", "unfunded guarantee")
            assert short.value.remote == "LEDGER_INSUFFICIENT_FUNDS"
            await admin.deposit("guarantee", 25_00, "EUR")
            with pytest.raises(SyncError) as too_much:
                await admin.release_held(wallet, 10_01, "EUR", "more than held")
            assert too_much.value.remote == "LEDGER_BAD_REQUEST"
            out = await admin.release_held(wallet, 10_00, "EUR", "ticket 42: goodwill")
            assert [(x.balance_minor, x.held_minor) for x in out.balances] == [(10_00, 0)]
            await backed(ledger)
            # The cheater repays later: the guarantee gets its money back.
            await admin.deposit(bytes(cheater.verify_key).hex(), 10_00, "EUR")
            guarantee = await admin.deposit("guarantee", 1, "EUR")
        assert [(x.balance_minor, x.held_minor) for x in guarantee.balances] == [(25_00 + 1, 0)]
        await backed(ledger)
