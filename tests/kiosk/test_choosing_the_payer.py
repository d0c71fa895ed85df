"""Three payer devices advertising on the virtual radio; the point of sale posts invoices
through the kiosk's API and the right payer pays each, or the request fails with its code."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatt.bumble_backend import loop_radio
from tests.kiosk.kit import (
    customers,
    kiosk_config,
    make_shop,
    pos_client,
    running_kiosk,
    short_socket_dir,
    wait_final,
)
from tests.world import spent

pytestmark = pytest.mark.anyio


async def test_the_payer_whose_tag_was_given_pays_even_when_others_are_closer(
    tmp_path: Path,
) -> None:
    shop = make_shop(tmp_path)
    socket = short_socket_dir() / "api.sock"
    config = kiosk_config(shop, socket)
    with shop.open_kiosk_wallet() as wallet:
        async with (
            customers(shop, loop_radio(), [-40, -45, -80]) as people,
            running_kiosk(config, wallet),
            pos_client(socket) as pos,
        ):
            tag = people[2].tag
            created = await pos.post(
                "/invoices", json={"amount": "4.20", "memo": "coffee", "tag": tag}
            )
            assert created.status_code == 201
            result = await wait_final(pos, created.json()["id"])
        invoice_id = bytes.fromhex(created.json()["id"])
        assert result["final"]["state"] == "completed"
        assert result["final"]["payer_tag"] == tag
        assert [p.index for p in people if p.outcomes and p.outcomes[-1].completed] == [2]
        assert wallet.store.payments.receipt(invoice_id) is not None
    with shop.open_payer(2) as payer:
        assert payer.store.payments.payment(invoice_id) is not None
        assert spent(payer) == 4_20


async def test_without_a_tag_the_strongest_payer_above_the_gate_pays(tmp_path: Path) -> None:
    shop = make_shop(tmp_path)
    socket = short_socket_dir() / "api.sock"
    config = kiosk_config(shop, socket, radio={"min_rssi": -70, "margin_db": 6})
    with shop.open_kiosk_wallet() as wallet:
        async with (
            customers(shop, loop_radio(), [-62, -41, -90]) as people,
            running_kiosk(config, wallet),
            pos_client(socket) as pos,
        ):
            created = await pos.post("/invoices", json={"amount": "2.50", "currency": "EUR"})
            result = await wait_final(pos, created.json()["id"])
        assert result["final"]["state"] == "completed"
        assert (result["final"]["payer_tag"], result["final"]["payer_rssi"]) == (
            people[1].tags[0],
            -41,
        )
    for i, expected in enumerate([0, 2_50, 0]):
        with shop.open_payer(i) as payer:
            assert spent(payer) == expected


async def test_a_tag_that_matches_nobody_fails_with_no_payer_found(tmp_path: Path) -> None:
    shop = make_shop(tmp_path)
    socket = short_socket_dir() / "api.sock"
    config = kiosk_config(shop, socket, radio={"scan_timeout": 1.0})
    with shop.open_kiosk_wallet() as wallet:
        async with (
            customers(shop, loop_radio(), [-40, -50, -60]) as people,
            running_kiosk(config, wallet),
            pos_client(socket) as pos,
        ):
            created = await pos.post("/invoices", json={"amount": "1.00", "tag": "zzzzzz"})
            result = await wait_final(pos, created.json()["id"])
        assert result["final"]["state"] == "failed"
        assert result["final"]["error"] == "NO_PAYER_FOUND"
        assert all(not p.outcomes for p in people)
        assert wallet.store.payments.payment(bytes.fromhex(created.json()["id"])) is None


async def test_two_payers_equally_close_fail_as_ambiguous_and_nobody_pays(tmp_path: Path) -> None:
    shop = make_shop(tmp_path)
    socket = short_socket_dir() / "api.sock"
    config = kiosk_config(shop, socket, radio={"min_rssi": -70, "margin_db": 6})
    with shop.open_kiosk_wallet() as wallet:
        async with (
            customers(shop, loop_radio(), [-48, -45, -90]) as people,
            running_kiosk(config, wallet),
            pos_client(socket) as pos,
        ):
            created = await pos.post("/invoices", json={"amount": "3.00"})
            result = await wait_final(pos, created.json()["id"])
        assert result["final"]["state"] == "failed"
        assert result["final"]["error"] == "PAYER_AMBIGUOUS"
        assert all(not p.outcomes for p in people)
