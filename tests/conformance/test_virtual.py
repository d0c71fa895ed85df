"""The conformance runner against our own payer and payee on Bumble's virtual radio.

Real ATT/GATT, real sessions, real stores on both sides: every case passes against the
devices we build, and a payer that leaks the real refusal code (breaking the identity-hiding
rule of SESSIONS.md 1.1) fails exactly the cases that check it: the runner can fail.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from anyio.abc import TaskGroup
from nacl.signing import SigningKey

from gatt.bumble_backend import VirtualRadio
from gatt.link import Central, LinkOptions
from p2ppay.conformance import (
    Action,
    Case,
    Context,
    Radio,
    Report,
    Role,
    cases_for,
    run_cases,
    throwaway_allowance,
)
from p2ppay.roles import AutoApprovalLimits, CappedAutoApprove, PayeeRole, PayerRole
from p2ppay.roles.radio import PAYER_INFO
from p2ppay.roles.selection import PayerChoice
from p2ppay.wallet import Wallet
from protocol import Invoice, SignedDocument
from protocol.keys import public_key
from tests.world import Homes, make_homes

pytestmark = pytest.mark.anyio

AMOUNT = 1_00


def _clock() -> int:
    return time.time_ns() // 1_000_000


def _payer_role(wallet: Wallet, progress: Callable[[str], None]) -> PayerRole:
    limits = AutoApprovalLimits(currency="EUR", per_payment=20_00, total=100_00, count=10)
    return PayerRole(
        wallet=wallet,
        approver=CappedAutoApprove(limits=limits),
        progress=progress,
    )


@asynccontextmanager
async def _payer_dut(homes: Homes, radio: VirtualRadio, mtu: int) -> AsyncIterator[None]:
    """Our payer serving payees one after another, auto-approving up to 20.00 EUR."""
    options = LinkOptions(max_att_mtu=mtu)
    advertising = anyio.Event()

    def progress(line: str) -> None:
        nonlocal advertising
        if line.startswith("advertising as payer"):
            advertising.set()
        elif line.startswith("payee connected"):
            advertising = anyio.Event()

    with homes.open_payer() as wallet:
        role = _payer_role(wallet, progress)
        async with radio.open_peripheral(info=PAYER_INFO, options=options) as peripheral:

            async def serve() -> None:
                while True:
                    await role.serve_one(peripheral)

            async with anyio.create_task_group() as tg:
                tg.start_soon(serve)
                yield
                # Leave it waiting, not half-way through starting to advertise (Bumble
                # drops a command answer cancelled mid-way on the floor, loudly).
                with anyio.fail_after(30):
                    await advertising.wait()
                await anyio.sleep(0.3)
                tg.cancel_scope.cancel()


async def _run_against_payer(homes: Homes, mtu: int = 247) -> Report:
    radio = VirtualRadio()
    async with (
        _payer_dut(homes, radio, mtu),
        radio.open_central(options=LinkOptions(max_att_mtu=mtu)) as central,
    ):
        ctx = Context(
            radio=Radio(central=central, within=20),
            operator=_nobody,
            clock=_clock,
            amount=AMOUNT,
            currency="EUR",
        )
        report = Report(role=Role.PAYER, adapter="virtual", amount="1.00", currency="EUR")
        with anyio.fail_after(240):
            return await run_cases(ctx, Role.PAYER, cases_for(Role.PAYER), report)


async def _nobody(case: Case, action: Action) -> None:
    """The payer DUT needs no person: it auto-approves, and declines past its limits."""


def _failed(report: Report) -> dict[str, str]:
    return {r.case.name: r.got() for r in report.results if not r.passed}


@pytest.mark.parametrize("mtu", [23, 247])
async def test_our_payer_passes_every_case(tmp_path: Path, mtu: int) -> None:
    homes = make_homes(tmp_path)
    report = await _run_against_payer(homes, mtu)
    assert [r.case.name for r in report.results] == [c.name for c in cases_for(Role.PAYER)]
    assert report.passed, "\n".join(report.lines())
    # It paid twice (happy path, and once for the cut-and-resumed invoice), never more.
    with homes.open_payer() as wallet:
        allowance = wallet.store.allowances.payer_position().allowance
        assert allowance is not None and allowance.spent_minor == 2 * AMOUNT


async def test_a_payer_that_leaks_refusal_codes_fails_the_cases_that_check_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A payer that tells the payee why it refuses (its wallet cannot pay; its clock says the
    invoice expired) instead of SESSION_DECLINED fails those two cases, and only those."""
    import protocol.session.payer as payer_session

    monkeypatch.setattr(payer_session, "refusal_code", lambda code: code)
    report = await _run_against_payer(make_homes(tmp_path))
    assert not report.passed
    failed = _failed(report)
    assert set(failed) == {"decline", "stale-invoice"}, failed
    assert "712 SESSION_WALLET_CANNOT_PAY" in failed["decline"]
    assert "217 DOC_EXPIRED" in failed["stale-invoice"]


class _PayeeOperator:
    """Does on our payee what the runner asks: a new request, or resume the last one."""

    def __init__(self, role: PayeeRole, central: Central, tg: TaskGroup) -> None:
        self.role, self.central, self.tg = role, central, tg
        self.invoice: SignedDocument[Invoice] | None = None
        self.done = anyio.Event()
        self.done.set()
        self.asked: list[tuple[str, Action]] = []

    async def __call__(self, case: Case, action: Action) -> None:
        self.asked.append((case.name, action))
        await self.done.wait()  # the previous request ended
        if action is Action.REQUEST:
            self.invoice = self.role.new_invoice(amount=AMOUNT, currency="EUR")
        assert self.invoice is not None
        self.done = anyio.Event()
        self.tg.start_soon(self._collect, self.invoice, self.done)

    async def _collect(self, invoice: SignedDocument[Invoice], done: anyio.Event) -> None:
        try:
            await self.role.collect(self.central, invoice)
        finally:
            done.set()


async def _run_against_payee(homes: Homes, issuer: SigningKey, mtu: int = 247) -> Report:
    radio = VirtualRadio()
    options = LinkOptions(max_att_mtu=mtu)
    with homes.open_payee() as wallet:
        role = PayeeRole(wallet=wallet, attempts=1, choice=PayerChoice(within=20))
        async with (
            radio.open_central(options=options) as central,
            radio.open_peripheral(info=PAYER_INFO, options=options) as peripheral,
            anyio.create_task_group() as tg,
        ):
            operator = _PayeeOperator(role, central, tg)
            identity = SigningKey.generate()
            now = _clock() // 1000
            ctx = Context(
                radio=Radio(peripheral=peripheral, within=30),
                operator=operator,
                clock=_clock,
                amount=AMOUNT,
                currency="EUR",
                identity=identity,
                allowance=throwaway_allowance(
                    issuer, identity, currency="EUR", amount=AMOUNT, now=now, serial=1
                ),
            )
            report = Report(role=Role.PAYEE, adapter="virtual", amount="1.00", currency="EUR")
            with anyio.fail_after(240):
                await run_cases(ctx, Role.PAYEE, cases_for(Role.PAYEE), report)
            await operator.done.wait()
            tg.cancel_scope.cancel()
    return report


@pytest.mark.parametrize("mtu", [23, 247])
async def test_our_payee_passes_every_case(tmp_path: Path, mtu: int) -> None:
    homes = make_homes(tmp_path)
    issuer = SigningKey.generate()
    with homes.open_payee() as wallet:
        wallet.trust_issuer(public_key(issuer), now=_clock() // 1000)
    report = await _run_against_payee(homes, issuer, mtu)
    assert report.passed, "\n".join(report.lines())
    assert [r.case.name for r in report.results] == [c.name for c in cases_for(Role.PAYEE)]


async def test_a_payee_whose_aborts_name_no_invoice_fails_the_cases_that_abort(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A payee that signs its ABORTs without the session's invoice hash (SESSIONS.md 3.4: an
    ABORT names the session it ends, so it cannot be replayed into another) fails exactly the
    three cases where it must abort; the runner reports the ABORT as not verifying."""
    import protocol.session.payee as payee_session

    monkeypatch.setattr(payee_session.PayeeSession, "_session_hashes", lambda self: (None, None))
    homes = make_homes(tmp_path)
    issuer = SigningKey.generate()
    with homes.open_payee() as wallet:
        wallet.trust_issuer(public_key(issuer), now=_clock() // 1000)
    report = await _run_against_payee(homes, issuer)
    failed = _failed(report)
    assert set(failed) == {"unknown-currency", "forged-signature", "stale-payment"}, failed
    assert all("710 SESSION_DOCUMENT_MISMATCH" in got for got in failed.values()), failed
