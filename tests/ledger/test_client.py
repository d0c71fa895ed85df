"""The sync client: retries with backoff, refusals, bad answers (injected httpx transports),
and a sync that resumes after the link failed mid-way (a real server behind a flaky link)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from nacl.signing import SigningKey

from p2ppay.api.signing import HEADER_NONCE
from p2ppay.ledger import running_ledger
from p2ppay.ledger.auth import check_request
from p2ppay.store import OutboxStatus
from p2ppay.sync import LedgerClient, RetryPolicy, SyncError, sync_outbox
from tests.ledger.world import fund, new_party, now_s, pay_offline, trust_ledger

pytestmark = pytest.mark.anyio

ACCOUNT = {"wallet": "ab" * 32, "wallet_id": "W-0000-0000-0000-0000", "created": True}


class Script:
    """A MockTransport handler answering from a list, recording every request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client_for(script: Script, sleeps: list[float]) -> LedgerClient:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return LedgerClient(
        "https://ledger.test",
        SigningKey.generate(),
        transport=httpx.MockTransport(script),
        retry=RetryPolicy(attempts=4, base_delay=0.5, max_delay=1.5),
        sleep=sleep,
    )


async def test_a_failed_call_is_retried_with_growing_delays_and_fresh_nonces() -> None:
    script = Script(
        httpx.ConnectError("down"),
        httpx.Response(503, json={"error": "LEDGER_STORAGE", "code": 2010, "message": "x"}),
        httpx.Response(429),
        httpx.Response(200, json=ACCOUNT),
    )
    sleeps: list[float] = []
    async with client_for(script, sleeps) as client:
        account = await client.register()
    assert account.wallet_id == ACCOUNT["wallet_id"]
    assert sleeps == [0.5, 1.0, 1.5]
    assert len({r.headers[HEADER_NONCE] for r in script.requests}) == 4


async def test_every_attempt_carries_a_valid_signature() -> None:
    script = Script(httpx.ConnectError("down"), httpx.Response(200, json=ACCOUNT))
    async with client_for(script, []) as client:
        await client.register()
    for request in script.requests:
        check_request(request.headers, method="POST", path="/v1/accounts", body=request.content)


async def test_no_answer_after_every_attempt_is_unreachable() -> None:
    script = Script(*[httpx.ReadTimeout("slow") for _ in range(4)])
    with pytest.raises(SyncError) as failed:
        async with client_for(script, []) as client:
            await client.register()
    assert failed.value.code.name == "SYNC_UNREACHABLE"


async def test_a_refusal_is_not_retried_and_carries_the_ledger_code() -> None:
    refusal = {"error": "LEDGER_REPLAY", "code": 2002, "message": "used"}
    script = Script(httpx.Response(401, json=refusal))
    with pytest.raises(SyncError) as refused:
        async with client_for(script, []) as client:
            await client.register()
    assert (refused.value.code.name, refused.value.remote) == ("SYNC_REFUSED", "LEDGER_REPLAY")
    assert len(script.requests) == 1


async def test_an_allowance_request_is_never_sent_twice() -> None:
    script = Script(httpx.Response(503), httpx.Response(200, json={}))
    with pytest.raises(SyncError) as failed:
        async with client_for(script, []) as client:
            await client.request_allowance(currency="EUR", amount_minor=100)
    assert failed.value.code.name == "SYNC_UNREACHABLE"
    assert len(script.requests) == 1


async def test_an_answer_that_is_not_the_api_is_a_bad_answer() -> None:
    script = Script(httpx.Response(200, content=json.dumps({"wallet": 1}).encode()))
    with pytest.raises(SyncError) as failed:
        async with client_for(script, []) as client:
            await client.register()
    assert failed.value.code.name == "SYNC_BAD_ANSWER"


class BreakAfter(httpx.AsyncBaseTransport):
    """A real HTTP transport whose link dies for good after ``n`` sync requests."""

    def __init__(self, n: int) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.left = n

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/sync":
            if self.left == 0:
                raise httpx.ConnectError("link down")
            self.left -= 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_sync_cut_mid_way_resumes_where_it_stopped(tmp_path: Path) -> None:
    async with running_ledger(db_url=f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")
        await fund(ledger, payer, deposit=50_00, allowance=50_00)
        await trust_ledger(ledger, payee)
        for _ in range(5):
            pay_offline(payer, payee, 1_00)
        no_retry = RetryPolicy(attempts=1)
        progress: list[tuple[int, int]] = []
        with payee.open() as wallet:
            async with LedgerClient(
                ledger.url, payee.key, transport=BreakAfter(2), retry=no_retry
            ) as client:
                with pytest.raises(SyncError):
                    await sync_outbox(
                        wallet.store,
                        client,
                        now=now_s,
                        batch_size=2,
                        progress=lambda done, total: progress.append((done, total)),
                    )
            statuses = [i.status for i in wallet.store.outbox.items()]
            assert progress == [(2, 5), (4, 5)]
            assert statuses.count(OutboxStatus.SETTLED) == 4
            async with LedgerClient(ledger.url, payee.key, retry=no_retry) as client:
                report = await sync_outbox(wallet.store, client, now=now_s, batch_size=2)
            assert (report.settled, report.duplicate) == (1, 0)
            assert {i.status for i in wallet.store.outbox.items()} == {OutboxStatus.SETTLED}
