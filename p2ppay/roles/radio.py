"""Where the application meets the byte pipe: the payer's Info and the adapter factories.

``gatt`` knows nothing of protocol versions; this module tells it what to advertise in the
Info characteristic (the versions and the largest message this build accepts), so a payee
can refuse an incompatible payer before any handshake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from gatt.adapters import DEFAULT_ADAPTER, open_central, open_peripheral
from gatt.link import Central, LinkOptions, Peripheral
from gatt.spec import Info
from protocol import Invoice, SignedDocument
from protocol.negotiation import SUPPORTED_VERSIONS

if TYPE_CHECKING:
    from p2ppay.roles import PayeeRole, PayerRole, SessionOutcome

__all__ = [
    "DEFAULT_ADAPTER",
    "MAX_MESSAGE_SIZE",
    "PAYER_INFO",
    "pay_on_virtual_radio",
    "payee_central",
    "payer_peripheral",
]

MAX_MESSAGE_SIZE = 4096
"""Largest session message either role accepts (a payment with its allowance is ~600 bytes)."""

PAYER_INFO = Info(versions=tuple(SUPPORTED_VERSIONS), max_message_size=MAX_MESSAGE_SIZE)
"""What the payer's Info characteristic says."""


def payer_peripheral(adapter: str, options: LinkOptions | None = None) -> Peripheral:
    """An unstarted peripheral for the payer role on ``adapter``."""
    return open_peripheral(adapter, info=PAYER_INFO, options=options)


def payee_central(adapter: str, options: LinkOptions | None = None) -> Central:
    """An unstarted central for the payee role on ``adapter``."""
    return open_central(adapter, options=options)


async def pay_on_virtual_radio(
    payer: PayerRole,
    payee: PayeeRole,
    invoice: SignedDocument[Invoice],
    *,
    mtu: int = 247,
) -> tuple[SessionOutcome, SessionOutcome]:
    """One payer session and one payee collection on a fresh in-process virtual radio.

    Returns (payer outcome, payee outcome). For the demo, the examples and tests: both roles
    live in this process, on real Bumble ATT/GATT. Bound it with ``anyio.fail_after``.
    """
    from gatt.bumble_backend import VirtualRadio

    radio = VirtualRadio()
    options = LinkOptions(max_att_mtu=mtu)
    served: list[SessionOutcome] = []
    async with (
        radio.open_peripheral(info=PAYER_INFO, options=options) as peripheral,
        radio.open_central(options=options) as central,
    ):

        async def serve() -> None:
            served.append(await payer.serve_one(peripheral))

        async with anyio.create_task_group() as tg:
            tg.start_soon(serve)
            collected = await payee.collect(central, invoice)
    return served[0], collected
