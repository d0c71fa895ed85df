"""The operator page's content: today's totals are stored money, the last payments carry
their state, reason and payer tag, and nothing a customer typed is ever markup."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gatt.bumble_backend import loop_radio
from p2ppay.kiosk.overview import overview
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


async def test_totals_count_stored_money_today_and_the_list_shows_every_outcome(
    tmp_path: Path,
) -> None:
    shop = make_shop(tmp_path, payers=1)
    socket = short_socket_dir() / "api.sock"
    config = kiosk_config(shop, socket, radio={"scan_timeout": 1.0})
    memo = "<script>alert(1)</script> & tea"
    with shop.open_kiosk_wallet() as wallet:
        async with (
            customers(shop, loop_radio(), [-40]) as people,
            running_kiosk(config, wallet) as kiosk,
            pos_client(socket) as pos,
        ):
            tag = people[0].tag
            paid = await pos.post("/invoices", json={"amount": "2.00", "memo": memo, "tag": tag})
            await wait_final(pos, paid.json()["id"])
            nobody = await pos.post("/invoices", json={"amount": "7.00", "tag": "aaaaaa"})
            await wait_final(pos, nobody.json()["id"])
            now = time.time()
            today = overview(kiosk, now=now)
            later = overview(kiosk, now=now + 2 * 86_400)
            page = await pos.get("/")  # a Unix socket: its permissions are the login
        assert (today.totals, today.today_count) == ({"EUR": "2.00"}, 1)
        assert (later.totals, later.today_count) == ({}, 0)
        states = [(p.amount, p.state, p.error, p.payer_tag) for p in today.payments]
        assert states == [
            ("7.00", "failed", "NO_PAYER_FOUND", None),
            ("2.00", "completed", None, tag),
        ]
        assert page.status_code == 200
        assert (
            "<script>alert" not in page.text
            and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        )
        # After a restart the list comes from the store (no tag: it was only on the air).
        async with running_kiosk(config, wallet) as restarted:
            again = overview(restarted, now=now)
        assert again.totals == {"EUR": "2.00"}
        assert [(p.amount, p.state, p.payer_tag) for p in again.payments] == [
            ("2.00", "completed", None)
        ]
