"""The kiosk daemon against a hostile payer (issue 11, item 3): a sample of the hostile-value
table (:mod:`tests.reliability.test_hostile_values`) through the real daemon, its API on a
Unix socket and Bumble's virtual radio. Each request ends in its typed state and code, the
kiosk's store is unchanged by each refusal, the daemon keeps serving, and an honest
customer pays right after the hostile ones.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import anyio
import pytest
from nacl.signing import SigningKey

from gatt.bumble_backend import loop_radio
from gatt.errors import LinkClosed
from gatt.spec import new_session_tag
from p2ppay.roles.radio import PAYER_INFO
from protocol import Invoice, open_as
from tests.kiosk.kit import (
    customers,
    kiosk_config,
    make_shop,
    pos_client,
    running_kiosk,
    short_socket_dir,
    wait_final,
)
from tests.reliability.conftest import RunCount
from tests.reliability.invariants import money_state
from tests.reliability.mallory import Mallory
from tests.reliability.payee_probe import ISSUER, PAYEE_INVARIANTS, check_store
from tests.reliability.test_hostile_values import TABLE
from tests.world import now_s

pytestmark = pytest.mark.anyio

SAMPLE = (
    "honest",
    f"counter={2**63}",
    f"serial={2**63}",
    f"not_after={2**63}",
    f"spent={2**64}",
    "amount=1000000000000001",
    "counter in a non-shortest integer",
    "payment not CBOR",
    "extra payment key 10",
    "envelope kind 99",
    "abort, a code this build does not know (999)",
    "a payment signed by a key other than the Noise peer's",
)
"""Cases of the table run through the kiosk: the issue's overflow and its neighbours."""


@pytest.mark.reliability(
    "fuzz",
    "hostile payer at the kiosk daemon (12 cases of the hostile-value table: "
    "counter, serial and time 2**63, a bignum total, an amount over the maximum, "
    "non-deterministic and broken CBOR, extra key, unknown envelope, unknown abort code, "
    "another signer), then a memo past its byte limit and an honest customer",
    expect="each request ends completed or failed with its protocol code; the kiosk's store "
    "unchanged by each refusal; /healthz stays 200 and the honest customer's payment completes",
    invariants=PAYEE_INVARIANTS,
)
async def test_the_kiosk_survives_hostile_values_and_the_next_customer_pays(
    tmp_path: Path, runs: RunCount
) -> None:
    cases = {name: (make, expect) for name, make, expect in TABLE if name in SAMPLE}
    assert sorted(cases) == sorted(SAMPLE) and len(SAMPLE) == 12  # as the row says
    shop = make_shop(tmp_path, payers=1)
    socket = short_socket_dir() / "api.sock"
    radio = loop_radio()
    ended: dict[str, tuple[str, str | None]] = {}
    with shop.open_kiosk_wallet() as wallet:
        wallet.trust_issuer(ISSUER.verify_key.encode(), now=now_s())
        async with (
            customers(shop, radio, [-40]) as people,
            running_kiosk(kiosk_config(shop, socket), wallet) as kiosk,
            pos_client(socket) as pos,
        ):
            peripheral = radio.open_peripheral(info=PAYER_INFO, rssi=-40)
            await peripheral.start()
            try:
                for name in SAMPLE:
                    make, _ = cases[name]
                    payer, tag = SigningKey(os.urandom(32)), new_session_tag()
                    before = money_state(shop.kiosk)

                    async def mallory(make=make, payer=payer, tag=tag) -> None:  # type: ignore[no-untyped-def]
                        m = await Mallory.as_payer(peripheral, payer, tag=tag)
                        async with m.link:
                            await m.answer()
                            invoice = open_as((await m.read()).body, Invoice)
                            kind, body = make(payer, invoice)
                            if kind is None:
                                await m.write_envelope(body)
                            else:
                                await m.write(kind, body)
                            with contextlib.suppress(LinkClosed):
                                await m.read()

                    async with anyio.create_task_group() as tg:
                        tg.start_soon(mallory)
                        posted = await pos.post("/invoices", json={"amount": "10.00", "tag": tag})
                        assert posted.status_code in (200, 201, 202), posted.text
                        final = (await wait_final(pos, posted.json()["id"]))["final"]
                    ended[name] = (final["state"], final["error"])
                    check_store(
                        shop.kiosk,
                        before,
                        completed=final["state"] == "completed",
                        new_invoice=bytes.fromhex(posted.json()["id"]),
                    )
                    assert (await pos.get("/healthz")).status_code == 200
                    runs.add()
            finally:
                with anyio.CancelScope(shield=True):
                    await peripheral.aclose()
            # The memo is the point of sale's: one byte past the limit is a typed 400.
            too_long = await pos.post("/invoices", json={"amount": "3.00", "memo": "é" * 70 + "x"})
            assert (too_long.status_code, too_long.json()["error"]) == (400, "INVOICE_NOT_PAYABLE")
            at_limit = {"amount": "3.00", "tag": people[0].tag, "memo": "é" * 70}  # 140 bytes
            honest = await pos.post("/invoices", json=at_limit)
            paid = (await wait_final(pos, honest.json()["id"]))["final"]
            status = (await pos.get(f"/invoices/{honest.json()['id']}")).json()
            assert kiosk.cashier.current is None
    expected = {
        name: ("completed", None) if expect == "completed" else ("failed", expect)
        for name, (_, expect) in cases.items()
    }
    assert ended == expected
    assert (paid["state"], status["memo"]) == ("completed", "é" * 70), (paid, status)
    runs.add()
