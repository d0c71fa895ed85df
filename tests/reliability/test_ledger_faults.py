"""The ledger killed (SIGKILL) in the middle of a sync batch, and PostgreSQL restarted under
sync load: the clients' retries settle every payment exactly once, the stores and the
ledger agree, and conservation holds. Also: a ledger request with a bad signature, and a
replayed one, move no money.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from p2ppay.api.signing import sign_request
from p2ppay.ledger import running_ledger
from p2ppay.sync import AdminClient, LedgerClient, RetryPolicy, sync_outbox
from tests.ledger.pg import PgServer, create_database, start_postgres
from tests.ledger.world import Party, fund, new_party, now_s, pay_offline, trust_ledger
from tests.reliability.conftest import RunCount
from tests.reliability.invariants import LEDGER_INVARIANTS
from tests.reliability.ledger_process import LedgerProcess, restart_postgres

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

PAYMENTS = 24
BATCH = 3
PATIENT = RetryPolicy(attempts=120, base_delay=0.05, max_delay=0.5, timeout=10)
"""Retries that outlast a ledger restart (the ledger takes a second or two to come back)."""


def patient(party: Party, url: str) -> LedgerClient:
    return LedgerClient(url, party.key, retry=PATIENT, clock=now_s)


async def _funded(root: Path, ledger: LedgerProcess) -> tuple[Party, Party, dict[bytes, int]]:
    payer, payee = new_party(root, "payer"), new_party(root, "payee")
    await fund(ledger, payer, deposit=100_00, allowance=50_00)
    await trust_ledger(ledger, payee)
    for _ in range(PAYMENTS):
        pay_offline(payer, payee, 1_00)
    with payee.open() as wallet:
        pending = {i.invoice_id: 1_00 for i in wallet.store.outbox.items()}
    return payer, payee, pending


async def _sync(party: Party, url: str, batches: list[int] | None = None) -> None:
    async with patient(party, url) as client:
        with party.open() as wallet:
            await sync_outbox(
                wallet.store,
                client,
                now=now_s,
                batch_size=BATCH,
                progress=None if batches is None else (lambda done, _t: batches.append(done)),
            )


async def _all_settled_once(ledger: LedgerProcess, payer: Party, payee: Party) -> None:
    async with AdminClient(ledger.url, ledger.admin_token) as admin:
        eur = (await admin.totals()).currencies["EUR"]
    # Backing: every claim is someone's held credit; spendable money = deposits - withdrawals.
    assert eur.held == -eur.claims, eur
    assert eur.balances + eur.reserves == eur.deposits - eur.withdrawals, eur
    async with patient(payee, ledger.url) as client:
        (balance,) = (await client.statement()).balances
    assert balance.balance_minor == PAYMENTS * 1_00
    async with patient(payer, ledger.url) as client:
        (balance,) = (await client.statement()).balances
    assert balance.reserve_minor == 50_00 - PAYMENTS * 1_00
    for party in (payer, payee):
        with party.open() as wallet:
            statuses = {i.status.value for i in wallet.store.outbox.items()}
            assert statuses == {"settled"}, statuses


@pytest.fixture
def ledger_process(tmp_path: Path) -> Iterator[LedgerProcess]:
    ledger = LedgerProcess(db_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    ledger.start()
    try:
        yield ledger
    finally:
        ledger.stop()


@pytest.mark.reliability(
    "crash",
    "ledger process SIGKILLed in the middle of a sync batch (24 payments, batches of 3), "
    "restarted on the same SQLite file",
    expect="the client's retries settle every payment exactly once; conservation holds",
    invariants=LEDGER_INVARIANTS,
)
@pytest.mark.parametrize("seed", range(3))
async def test_a_ledger_killed_mid_batch_settles_everything_once_after_restart(
    tmp_path: Path, ledger_process: LedgerProcess, seed: int, runs: RunCount
) -> None:
    payer, payee, _ = await _funded(tmp_path, ledger_process)
    rng = random.Random(seed)
    after_batch = rng.randint(1, PAYMENTS // BATCH - 2)
    batches: list[int] = []
    killed_after: list[int] = []

    def killer() -> None:
        while len(batches) < after_batch:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.03))  # somewhere inside the next batch's request
        ledger_process.kill()
        killed_after.append(len(batches))
        ledger_process.start()

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        await _sync(payee, ledger_process.url, batches)
    finally:
        thread.join()
    assert ledger_process.kills == 1
    assert killed_after[0] < PAYMENTS // BATCH  # the sync was still running
    await _sync(payer, ledger_process.url)
    await _all_settled_once(ledger_process, payer, payee)
    runs.add(PAYMENTS)


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PgServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.reliability(
    "crash",
    "PostgreSQL restarted (fast shutdown) while both wallets sync 24 payments through the ledger",
    expect="the clients' retries settle every payment exactly once; conservation holds",
    invariants=LEDGER_INVARIANTS,
)
async def test_postgres_restarted_under_load_settles_everything_once(
    tmp_path: Path, own_postgres: PgServer, runs: RunCount
) -> None:
    db_url = await create_database(own_postgres, f"r_{uuid.uuid4().hex[:16]}")
    ledger = LedgerProcess(db_url=db_url)
    ledger.start()
    try:
        payer, payee, _ = await _funded(tmp_path, ledger)
        batches: list[int] = []
        restarted_after: list[int] = []

        def restarter() -> None:
            while len(batches) < 2:
                time.sleep(0.001)
            restarted_after.append(len(batches))
            restart_postgres(own_postgres)

        thread = threading.Thread(target=restarter)
        thread.start()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_sync, payee, ledger.url, batches)
                tg.start_soon(_sync, payer, ledger.url)
        finally:
            thread.join()
        assert restarted_after[0] < PAYMENTS // BATCH  # the load was still running
        await _sync(payee, ledger.url)  # whatever a refused batch left pending
        await _sync(payer, ledger.url)
        await _all_settled_once(ledger, payer, payee)
        runs.add(PAYMENTS)
    finally:
        ledger.stop()


# --- ledger requests an attacker replays or forges -----------------------------------------


async def _money(url: str, token: str) -> object:
    async with AdminClient(url, token) as admin:
        return (await admin.totals()).currencies


@pytest.mark.reliability(
    "attack",
    "ledger request with a bad signature (a sync carrying a real bundle, signed by another key "
    "than the one it names)",
    expect="401 LEDGER_UNAUTHENTICATED; the ledger's money unchanged; nothing settled",
)
async def test_a_ledger_request_with_a_bad_signature_moves_no_money(tmp_path: Path) -> None:
    async with running_ledger(db_url=f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")
        mallory = new_party(tmp_path, "mallory")
        await fund(ledger, payer, deposit=100_00, allowance=50_00)
        await trust_ledger(ledger, payee)
        bundle = base64.b64encode(pay_offline(payer, payee, 5_00)).decode()
        body = json.dumps({"bundles": [bundle], "query": []}).encode()
        headers = sign_request(mallory.key, method="POST", path="/v1/sync", body=body, now=now_s())
        headers["X-P2PPay-Key"] = payee.public.hex()  # claims to be the payee
        before = await _money(ledger.url, ledger.admin_token)
        async with httpx.AsyncClient(base_url=ledger.url) as http:
            response = await http.post(
                "/v1/sync", content=body, headers={**headers, "content-type": "application/json"}
            )
        assert (response.status_code, response.json()["error"]) == (401, "LEDGER_UNAUTHENTICATED")
        assert await _money(ledger.url, ledger.admin_token) == before


@pytest.mark.reliability(
    "attack",
    "ledger request replayed (a captured, genuinely signed allowance request sent again)",
    expect="401 LEDGER_REPLAY; no second reserve is taken",
)
async def test_a_replayed_ledger_request_moves_no_money(tmp_path: Path) -> None:
    async with running_ledger(db_url=f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        payer = new_party(tmp_path, "payer")
        await fund(ledger, payer, deposit=100_00)
        body = json.dumps({"currency": "EUR", "amount_minor": 10_00}).encode()
        headers = sign_request(
            payer.key, method="POST", path="/v1/allowances", body=body, now=now_s()
        )
        headers["content-type"] = "application/json"
        async with httpx.AsyncClient(base_url=ledger.url) as http:
            first = await http.post("/v1/allowances", content=body, headers=headers)
            assert first.status_code == 200, first.text
            after_first = await _money(ledger.url, ledger.admin_token)
            replay = await http.post("/v1/allowances", content=body, headers=headers)
        assert (replay.status_code, replay.json()["error"]) == (401, "LEDGER_REPLAY")
        assert await _money(ledger.url, ledger.admin_token) == after_first
        async with payer.client(ledger) as client:
            (balance,) = (await client.statement()).balances
        assert (balance.balance_minor, balance.reserve_minor) == (90_00, 10_00)
