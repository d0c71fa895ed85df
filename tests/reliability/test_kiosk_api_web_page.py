"""A web page in the kiosk's browser (or any local program) against the kiosk's
point-of-sale API on TCP: every cross-site, untokened, non-JSON or rebound request is refused
with its own code, and creates, cancels or reads nothing (issue: a page could create invoices
the nearest customer pays and cancel the cashier's)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from p2ppay.errors import AppErrorCode
from tests.kiosk.kit import tcp_client
from tests.kiosk.test_web_page_attacks import ATTACKS, BODY, _invoices, _tcp_kiosk

pytestmark = pytest.mark.anyio


@pytest.mark.reliability(
    "attack",
    "a web page or local program posting to the kiosk API (text/plain, cross-site Origin or "
    "Sec-Fetch-Site, no or wrong token, rebound Host)",
    expect="KIOSK_CROSS_SITE / KIOSK_UNAUTHORIZED / KIOSK_NOT_JSON / KIOSK_BAD_HOST; no invoice "
    "created, cancelled or read; the kiosk keeps serving its point of sale",
)
@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_a_web_page_can_neither_create_nor_cancel_an_invoice(
    tmp_path: Path, attack: str
) -> None:
    headers, host, status, error = ATTACKS[attack]
    async with _tcp_kiosk(tmp_path) as (kiosk, wallet, port), tcp_client(port) as pos:
        # The point of sale's own invoice, waiting for its customer.
        mine = (await pos.post("/invoices", json={"amount": "1.00"})).json()["id"]
        before = _invoices(wallet)
        sent = dict(headers)
        if host is not None:
            sent["Host"] = host.format(port=port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as page:
            created = await page.post("/invoices", content=BODY, headers=sent)
            cancel = await page.post(f"/invoices/{mine}/cancel", content="", headers=sent)
            read = await page.get(f"/invoices/{mine}", headers=sent)
        for answer in (created, cancel):
            assert (answer.status_code, answer.json()["error"]) == (status, error), answer.text
            assert answer.json()["code"] == int(AppErrorCode[error])
        if error != "KIOSK_NOT_JSON":  # a GET has no body: the other checks refuse it too
            assert (read.status_code, read.json()["error"]) == (status, error)
        assert _invoices(wallet) == before
        assert kiosk.metrics.requests == 1
        still = (await pos.get(f"/invoices/{mine}")).json()
        assert still["state"] in {"queued", "scanning"}
        assert (await pos.post(f"/invoices/{mine}/cancel")).json()["state"] == "cancelled"
