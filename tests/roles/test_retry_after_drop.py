"""A link lost after the payment was sent is retried by the payee on its own, and completes.

The payee's ``collect`` retries a lost link with the same invoice and follows the payer by
its address (the payer advertises a fresh tag each session). The payer's Bumble peripheral
takes a fresh random address for every session, so a tracker cannot link two of them; this
test shows the retry still finds it. The invariant a person at the counter cares about: a
link dropped mid-payment ends paid once, with no `resume` typed by anyone.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from gatt.bumble_backend import VirtualRadio
from gatt.link import LinkOptions
from p2ppay.roles import AutoApprove, PayeeRole, PayerRole, SessionOutcome
from p2ppay.roles.radio import PAYER_INFO
from tests.reliability.faulty import DroppingPeripheral
from tests.world import make_homes, spent

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RETRY_WINDOW = 10.0


@pytest.mark.parametrize("drop_at", [6, 7, 8])  # of 8 chunks at MTU 247
async def test_the_payee_retries_a_lost_link_by_itself_and_the_payment_completes_once(
    tmp_path: Path, drop_at: int
) -> None:
    homes = make_homes(tmp_path)
    radio = VirtualRadio()
    options = LinkOptions(max_att_mtu=247)
    served: list[SessionOutcome] = []
    with homes.open_payer() as payer_wallet, homes.open_payee() as payee_wallet:
        payer = PayerRole(wallet=payer_wallet, approver=AutoApprove(limit=20_00, currency="EUR"))
        payee = PayeeRole(wallet=payee_wallet, attempts=2)
        invoice = payee.new_invoice(amount=7_25, currency="EUR", memo="tea")
        async with (
            radio.open_peripheral(info=PAYER_INFO, options=options) as inner,
            radio.open_central(options=options) as central,
        ):
            peripheral = DroppingPeripheral(inner)
            peripheral.drop_at = drop_at

            async def serve() -> None:
                # as `p2ppay pay` does: the same address again only after a resumable end
                served.append(await payer.serve_one(peripheral))
                peripheral.drop_at = None
                assert served[-1].status == "resumable"  # our payment went out
                # as `pay --once` does: on the air for the payee's retry, a bounded while
                with anyio.move_on_after(RETRY_WINDOW):
                    served.append(await payer.serve_one(peripheral, same_address=True))

            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(serve)
                    collected = await payee.collect(central, invoice)
        assert collected.completed, (collected, served)
        # the payee retried (the receipt never reached us) or had its receipt already (the
        # last chunk lost on its way to us): either way one payment, one counter
        assert [s.status for s in served] in (["resumable", "completed"], ["resumable"])
        assert spent(payer_wallet) == 7_25
