"""The payer's question can't outlive its session: the payee leaving, its Abort or the
approval timer withdraw it, and a "yes" typed afterwards signs nothing. The terminal prompt
is cancellable (Ctrl-C does not wait for Enter) and never answers a new question with a line
typed for an old one."""

from __future__ import annotations

import io
import os
from pathlib import Path

import anyio
import pytest

from p2ppay.cli.terminal import TerminalPrompt
from p2ppay.roles import Decision, PayeeRole, PayerChoice, PayerRole
from p2ppay.roles.radio import pay_on_virtual_radio
from protocol import Invoice
from protocol.session import Timeouts
from tests.world import make_homes, spent

pytestmark = pytest.mark.anyio


async def test_a_payee_that_gives_up_withdraws_the_question_and_nothing_is_signed(
    tmp_path: Path,
) -> None:
    homes = make_homes(tmp_path)
    asked = anyio.Event()
    answer_now = anyio.Event()

    async def slow_person(invoice: Invoice, sas: str) -> Decision:
        asked.set()
        await answer_now.wait()  # the person answers "yes" too late: after the payee left
        return Decision(approve=True)

    with homes.open_payer() as payer_wallet, homes.open_payee() as payee_wallet:
        payer = PayerRole(wallet=payer_wallet, approver=slow_person)
        payee = PayeeRole(
            wallet=payee_wallet,
            choice=PayerChoice(listen=0.2, within=10),
            attempts=1,
            timeouts=Timeouts(payment_ms=1_500),  # the payee waits 1.5 s for the payment
        )
        invoice = payee.new_invoice(amount=4_00, currency="EUR")
        with anyio.fail_after(20):
            payer_out, payee_out = await pay_on_virtual_radio(payer, payee, invoice)
        assert asked.is_set()
        answer_now.set()
        assert payee_out.error == "SESSION_PAYMENT_TIMEOUT"
        # Its Abort, or the link going down right after it: either way the question is gone.
        assert payer_out.status == "failed"
        assert payer_out.error in {"SESSION_PAYMENT_TIMEOUT", "LINK_LOST"}
        assert payer_wallet.store.payments.payment(invoice.doc.id) is None
        assert spent(payer_wallet) == 0
        assert payer_wallet.store.allowances.payer_position().next_counter == 1


async def test_the_terminal_prompt_can_be_withdrawn_and_drops_stale_answers() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "r") as stdin, os.fdopen(write_end, "w") as typing:
        prompt = TerminalPrompt(stdin=stdin, stderr=io.StringIO())
        with anyio.move_on_after(0.3) as withdrawn:
            await prompt("first? ")  # nobody answers: withdrawn, not stuck
        assert withdrawn.cancelled_caught
        typing.write("y\n")  # typed for the withdrawn question
        typing.flush()
        await anyio.sleep(0.2)
        with anyio.move_on_after(0.3) as second:
            await prompt("second? ")
        assert second.cancelled_caught  # the stale "y" did not answer it
        answers: list[str] = []
        answered = anyio.Event()
        async with anyio.create_task_group() as tg:

            async def ask() -> None:
                answers.append(await prompt("third? "))
                answered.set()

            tg.start_soon(ask)
            await anyio.sleep(0.2)  # the question is open now
            typing.write("n\n")
            typing.flush()
            with anyio.fail_after(2):
                await answered.wait()
        assert answers == ["n\n"]


async def test_an_approver_that_fails_raises_its_own_error_and_signs_nothing(
    tmp_path: Path,
) -> None:
    from p2ppay.errors import AppError, AppErrorCode

    homes = make_homes(tmp_path)

    async def broken(invoice: Invoice, sas: str) -> Decision:
        raise AppError(AppErrorCode.STORE_IO, "the approval log is unwritable")

    with homes.open_payer() as payer_wallet, homes.open_payee() as payee_wallet:
        payer = PayerRole(wallet=payer_wallet, approver=broken)
        payee = PayeeRole(wallet=payee_wallet, choice=PayerChoice(listen=0.2, within=10))
        invoice = payee.new_invoice(amount=1_00, currency="EUR")
        # The payer's task raises the error itself (the radio helper's own task group wraps
        # it once): not an ExceptionGroup from inside the payer's role.
        with anyio.fail_after(20), pytest.RaisesGroup(AppError) as err:
            await pay_on_virtual_radio(payer, payee, invoice)
        (raised,) = err.value.exceptions
        assert isinstance(raised, AppError) and raised.code is AppErrorCode.STORE_IO
        assert spent(payer_wallet) == 0
