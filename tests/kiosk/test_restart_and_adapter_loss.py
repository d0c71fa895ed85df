"""The kiosk as a real process on Bumble's TCP-hosted controllers: killed in the middle of a
payment and restarted, and its adapter (the controller process) stopped and restarted."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from gatt.link import Peripheral
from p2ppay.roles import AutoApprove, Decision, PayerRole, SessionOutcome
from p2ppay.roles.crashpoints import CRASH_EXIT_CODE
from p2ppay.roles.radio import payer_peripheral
from p2ppay.wallet import Wallet
from protocol.session import Timeouts
from tests.kiosk.kit import HeldApproval, make_shop, pos_client, short_socket_dir, wait_final
from tests.kiosk.process import (
    Controllers,
    start_kiosk,
    stop,
    wait_health,
    wait_state,
    write_config,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@asynccontextmanager
async def payer_on(adapter: str) -> AsyncIterator[Peripheral]:
    peripheral = payer_peripheral(adapter)
    await peripheral.start()
    try:
        yield peripheral
    finally:
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            await peripheral.aclose()


async def serve_once(wallet: Wallet, peripheral: Peripheral, approver: object) -> SessionOutcome:
    role = PayerRole(wallet=wallet, approver=approver)  # type: ignore[arg-type]
    return await role.serve_one(peripheral)


async def test_a_kiosk_killed_mid_payment_fails_it_cleanly_after_restart_and_pays_once(
    tmp_path: Path, controllers: tuple[int, int]
) -> None:
    shop = make_shop(tmp_path, payers=1)
    socket = short_socket_dir() / "api.sock"
    port_a, port_b = controllers
    config = write_config(
        tmp_path / "kiosk.toml",
        home=shop.kiosk.root,
        adapter=f"bumble:tcp-client:127.0.0.1:{port_b}",
        socket=socket,
    )
    log = tmp_path / "kiosk.log"
    kiosk = start_kiosk(config, log)
    try:
        with shop.open_payer(0) as wallet:
            async with (
                pos_client(socket) as pos,
                payer_on(f"bumble:tcp-client:127.0.0.1:{port_a}") as radio,
            ):
                await wait_health(pos, ok=True)
                held = HeldApproval()
                first: SessionOutcome | None = None
                async with anyio.create_task_group() as tg:

                    async def pay_first() -> None:
                        nonlocal first
                        first = await serve_once(wallet, radio, held)

                    tg.start_soon(pay_first)
                    created = await pos.post("/invoices", json={"amount": "7.00"})
                    first_id = created.json()["id"]
                    with anyio.fail_after(30):
                        await held.asked.wait()
                    # The payer holds the invoice and waits for its approval: kill the kiosk.
                    assert stop(kiosk, signal.SIGKILL) == -signal.SIGKILL
                    held.decide(Decision(approve=False, reason="the kiosk went dark"))
                assert first is not None and first.status == "failed"

                kiosk = start_kiosk(config, log)
                await wait_health(pos, ok=True)
                status = (await pos.get(f"/invoices/{first_id}")).json()
                assert (status["state"], status["error"]) == ("failed", "SESSION_INTERRUPTED")

                async with anyio.create_task_group() as tg:
                    approve = AutoApprove(limit=20_00, currency="EUR")
                    tg.start_soon(serve_once, wallet, radio, approve)
                    created = await pos.post("/invoices", json={"amount": "5.00"})
                    second_id = created.json()["id"]
                    result = await wait_final(pos, second_id)
                assert result["final"]["state"] == "completed"
        assert stop(kiosk) == 0
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
            kiosk.wait()
    first_invoice, second_invoice = bytes.fromhex(first_id), bytes.fromhex(second_id)
    with shop.open_kiosk_wallet() as mine, shop.open_payer(0) as theirs:
        for store in (mine.store, theirs.store):
            assert store.payments.payment(first_invoice) is None
            assert store.payments.receipt(second_invoice) is not None
        state = theirs.store.allowances.payer_position().allowance
        assert state is not None and (state.last_counter, state.spent_minor) == (1, 5_00)
        assert [i.invoice_id for i in mine.store.outbox.items()] == [second_invoice]


async def test_the_kiosk_recovers_its_lost_adapter_and_serves_the_next_customer(
    tmp_path: Path,
) -> None:
    shop = make_shop(tmp_path, payers=1)
    socket = short_socket_dir() / "api.sock"
    link = Controllers()
    link.start()
    config = write_config(
        tmp_path / "kiosk.toml", home=shop.kiosk.root, adapter=link.adapter(1), socket=socket
    )
    kiosk = start_kiosk(config, tmp_path / "kiosk.log")
    approve = AutoApprove(limit=20_00, currency="EUR")
    try:
        with shop.open_payer(0) as wallet:
            async with pos_client(socket) as pos:
                await wait_health(pos, ok=True)
                async with payer_on(link.adapter(0)) as radio, anyio.create_task_group() as tg:
                    tg.start_soon(serve_once, wallet, radio, approve)
                    created = await pos.post("/invoices", json={"amount": "1.50"})
                    before = await wait_final(pos, created.json()["id"])
                assert before["final"]["state"] == "completed"

                link.stop()
                down = await wait_health(pos, ok=False)
                assert down["status"] == "adapter_down"
                link.start()
                await wait_health(pos, ok=True)

                async with payer_on(link.adapter(0)) as radio, anyio.create_task_group() as tg:
                    tg.start_soon(serve_once, wallet, radio, approve)
                    created = await pos.post("/invoices", json={"amount": "2.50"})
                    after = await wait_final(pos, created.json()["id"])
                assert after["final"]["state"] == "completed"
                metrics = (await pos.get("/metrics")).text
        assert stop(kiosk) == 0
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
            kiosk.wait()
        link.stop()
    assert 'p2ppay_kiosk_payments_total{status="completed"} 2' in metrics
    restarts = next(
        line
        for line in metrics.splitlines()
        if line.startswith("p2ppay_kiosk_adapter_restarts_total")
    )
    assert int(restarts.split()[-1]) >= 1


@pytest.mark.parametrize(
    ("crash_at", "after_restart"),
    [
        ("payee.before_persist_payment", "failed"),
        ("payee.after_persist_payment", "resumable"),
        ("payee.after_persist_receipt", "completed"),
    ],
)
async def test_a_kiosk_that_dies_at_a_money_step_recovers_it_and_nothing_is_paid_twice(
    tmp_path: Path, controllers: tuple[int, int], crash_at: str, after_restart: str
) -> None:
    shop = make_shop(tmp_path, payers=1)
    socket = short_socket_dir() / "api.sock"
    port_a, port_b = controllers
    config = write_config(
        tmp_path / "kiosk.toml",
        home=shop.kiosk.root,
        adapter=f"bumble:tcp-client:127.0.0.1:{port_b}",
        socket=socket,
    )
    log = tmp_path / "kiosk.log"
    kiosk = start_kiosk(config, log, crash_at=crash_at)
    approve = AutoApprove(limit=20_00, currency="EUR")
    # The payer gives up on a missing receipt quickly (the kiosk died before sending it).
    quick = Timeouts(receipt_ms=2_000)
    try:
        with shop.open_payer(0) as wallet:
            adapter = f"bumble:tcp-client:127.0.0.1:{port_a}"
            async with pos_client(socket) as pos, payer_on(adapter) as radio:
                await wait_health(pos, ok=True)
                async with anyio.create_task_group() as tg:
                    role = PayerRole(wallet=wallet, approver=approve, timeouts=quick)
                    tg.start_soon(role.serve_one, radio)
                    first_id = (await pos.post("/invoices", json={"amount": "7.00"})).json()["id"]
                    assert await anyio.to_thread.run_sync(kiosk.wait, 30) == CRASH_EXIT_CODE

                kiosk = start_kiosk(config, log)
                await wait_health(pos, ok=True)
                status = (await pos.get(f"/invoices/{first_id}")).json()
                assert status["state"] == after_restart

                async with anyio.create_task_group() as tg:
                    tg.start_soon(serve_once, wallet, radio, approve)
                    second_id = (await pos.post("/invoices", json={"amount": "5.00"})).json()["id"]
                    result = await wait_final(pos, second_id)
                assert result["final"]["state"] == "completed"
        assert stop(kiosk) == 0
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
            kiosk.wait()
    first, second = bytes.fromhex(first_id), bytes.fromhex(second_id)
    with shop.open_kiosk_wallet() as mine, shop.open_payer(0) as theirs:
        kept = mine.store.payments.payment(first)
        sent = theirs.store.payments.payment(first)
        # The kiosk holds the first payment only if the payer made it, and then the same one.
        assert (kept is not None) == (after_restart != "failed")
        assert kept is None or (sent is not None and kept.signed == sent.signed)
        assert mine.store.sessions.unfinished() == []
        allowance = theirs.store.allowances.payer_position().allowance
        assert allowance is not None
        paid_first = 7_00 if sent is not None else 0
        assert allowance.spent_minor == paid_first + 5_00
        assert theirs.store.payments.receipt(second) is not None
        assert mine.store.payments.receipt(second) is not None


async def test_a_request_scanning_when_the_adapter_dies_is_served_once_it_is_back(
    tmp_path: Path,
) -> None:
    shop = make_shop(tmp_path, payers=1)
    socket = short_socket_dir() / "api.sock"
    link = Controllers()
    link.start()
    config = write_config(
        tmp_path / "kiosk.toml", home=shop.kiosk.root, adapter=link.adapter(1), socket=socket
    )
    kiosk = start_kiosk(config, tmp_path / "kiosk.log")
    try:
        with shop.open_payer(0) as wallet:
            async with pos_client(socket) as pos:
                await wait_health(pos, ok=True)
                request_id = (await pos.post("/invoices", json={"amount": "4.00"})).json()["id"]
                await wait_state(pos, request_id, "scanning")
                link.stop()
                requeued = await wait_state(pos, request_id, "queued")
                assert str(requeued["reason"]).startswith("adapter lost")
                link.start()
                async with payer_on(link.adapter(0)) as radio, anyio.create_task_group() as tg:
                    tg.start_soon(
                        serve_once, wallet, radio, AutoApprove(limit=20_00, currency="EUR")
                    )
                    result = await wait_final(pos, request_id)
                    tg.cancel_scope.cancel()  # a payer nobody paid would wait forever
        assert stop(kiosk) == 0
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
            kiosk.wait()
        link.stop()
    states = [e["state"] for e in result["events"]]
    assert result["final"]["state"] == "completed"
    assert states[:4] == ["queued", "scanning", "queued", "scanning"]
