"""The kiosk syncs in the background against a real ledger (uvicorn on loopback, SQLite):
the payment it took settles once, and the payer's later upload of it settles nothing again."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from gatt.bumble_backend import loop_radio
from p2ppay.kiosk.daemon import serve
from p2ppay.kiosk.service import Kiosk
from p2ppay.kiosk.syncer import ledger_sync
from p2ppay.ledger.server import running_ledger
from p2ppay.sync import sync_outbox
from tests.kiosk.kit import Shop, customers, kiosk_config, pos_client, short_socket_dir, wait_final
from tests.ledger.world import fund, new_party, now_s, trust_ledger

pytestmark = pytest.mark.anyio


async def test_a_kiosk_payment_settles_once_when_both_parties_sync(tmp_path: Path) -> None:
    async with running_ledger() as ledger:
        payer = new_party(tmp_path, "payer0")
        till = new_party(tmp_path, "kiosk")
        await fund(ledger, payer, deposit=100_00, allowance=50_00)
        await trust_ledger(ledger, till)
        shop = Shop(root=tmp_path, kiosk=till.home, payers=(payer.home,))
        socket = short_socket_dir() / "api.sock"
        config = kiosk_config(shop, socket, ledger={"sync_interval": 0.3})
        with till.open() as wallet:
            kiosk = Kiosk(config=config, wallet=wallet, sync=ledger_sync(wallet, ledger.url))
            async with (
                customers(shop, loop_radio(), [-40]),
                pos_client(socket) as pos,
                anyio.create_task_group() as tg,
            ):
                tg.start_soon(lambda: serve(kiosk, handle_signals=False))
                with anyio.fail_after(10):
                    await kiosk.adapter.wait_up()
                paid = (await pos.post("/invoices", json={"amount": "3.00"})).json()["id"]
                assert (await wait_final(pos, paid))["final"]["state"] == "completed"
                with anyio.fail_after(15):
                    while (await pos.get("/healthz")).json()["sync_backlog"]:  # noqa: ASYNC110
                        await anyio.sleep(0.05)
                kiosk.shutdown()
        async with payer.client(ledger) as client:
            with payer.open() as payer_wallet:
                again = await sync_outbox(payer_wallet.store, client, now=now_s)
        async with till.client(ledger) as client:
            statement = await client.statement()
    assert kiosk.metrics.sync_runs["ok"] >= 1
    assert again.settled == 0 and again.duplicate + again.updated == 1
    balances = {b.currency: b.balance_minor for b in statement.balances}
    assert balances["EUR"] == 3_00
