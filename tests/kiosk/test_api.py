"""The point-of-sale API on the virtual radio: status stream, queue bound, cancel, shutdown,
refusals, metrics, health and background sync."""

from __future__ import annotations

import contextlib
import socket as socketlib
import sqlite3
from pathlib import Path

import anyio
import pytest

from gatt.bumble_backend import loop_radio
from p2ppay.errors import AppError, AppErrorCode
from p2ppay.kiosk.daemon import serve
from p2ppay.kiosk.service import Kiosk
from p2ppay.roles import Decision
from p2ppay.store import OutboxStatus
from tests.controllers import free_port
from tests.kiosk.kit import (
    TOKEN,
    HeldApproval,
    customers,
    kiosk_config,
    make_shop,
    pos_client,
    running_kiosk,
    short_socket_dir,
    tcp_client,
    wait_final,
)

pytestmark = pytest.mark.anyio


async def test_the_status_stream_reports_every_phase_in_order(tmp_path: Path) -> None:
    shop = make_shop(tmp_path, payers=1)
    socket = short_socket_dir() / "api.sock"
    with shop.open_kiosk_wallet() as wallet:
        async with (
            customers(shop, loop_radio(), [-40]),
            running_kiosk(kiosk_config(shop, socket), wallet),
            pos_client(socket) as pos,
        ):
            created = await pos.post("/invoices", json={"amount": "3.10", "memo": "bus"})
            result = await wait_final(pos, created.json()["id"])
    states = [e["state"] for e in result["events"]]
    # The second handshake event is the SAS, published as soon as the handshake yields it.
    assert states == [
        "queued",
        "scanning",
        "connecting",
        "handshake",
        "handshake",
        "persisting",
        "completed",
    ]
    assert [e["seq"] for e in result["events"]] == list(range(1, 8))
    assert [e["sas"] for e in result["events"][3:5]] == [None, result["final"]["sas"]]
    assert result["final"]["sas"]


async def test_a_full_queue_refuses_the_request_and_signs_no_invoice(tmp_path: Path) -> None:
    shop = make_shop(tmp_path, payers=0)
    socket = short_socket_dir() / "api.sock"
    config = kiosk_config(shop, socket, payments={"queue_size": 1}, radio={"scan_timeout": 20})
    with shop.open_kiosk_wallet() as wallet:
        async with running_kiosk(config, wallet) as kiosk, pos_client(socket) as pos:
            scanning = (await pos.post("/invoices", json={"amount": "1.00"})).json()["id"]
            queued = (await pos.post("/invoices", json={"amount": "2.00"})).json()["id"]
            refused = await pos.post("/invoices", json={"amount": "3.00"})
            assert refused.status_code == 503
            assert refused.json()["error"] == "KIOSK_QUEUE_FULL"
            assert refused.headers["retry-after"]
            assert kiosk.board.depth == 1
            for request_id in (queued, scanning):
                cancelled = await pos.post(f"/invoices/{request_id}/cancel")
                assert cancelled.json()["state"] == "cancelled"
        with contextlib.closing(
            sqlite3.connect(f"file:{wallet.store.path}?mode=ro", uri=True)
        ) as conn:
            invoices = conn.execute("SELECT count(*) FROM invoices").fetchone()[0]
        assert invoices == 2


async def test_cancelling_while_scanning_ends_cancelled_with_no_session_left_open(
    tmp_path: Path,
) -> None:
    shop = make_shop(tmp_path, payers=0)
    socket = short_socket_dir() / "api.sock"
    config = kiosk_config(shop, socket, radio={"scan_timeout": 20})
    with shop.open_kiosk_wallet() as wallet:
        async with running_kiosk(config, wallet), pos_client(socket) as pos:
            request_id = (await pos.post("/invoices", json={"amount": "1.00"})).json()["id"]
            with anyio.fail_after(5):
                while (await pos.get(f"/invoices/{request_id}")).json()["state"] != "scanning":  # noqa: ASYNC110 - polling the API is the point
                    await anyio.sleep(0.02)
            cancelled = await pos.post(f"/invoices/{request_id}/cancel")
            assert cancelled.status_code == 200
            assert cancelled.json()["state"] == "cancelled"
        assert wallet.store.sessions.unfinished() == []


async def test_cancelling_once_a_payer_is_connected_is_refused_and_the_payment_goes_on(
    tmp_path: Path,
) -> None:
    shop = make_shop(tmp_path, payers=1)
    socket = short_socket_dir() / "api.sock"
    held = HeldApproval()
    with shop.open_kiosk_wallet() as wallet:
        async with (
            customers(shop, loop_radio(), [-40], approver=held),
            running_kiosk(kiosk_config(shop, socket), wallet),
            pos_client(socket) as pos,
        ):
            request_id = (await pos.post("/invoices", json={"amount": "1.00"})).json()["id"]
            with anyio.fail_after(10):
                await held.asked.wait()
            refused = await pos.post(f"/invoices/{request_id}/cancel")
            assert refused.status_code == 409
            assert refused.json()["error"] == "KIOSK_TOO_LATE_TO_CANCEL"
            held.decide(Decision(approve=True))
            result = await wait_final(pos, request_id)
    assert result["final"]["state"] == "completed"


async def test_shutdown_lets_the_payment_in_flight_finish_and_refuses_new_ones(
    tmp_path: Path,
) -> None:
    shop = make_shop(tmp_path, payers=1)
    socket = short_socket_dir() / "api.sock"
    held = HeldApproval()
    kiosk_done = anyio.Event()
    with shop.open_kiosk_wallet() as wallet:
        kiosk = Kiosk(config=kiosk_config(shop, socket), wallet=wallet)
        async with (
            customers(shop, loop_radio(), [-40], approver=held),
            pos_client(socket) as pos,
            anyio.create_task_group() as tg,
        ):

            async def run_kiosk() -> None:
                await serve(kiosk, handle_signals=False)
                kiosk_done.set()

            tg.start_soon(run_kiosk)
            with anyio.fail_after(10):
                await kiosk.adapter.wait_up()
                request_id = (await pos.post("/invoices", json={"amount": "1.00"})).json()["id"]
                await held.asked.wait()
            kiosk.shutdown()  # what SIGTERM does
            refused = await pos.post("/invoices", json={"amount": "2.00"})
            assert refused.json()["error"] == "KIOSK_STOPPING"
            held.decide(Decision(approve=True))
            with anyio.fail_after(20):
                await kiosk_done.wait()
        assert kiosk.view(request_id)["state"] == "completed"
        assert wallet.store.payments.receipt(bytes.fromhex(request_id)) is not None


async def test_shutdown_past_its_grace_fails_the_payment_cleanly(tmp_path: Path) -> None:
    shop = make_shop(tmp_path, payers=1)
    socket = short_socket_dir() / "api.sock"
    held = HeldApproval()
    config = kiosk_config(shop, socket, daemon={"shutdown_grace": 0.3})
    with shop.open_kiosk_wallet() as wallet:
        kiosk = Kiosk(config=config, wallet=wallet)
        async with (
            customers(shop, loop_radio(), [-40], approver=held),
            pos_client(socket) as pos,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(lambda: serve(kiosk, handle_signals=False))
            with anyio.fail_after(10):
                await kiosk.adapter.wait_up()
                request_id = (await pos.post("/invoices", json={"amount": "1.00"})).json()["id"]
                await held.asked.wait()
            kiosk.shutdown()
            with anyio.fail_after(20):
                await kiosk.wait_stopped()
            held.decide(Decision(approve=False, reason="too late"))
        status = kiosk.view(request_id)
        assert (status["state"], status["error"]) == ("failed", "SESSION_INTERRUPTED")
        assert wallet.store.sessions.unfinished() == []
        assert wallet.store.payments.payment(bytes.fromhex(request_id)) is None


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"amount": "1.00", "currency": "USD"}, "INVOICE_NOT_PAYABLE"),
        ({"amount": "1.005"}, "INVOICE_NOT_PAYABLE"),
        ({"amount": "0"}, "INVOICE_NOT_PAYABLE"),
        ({"amount": "1.00", "tag": "NOT-A-TAG"}, "KIOSK_BAD_REQUEST"),
        ({"amount": "1.00", "tip": "2.00"}, "KIOSK_BAD_REQUEST"),
        ({"memo": "no amount"}, "KIOSK_BAD_REQUEST"),
    ],
)
async def test_a_bad_request_is_refused_with_its_code_and_creates_nothing(
    tmp_path: Path, body: dict[str, str], error: str
) -> None:
    shop = make_shop(tmp_path, payers=0)
    socket = short_socket_dir() / "api.sock"
    with shop.open_kiosk_wallet() as wallet:
        async with (
            running_kiosk(kiosk_config(shop, socket), wallet) as kiosk,
            pos_client(socket) as pos,
        ):
            refused = await pos.post("/invoices", json=body)
            assert (refused.status_code, refused.json()["error"]) == (400, error)
            assert kiosk.metrics.requests == 0


async def test_an_unknown_request_id_is_not_found(tmp_path: Path) -> None:
    shop = make_shop(tmp_path, payers=0)
    socket = short_socket_dir() / "api.sock"
    with shop.open_kiosk_wallet() as wallet:
        async with running_kiosk(kiosk_config(shop, socket), wallet), pos_client(socket) as pos:
            for path in ("/invoices/00ff", "/invoices/xyz/events", "/nothing"):
                missing = await pos.get(path)
                assert (missing.status_code, missing.json()["error"]) == (404, "KIOSK_NOT_FOUND")


async def test_metrics_count_payments_phases_and_the_outbox_backlog(tmp_path: Path) -> None:
    shop = make_shop(tmp_path, payers=1)
    socket = short_socket_dir() / "api.sock"
    with shop.open_kiosk_wallet() as wallet:
        async with (
            customers(shop, loop_radio(), [-40]),
            running_kiosk(kiosk_config(shop, socket, radio={"scan_timeout": 1.0}), wallet),
            pos_client(socket) as pos,
        ):
            paid = (await pos.post("/invoices", json={"amount": "2.00"})).json()["id"]
            await wait_final(pos, paid)
            nobody = (await pos.post("/invoices", json={"amount": "1.00", "tag": "aaaaaa"})).json()
            await wait_final(pos, nobody["id"])
            health = await pos.get("/healthz")
            metrics = await pos.get("/metrics")
    assert health.status_code == 200 and health.json()["sync_backlog"] == 1
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = set(metrics.text.splitlines())
    assert 'p2ppay_kiosk_payments_total{status="completed"} 1' in lines
    assert 'p2ppay_kiosk_failures_total{code="NO_PAYER_FOUND"} 1' in lines
    assert 'p2ppay_kiosk_received_minor_total{currency="EUR"} 200' in lines
    assert 'p2ppay_kiosk_phase_seconds_count{phase="handshake"} 1' in lines
    assert 'p2ppay_kiosk_phase_seconds_count{phase="scanning"} 2' in lines
    assert "p2ppay_kiosk_sync_backlog 1" in lines


async def test_background_sync_runs_after_a_payment_and_offline_failures_only_count(
    tmp_path: Path,
) -> None:
    shop = make_shop(tmp_path, payers=1)
    socket = short_socket_dir() / "api.sock"
    ledger_up = False
    calls: list[bool] = []

    with shop.open_kiosk_wallet() as wallet:

        async def sync() -> object:
            # The seam the sync client plugs into: settle what the outbox holds, or fail.
            calls.append(ledger_up)
            if not ledger_up:
                raise OSError("ledger unreachable")
            for item in wallet.store.outbox.items(OutboxStatus.PENDING):
                wallet.store.outbox.mark(item.invoice_id, OutboxStatus.SETTLED, now=0)
            return None

        config = kiosk_config(shop, socket, ledger={"sync_interval": 0.2})
        kiosk = Kiosk(config=config, wallet=wallet, sync=sync)
        async with (
            customers(shop, loop_radio(), [-40]),
            pos_client(socket) as pos,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(lambda: serve(kiosk, handle_signals=False))
            with anyio.fail_after(10):
                await kiosk.adapter.wait_up()
            paid = (await pos.post("/invoices", json={"amount": "2.00"})).json()["id"]
            await wait_final(pos, paid)
            offline = (await pos.get("/healthz")).json()["sync_backlog"]
            ledger_up = True
            with anyio.fail_after(10):
                while (await pos.get("/healthz")).json()["sync_backlog"]:  # noqa: ASYNC110
                    await anyio.sleep(0.05)
            kiosk.shutdown()
    assert offline == 1
    assert kiosk.metrics.sync_runs["error"] >= 1 and kiosk.metrics.sync_runs["ok"] >= 1
    assert calls[0] is False and calls[-1] is True


async def test_the_api_socket_is_private_to_the_kiosks_user_and_group(tmp_path: Path) -> None:
    shop = make_shop(tmp_path, payers=0)
    socket = short_socket_dir() / "api.sock"
    with shop.open_kiosk_wallet() as wallet:
        async with running_kiosk(kiosk_config(shop, socket), wallet):
            mode = socket.stat().st_mode & 0o777
        assert not socket.exists()
    assert mode == 0o660


async def test_the_api_answers_on_a_loopback_tcp_port(tmp_path: Path) -> None:
    shop = make_shop(tmp_path, payers=0)
    port = free_port()
    config = kiosk_config(shop, tmp_path / "unused", api={"listen": f"127.0.0.1:{port}"})
    with shop.open_kiosk_wallet() as wallet:
        async with running_kiosk(config, wallet, token=TOKEN), tcp_client(port) as pos:
            health = await pos.get("/healthz")
    assert (health.status_code, health.json()["status"]) == (200, "ok")


async def test_an_address_already_in_use_fails_at_start_with_the_config_code(
    tmp_path: Path,
) -> None:
    shop = make_shop(tmp_path, payers=0)
    with socketlib.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = kiosk_config(shop, tmp_path / "unused", api={"listen": f"127.0.0.1:{port}"})
        with shop.open_kiosk_wallet() as wallet, pytest.raises(AppError) as caught:
            await serve(Kiosk(config=config, wallet=wallet), handle_signals=False, token=TOKEN)
    assert caught.value.code is AppErrorCode.KIOSK_CONFIG_INVALID
    assert "api.listen" in caught.value.message
