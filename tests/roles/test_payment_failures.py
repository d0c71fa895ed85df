"""Payments that must not complete, and one that must complete after the payee vanished.

Every case runs the real roles over Bumble's virtual radio with real stores; the check is
always the same pair: the typed code both sides report, and the money on disk.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from gatt.bumble_backend import VirtualRadio
from gatt.link import LinkOptions
from p2ppay.roles import AutoApprove, PayeeRole, PayerChoice, PayerRole, SessionOutcome
from p2ppay.roles.radio import PAYER_INFO, pay_on_virtual_radio
from p2ppay.store import SessionStatus
from tests.world import documents, make_homes, pay_once, spent

pytestmark = pytest.mark.anyio

QUICK = PayerChoice(listen=0.2, within=10)


async def test_an_expired_invoice_is_refused_by_the_payer(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)

    def late() -> int:  # the payer's clock is an hour ahead
        return time.time_ns() // 1_000_000 + 3_600_000

    with homes.open_payer() as payer_wallet, homes.open_payee() as payee_wallet:
        payer = PayerRole(
            wallet=payer_wallet, approver=AutoApprove(limit=50_00, currency="EUR"), clock=late
        )
        payee = PayeeRole(wallet=payee_wallet, choice=QUICK, attempts=1)
        invoice = payee.new_invoice(amount=5_00, currency="EUR", ttl=60)
        with anyio.fail_after(30):
            payer_out, payee_out = await pay_on_virtual_radio(payer, payee, invoice)
        assert payer_out.error == "DOC_EXPIRED"
        assert payee_out.error == "SESSION_DECLINED"  # the payer's clock is not told
        assert payer_wallet.store.payments.payment(invoice.doc.id) is None
        assert spent(payer_wallet) == 0


async def test_an_invoice_over_the_remaining_allowance_is_refused(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, limit=10_00)
    payer_out, payee_out, invoice = await pay_once(homes, amount=12_50, approve_up_to=50_00)
    assert payer_out.status == payee_out.status == "failed"
    assert payer_out.error == "SESSION_WALLET_CANNOT_PAY"
    assert payee_out.error == "SESSION_DECLINED"  # what is left is not the payee's business
    with homes.open_payer() as payer:
        assert payer.store.payments.payment(invoice.doc.id) is None
        assert spent(payer) == 0


async def test_an_invoice_in_another_currency_is_refused(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)
    payer_out, payee_out, invoice = await pay_once(
        homes, amount=5_00, currency="USD", approve_up_to=50_00
    )
    assert payer_out.status == payee_out.status == "failed"
    assert payer_out.error == "SESSION_WALLET_CANNOT_PAY"
    assert payee_out.error == "SESSION_DECLINED"  # nor is which currency the payer holds
    with homes.open_payer() as payer, homes.open_payee() as payee:
        assert payer.store.payments.payment(invoice.doc.id) is None
        assert payee.store.payments.payment(invoice.doc.id) is None
        assert spent(payer) == 0


async def test_a_payee_that_vanishes_after_the_payment_is_stored_is_paid_once_on_retry(
    tmp_path: Path,
) -> None:
    homes = make_homes(tmp_path)
    radio = VirtualRadio()
    options = LinkOptions(max_att_mtu=185)
    with homes.open_payer() as payer_wallet, homes.open_payee() as payee_wallet:
        vanish = anyio.Event()

        def payer_progress(message: str) -> None:
            if "stored" in message:  # the payment is on the payer's disk: the payee goes away
                vanish.set()

        payer = PayerRole(
            wallet=payer_wallet,
            approver=AutoApprove(limit=50_00, currency="EUR"),
            progress=payer_progress,
        )
        payee = PayeeRole(wallet=payee_wallet, choice=QUICK, attempts=1)
        invoice = payee.new_invoice(amount=7_00, currency="EUR")
        async with (
            radio.open_peripheral(info=PAYER_INFO, options=options) as peripheral,
            radio.open_central(options=options) as central,
        ):
            first: dict[str, SessionOutcome] = {}

            async def serve() -> None:
                first["payer"] = await payer.serve_one(peripheral)

            async def collect_until_vanished() -> None:
                async with anyio.create_task_group() as inner:

                    async def collect() -> None:
                        await payee.collect(central, invoice)

                    inner.start_soon(collect)
                    await vanish.wait()
                    inner.cancel_scope.cancel()

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(serve)
                    tg.start_soon(collect_until_vanished)
            assert first["payer"].status == SessionStatus.RESUMABLE.value
            assert first["payer"].error == "LINK_LOST"

            second: dict[str, SessionOutcome] = {}

            async def serve_again() -> None:
                second["payer"] = await payer.serve_one(peripheral)

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(serve_again)
                    second["payee"] = await payee.collect(central, invoice)
        assert second["payer"].status == second["payee"].status == "completed"
        assert second["payee"].invoice_id == invoice.doc.id.hex()
        allowance = payer_wallet.store.allowances.payer_position().allowance
        assert allowance is not None
        assert (allowance.last_counter, allowance.spent_minor) == (1, 7_00)
        payment, _ = documents(payer_wallet, invoice.doc.id)
        assert payment is not None
        assert documents(payee_wallet, invoice.doc.id)[0] == payment
