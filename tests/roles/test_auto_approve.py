"""Automatic approval has a card's offline limits: one payment per run unless told more.

The attack (issue 12): a payer left running with ``--auto-approve-up-to 20.00`` and strangers
walking by, each asking for 20.00. The invariant a user cares about: the strangers together
get at most what the limits allow (by default one payment), the rest of the allowance stays,
and each automatic payment is logged with the payee and the short authentication string.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from gatt.bumble_backend import VirtualRadio
from gatt.link import LinkOptions
from p2ppay.roles import (
    AutoApprovalLimits,
    CappedAutoApprove,
    Decision,
    PayeeRole,
    PayerRole,
    SessionOutcome,
)
from p2ppay.roles.radio import PAYER_INFO
from p2ppay.wallet import WalletHome, init_wallet, open_wallet
from protocol import Invoice
from tests.world import Homes, make_homes, now_s, spent

pytestmark = pytest.mark.anyio

EUR20 = 20_00


def _limits(**overrides: object) -> AutoApprovalLimits:
    values: dict[str, object] = {"currency": "EUR", "per_payment": EUR20, "total": EUR20}
    values.update(overrides)
    return AutoApprovalLimits(**values)  # type: ignore[arg-type]


def _invoice(amount: int, payee: bytes = b"\x01" * 32, currency: str = "EUR") -> Invoice:
    return Invoice(
        id=b"\x00" * 16,
        payee=payee,
        amount=amount,
        currency=currency,
        memo="",
        created=1,
        expires=2,
        nonce=b"\x00" * 16,
    )


async def test_by_default_one_payment_is_approved_and_the_next_declined() -> None:
    logged: list[str] = []
    approve = CappedAutoApprove(limits=_limits(), log=logged.append)
    first = await approve(_invoice(5_00), "123456")
    second = await approve(_invoice(1_00), "654321")
    assert (first.approve, first.automatic) == (True, True)
    assert not second.approve and "1 of 1" in second.reason
    assert "123456" in logged[0] and (b"\x01" * 32).hex() in logged[0]


async def test_count_and_total_raise_the_limits_but_each_still_binds() -> None:
    approve = CappedAutoApprove(limits=_limits(total=30_00, count=3))
    decisions = [await approve(_invoice(amount), "000000") for amount in (15_00, 15_00, 1)]
    assert [d.approve for d in decisions] == [True, True, False]  # the total binds first
    assert (approve.approved, approve.spent) == (2, 30_00)
    over = await CappedAutoApprove(limits=_limits(count=5, total=100_00))(_invoice(20_01), "0")
    assert not over.approve and "per payment" in over.reason


async def test_only_listed_payees_are_paid_automatically() -> None:
    known = b"\x07" * 32
    approve = CappedAutoApprove(limits=_limits(count=2, total=40_00, payees=frozenset({known})))
    assert not (await approve(_invoice(1_00, payee=b"\x08" * 32), "0")).approve
    assert (await approve(_invoice(1_00, payee=known), "0")).approve


async def test_past_the_limits_the_person_at_the_terminal_decides() -> None:
    asked: list[str] = []

    async def person(invoice: Invoice, sas: str) -> Decision:
        asked.append(sas)
        return Decision(approve=True)

    approve = CappedAutoApprove(limits=_limits(), fallback=person)
    assert (await approve(_invoice(1_00), "111111")).automatic
    second = await approve(_invoice(1_00), "222222")
    assert second.approve and not second.automatic
    assert asked == ["222222"]


def test_inconsistent_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        _limits(total=EUR20 - 1)
    with pytest.raises(ValueError):
        _limits(count=0)


def _stranger(root: Path, homes: Homes, n: int) -> WalletHome:
    home = WalletHome.resolve(root / f"stranger-{n}")
    init_wallet(home, passphrase=None, now=now_s())
    with open_wallet(home, passphrase=None, now=now_s()) as wallet:
        wallet.trust_issuer(homes.issuer_key, now=now_s())
    return home


async def test_five_strangers_in_a_row_the_first_is_paid_the_rest_declined(
    tmp_path: Path,
) -> None:
    homes = make_homes(tmp_path, limit=100_00)
    strangers = [_stranger(tmp_path, homes, n) for n in range(5)]
    logged: list[str] = []
    radio = VirtualRadio()
    options = LinkOptions(max_att_mtu=247)
    results: list[tuple[SessionOutcome, SessionOutcome]] = []
    invoice_ids: list[bytes] = []
    with homes.open_payer() as payer_wallet:
        payer = PayerRole(
            wallet=payer_wallet,
            approver=CappedAutoApprove(limits=_limits(), log=logged.append),  # no terminal
        )
        async with (
            radio.open_peripheral(info=PAYER_INFO, options=options) as peripheral,
            radio.open_central(options=options) as central,
        ):
            for home in strangers:  # the payer serves one central after another, as `pay` does
                with open_wallet(home, passphrase=None, now=now_s()) as stranger_wallet:
                    stranger = PayeeRole(wallet=stranger_wallet)
                    invoice = stranger.new_invoice(amount=EUR20, currency="EUR")
                    invoice_ids.append(invoice.doc.id)
                    served: list[SessionOutcome] = []

                    async def serve(served: list[SessionOutcome] = served) -> None:
                        served.append(await payer.serve_one(peripheral))

                    with anyio.fail_after(30):
                        async with anyio.create_task_group() as tg:
                            tg.start_soon(serve)
                            collected = await stranger.collect(central, invoice)
                    results.append((served[0], collected))
        assert spent(payer_wallet) == EUR20  # the other 80.00 of the allowance is intact
    statuses = [(payer_out.status, payee_out.status) for payer_out, payee_out in results]
    assert statuses == [("completed", "completed")] + [("failed", "failed")] * 4
    for payer_out, payee_out in results[1:]:
        assert payer_out.error == payee_out.error == "SESSION_DECLINED"
    first_payer, _ = results[0]
    (approval,) = [line for line in logged if line.startswith("auto-approved")]
    assert first_payer.sas is not None and first_payer.sas in approval
    for home, invoice_id in list(zip(strangers, invoice_ids, strict=True))[1:]:
        with open_wallet(home, passphrase=None, now=now_s()) as wallet:
            assert wallet.store.payments.payment(invoice_id) is None
