"""Whole payments in one process over the memory radio, with crashes and link faults injected.

A "crash" here is :class:`SimulatedCrash` raised by a :class:`~p2ppay.roles.crashpoints.CrashPlan`
at the same points where the product would call ``os._exit``: the crashing side's wallet is
then dropped and reopened from disk (the store's recovery runs), exactly as after a restart.
Every money step is its own SQLite transaction and crash points sit between them, so what
is on disk at the crash is what a killed process would leave; the subprocess tests
(``test_crash_processes``) prove the same with real ``os._exit``.

The side that did not crash sees the link close (the crashing side's link is closed as its
stack unwinds, as the radio would drop it) and ends its session on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import anyio

from gatt.link import LinkOptions
from gatt.memory import MemoryFaults, MemoryRadio
from gatt.spec import SERVICE
from p2ppay.roles import AutoApprove, PayeeRole, PayerChoice, PayerRole, SessionOutcome
from p2ppay.roles.crashpoints import NEVER, CrashPlan, CrashPoint
from p2ppay.roles.radio import PAYER_INFO
from p2ppay.wallet import Wallet
from protocol import Invoice, SignedDocument
from tests.world import Homes, make_homes

__all__ = ["CRASHED", "QUICK", "Run", "SimulatedCrash", "World", "crash_plan", "payer_role"]

QUICK = PayerChoice(listen=0.0, within=5.0, margin_db=-1)
"""Take the first payer seen (there is only one on a test radio)."""

CRASHED = "crashed"
"""The status of a side that died at its crash point."""


class SimulatedCrash(BaseException):
    """Raised at a crash point in-process (BaseException: no ``except Exception`` eats it)."""

    def __init__(self, point: CrashPoint) -> None:
        super().__init__(point.value)
        self.point = point


def _raise(point: CrashPoint) -> None:
    raise SimulatedCrash(point)


def crash_plan(point: CrashPoint | None, role: str) -> CrashPlan:
    """The plan for ``role`` (payer/payee): crash at ``point`` if it is one of that role's."""
    if point is None or point.role != role:
        return NEVER
    return CrashPlan(at=point, crash=_raise)


@dataclass(frozen=True, kw_only=True)
class Run:
    """How one attempt ended on each side (a status, or CRASHED)."""

    payer: str
    payee: str
    payer_error: str | None = None
    payee_error: str | None = None


@dataclass(kw_only=True)
class World:
    """An issuer, a payer and a payee with real homes; payments between them."""

    homes: Homes
    amounts: list[int] = field(default_factory=list)

    @classmethod
    def make(cls, root: Path, *, limit: int = 500_00) -> World:
        return cls(homes=make_homes(root, limit=limit))

    def invoice(self, amount: int, *, memo: str = "") -> SignedDocument[Invoice]:
        """A new invoice, signed and stored by the payee."""
        with self.homes.open_payee() as payee:
            return PayeeRole(wallet=payee).new_invoice(amount=amount, currency="EUR", memo=memo)

    async def attempt(
        self,
        invoice: SignedDocument[Invoice],
        *,
        faults: MemoryFaults | None = None,
        mtu: int = 247,
        crash_at: CrashPoint | None = None,
        limit: float = 30,
    ) -> Run:
        """One session for ``invoice``, each side with a freshly opened wallet."""
        radio = MemoryRadio()
        options = LinkOptions(max_att_mtu=mtu)
        faults = faults or MemoryFaults(att_mtu=mtu)
        ends: dict[str, tuple[str, str | None]] = {}
        with self.homes.open_payer() as payer_wallet, self.homes.open_payee() as payee_wallet:
            payer = payer_role(payer_wallet, crash_plan(crash_at, "payer"))
            payee = PayeeRole(
                wallet=payee_wallet, choice=QUICK, attempts=1, crash=crash_plan(crash_at, "payee")
            )
            async with (
                radio.open_peripheral(
                    spec=SERVICE, info=PAYER_INFO, options=options, faults=faults
                ) as peripheral,
                radio.open_central(spec=SERVICE, options=options, faults=faults) as central,
            ):

                async def serve() -> None:
                    ends["payer"] = await _side(payer.serve_one(peripheral))

                with anyio.fail_after(limit):
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(serve)
                        ends["payee"] = await _side(payee.collect(central, invoice))
        return Run(
            payer=ends["payer"][0],
            payee=ends["payee"][0],
            payer_error=ends["payer"][1],
            payee_error=ends["payee"][1],
        )


def payer_role(wallet: Wallet, crash: CrashPlan = NEVER) -> PayerRole:
    """A payer that approves anything up to 1000.00 EUR."""
    return PayerRole(
        wallet=wallet, approver=AutoApprove(limit=1_000_00, currency="EUR"), crash=crash
    )


async def _side(work: object) -> tuple[str, str | None]:
    try:
        outcome: SessionOutcome = await work  # type: ignore[misc]
    except SimulatedCrash as crash:
        return CRASHED, crash.point.value
    return outcome.status, outcome.error
