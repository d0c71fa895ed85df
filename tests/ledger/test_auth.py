"""Request authentication on a real server: signed wallet calls, replays, admin token."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nacl.signing import SigningKey

from p2ppay.api.signing import sign_request
from p2ppay.ledger import running_ledger
from tests.ledger.world import now_s

pytestmark = pytest.mark.anyio


def signed(
    key: SigningKey, path: str, body: bytes = b"", *, now: int | None = None
) -> dict[str, str]:
    headers = sign_request(key, method="POST", path=path, body=body, now=now or now_s())
    return {**headers, "content-type": "application/json"}


async def post(url: str, path: str, headers: dict[str, str], body: bytes = b"") -> httpx.Response:
    async with httpx.AsyncClient(base_url=url) as client:
        return await client.post(path, content=body, headers=headers)


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


async def test_a_replayed_request_is_refused(db_url: str) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        headers = signed(SigningKey.generate(), "/v1/accounts")
        assert (await post(ledger.url, "/v1/accounts", headers)).status_code == 200
        replay = await post(ledger.url, "/v1/accounts", headers)
        assert error_of(replay) == (401, "LEDGER_REPLAY")


async def test_a_request_outside_the_clock_window_is_refused(db_url: str) -> None:
    async with running_ledger(db_url=db_url) as ledger:
        headers = signed(SigningKey.generate(), "/v1/accounts", now=now_s() - 3600)
        response = await post(ledger.url, "/v1/accounts", headers)
        assert error_of(response) == (401, "LEDGER_STALE_REQUEST")


async def test_a_body_changed_after_signing_is_refused(tmp_path: Path) -> None:
    async with running_ledger(db_url=f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        body = json.dumps({"bundles": [], "query": []}).encode()
        headers = signed(SigningKey.generate(), "/v1/sync", body)
        tampered = body.replace(b"[]", b"[ ]", 1)
        response = await post(ledger.url, "/v1/sync", headers, tampered)
        assert error_of(response) == (401, "LEDGER_UNAUTHENTICATED")


async def test_a_signature_for_another_path_is_refused(tmp_path: Path) -> None:
    async with running_ledger(db_url=f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        headers = signed(SigningKey.generate(), "/v1/allowances")
        response = await post(ledger.url, "/v1/accounts", headers)
        assert error_of(response) == (401, "LEDGER_UNAUTHENTICATED")


async def test_an_unsigned_wallet_call_is_refused(tmp_path: Path) -> None:
    async with running_ledger(db_url=f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        response = await post(ledger.url, "/v1/accounts", {})
        assert error_of(response) == (401, "LEDGER_UNAUTHENTICATED")


@pytest.mark.parametrize("token", [None, "wrong", "x"])
async def test_an_admin_call_needs_the_admin_token(tmp_path: Path, token: str | None) -> None:
    async with running_ledger(db_url=f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        headers = {} if token is None else {"authorization": f"Bearer {token}"}
        body = json.dumps({"wallet": "00" * 32, "amount_minor": 1, "currency": "EUR"}).encode()
        response = await post(ledger.url, "/v1/admin/deposits", headers, body)
        assert error_of(response) == (403, "LEDGER_FORBIDDEN")


async def test_malformed_json_is_a_400_with_the_error_body(tmp_path: Path) -> None:
    async with running_ledger(db_url=f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        body = b"{not json"
        response = await post(
            ledger.url, "/v1/sync", signed(SigningKey.generate(), "/v1/sync", body), body
        )
        assert error_of(response) == (400, "LEDGER_BAD_REQUEST")


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_over_the_limit_is_refused(tmp_path: Path, chunked: bool) -> None:
    async with running_ledger(db_url=f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        body = b'{"bundles": ["' + b"A" * (5 * 1024 * 1024) + b'"]}'
        headers = signed(SigningKey.generate(), "/v1/sync", body)

        async def stream() -> AsyncIterator[bytes]:
            for i in range(0, len(body), 65536):
                yield body[i : i + 65536]

        async with httpx.AsyncClient(base_url=ledger.url) as client:
            response = await client.post(
                "/v1/sync", content=stream() if chunked else body, headers=headers
            )
        assert error_of(response) == (413, "LEDGER_BATCH_TOO_LARGE")
