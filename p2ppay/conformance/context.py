"""What every case script shares: the runner's keys and money, the clock, the waits, the
radio, and what it observed.

The runner never holds real money. Its identity is a throwaway Ed25519 key made for the run.
Testing a payee, it also holds a throwaway allowance granted for the run by a development
issuer (``p2ppay issuer init`` in the runner's ``--home``), which the DUT must trust; testing
a payer, it needs no allowance, and it checks the DUT's payment with the allowance's own
issuer as the trusted one (it tests the protocol, not whom the DUT's issuer is).

Invariants:
- The runner's chain head advances only when a DUT receipted a payment, so every good
  payment it sends is the next link of its chain (a conforming payee checks that).
- A DUT that never shows up raises :class:`DeviceNotFound`, after ``within`` seconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
from nacl.signing import SigningKey

from gatt.errors import GattError, LinkTimeout
from gatt.link import Central, Link, Peripheral
from gatt.spec import new_session_tag
from p2ppay.conformance.cases import Action, Case, Outcome
from p2ppay.conformance.peer import Heard, HeardKind
from p2ppay.roles.driver import Clock
from protocol.chain import ChainHead, head_of
from protocol.documents import Allowance, Payment
from protocol.session.messages import MessageKind
from protocol.verify import SignedDocument

__all__ = ["Context", "DeviceNotFound", "Observed", "Operator", "Radio", "observed_from"]

Operator = Callable[[Case, Action], Awaitable[None]]
"""Tells the person at the DUT what to do for a case (and waits until they are ready, if
it is interactive). Called before each session of a case."""


class DeviceNotFound(Exception):
    """The DUT did not advertise (payer) or connect (payee) within the wait."""


@dataclass(frozen=True, kw_only=True)
class Observed:
    """How one case went, as seen from the runner."""

    outcome: str
    """An :class:`~p2ppay.conformance.cases.Outcome` value."""
    code: int | None = None
    detail: str = ""
    problems: tuple[str, ...] = ()
    """Specification violations found on the way (each fails the case)."""


@dataclass(kw_only=True)
class Radio:
    """The runner's side of the air: a central (testing a payer) or a peripheral (a payee)."""

    central: Central | None = None
    peripheral: Peripheral | None = None
    within: float = 60.0
    """Seconds to wait for the DUT to show up for each session."""

    async def connect(self) -> Link:
        """Find the DUT (the first payer advertising) and connect; DeviceNotFound if none."""
        assert self.central is not None
        with anyio.move_on_after(self.within):
            while True:
                try:
                    found = await self.central.find(within=self.within)
                except LinkTimeout:
                    break
                try:
                    return await self.central.connect(found)
                except GattError:
                    # a stale advertisement (the DUT moved on to a fresh tag): look again
                    await anyio.sleep(0.2)
        raise DeviceNotFound(f"no payer advertising within {self.within:g} s")

    async def accept(self) -> tuple[Link, str]:
        """Advertise with a fresh tag until the DUT starts a session; DeviceNotFound if not."""
        assert self.peripheral is not None
        tag = new_session_tag()
        with anyio.move_on_after(self.within):
            return await self.peripheral.accept(tag=tag), tag
        raise DeviceNotFound(f"no payee connected within {self.within:g} s")


@dataclass(kw_only=True)
class Context:
    """The run's shared state (one per run, used by one case at a time)."""

    radio: Radio
    operator: Operator
    clock: Clock
    amount: int
    """Minor units the runner invoices (payer DUT) or expects to be invoiced (payee DUT)."""
    currency: str
    patience: float = 10.0
    """Seconds the DUT has to answer what needs no person."""
    human_wait: float = 150.0
    """Seconds the DUT has to answer what a person decides (approve, decline)."""
    identity: SigningKey = field(default_factory=SigningKey.generate)
    """The runner's throwaway wallet key."""
    allowance: SignedDocument[Allowance] | None = None
    """Testing a payee: the runner's throwaway allowance."""
    head: ChainHead | None = None
    """The runner's chain head (see the module docstring)."""

    def receipted(self, payment: SignedDocument[Payment]) -> None:
        """A DUT receipted ``payment``: it is the runner's chain head from now on."""
        self.head = head_of(payment)

    def now_s(self) -> int:
        return self.clock() // 1000


def observed_from(heard: Heard, problems: list[str]) -> Observed:
    """How a session that ended on ``heard`` (no payment, no receipt) went."""
    if heard.is_message(MessageKind.REFUSAL):
        outcome = Outcome.REFUSAL
    elif heard.is_message(MessageKind.ABORT):
        outcome = Outcome.ABORT
    elif heard.kind is HeardKind.CLOSED:
        outcome = Outcome.HANG_UP
    elif heard.kind is HeardKind.SILENT:
        outcome = Outcome.SILENT
    else:
        outcome = Outcome.OTHER
    return Observed(
        outcome=outcome,
        code=heard.code if outcome in (Outcome.REFUSAL, Outcome.ABORT) else None,
        detail=heard.describe(),
        problems=tuple(problems),
    )
