"""Where the application meets the byte pipe: the payer's Info and the adapter factories.

``gatt`` knows nothing of protocol versions; this module tells it what to advertise in the
Info characteristic (the versions and the largest message this build accepts), so a payee
can refuse an incompatible payer before any handshake.
"""

from __future__ import annotations

from gatt.adapters import DEFAULT_ADAPTER, open_central, open_peripheral
from gatt.link import Central, LinkOptions, Peripheral
from gatt.spec import Info
from protocol.negotiation import SUPPORTED_VERSIONS

__all__ = ["DEFAULT_ADAPTER", "MAX_MESSAGE_SIZE", "PAYER_INFO", "payee_central", "payer_peripheral"]

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
