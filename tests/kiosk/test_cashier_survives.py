"""One job's unexpected exception never stops the kiosk (issue 11, item 3, the kiosk part).

A hostile payer's value the store cannot hold (issue 11: a counter >= 2**63 raised
``OverflowError`` while the payment was stored) used to escape the cashier and kill the
daemon. Here the failure is injected at that real seam, the kiosk's store call inside the
payment, and once after the payment (where the cashier reads the outcome back): the request
ends as the store says (``failed`` with KIOSK_JOB_CRASHED when nothing was kept), the
traceback is logged, and the next customer pays.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gatt.bumble_backend import loop_radio
from p2ppay.wallet import Wallet
from tests.kiosk.kit import (
    customers,
    kiosk_config,
    make_shop,
    pos_client,
    running_kiosk,
    short_socket_dir,
    wait_final,
)

pytestmark = pytest.mark.anyio


def _fail_once(wallet: Wallet, method: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make ``wallet.store.payments.<method>`` raise OverflowError on its first call."""
    payments = wallet.store.payments
    real: Callable[..., Any] = getattr(payments, method)
    calls: list[int] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return real(*args, **kwargs)

    monkeypatch.setattr(payments, method, failing)
    return calls


@pytest.mark.parametrize(
    "case",
    [
        # Inside the payment: nothing was stored, the request failed.
        ("persist_incoming", "failed", "KIOSK_JOB_CRASHED"),
        # After it (reading the outcome back): the store holds the completed payment.
        ("receipt", "completed", None),
    ],
)
async def test_an_exception_in_one_job_ends_that_request_and_the_next_customer_pays(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    case: tuple[str, str, str | None],
) -> None:
    seam, state, error = case
    shop = make_shop(tmp_path, payers=2)
    socket = short_socket_dir() / "api.sock"
    with shop.open_kiosk_wallet() as wallet:
        calls = _fail_once(wallet, seam, monkeypatch)
        async with (
            customers(shop, loop_radio(), [-40, -40]) as people,
            running_kiosk(kiosk_config(shop, socket), wallet) as kiosk,
            pos_client(socket) as pos,
        ):
            with caplog.at_level(logging.ERROR, logger="p2ppay.kiosk"):
                first = await pos.post("/invoices", json={"amount": "2.00", "tag": people[0].tag})
                crashed = (await wait_final(pos, first.json()["id"]))["final"]
            health = await pos.get("/healthz")
            second = await pos.post("/invoices", json={"amount": "3.00", "tag": people[1].tag})
            paid = (await wait_final(pos, second.json()["id"]))["final"]
            status = (await pos.get(f"/invoices/{first.json()['id']}")).json()
        assert calls, "the injected failure was never reached"
        assert (crashed["state"], crashed["error"]) == (state, error)
        assert status["state"] == state
        assert health.status_code == 200 and kiosk.cashier.current is None
        assert paid["state"] == "completed"
        crash_lines = [r for r in caplog.records if r.getMessage() == "payment request crashed"]
        assert crash_lines and crash_lines[0].exc_info is not None
        assert crash_lines[0].exc_info[0] is OverflowError
        # Nothing half-done: no session left open, and only stored money is counted.
        assert wallet.store.sessions.unfinished() == []
        first_id = bytes.fromhex(first.json()["id"])
        assert (wallet.store.payments.payment(first_id) is not None) == (state == "completed")
        received = 500 if state == "completed" else 300
        assert kiosk.metrics.received["EUR"] == received
