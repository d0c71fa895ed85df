"""Pieces both Bumble roles share: hosts, advertising format, addresses, error translation.

Invariants:
- A :class:`HostOpener` yields a powered-off Bumble ``Device`` and takes back everything it
  opened (controller on the virtual radio, or transport) in ``close``; roles never open HCI
  themselves, so ``virtual`` and ``bumble:<transport>`` differ only here.
- Every device gets a fresh random static address when opened and again per session
  (:func:`rotate_address`), so nothing on air links two sessions.
- Bumble exceptions never leave the backend: :func:`translated` turns them, and the
  ``CancelledError`` Bumble uses to abort a pending ATT request on disconnection, into
  :class:`~gatt.errors.LinkClosed` (a real cancellation of the caller is re-raised).
  A failure of the adapter itself (an HCI command unanswered: Bumble's
  ``CommandTimeoutError``, or refused, or its transport gone) while opening it
  (:func:`opening`) or driving it between sessions (:func:`hci_step`: addresses,
  advertising, scanning) is :class:`~gatt.errors.AdapterUnavailable`; while closing it
  (:func:`closing`) it is swallowed, within a bound, so a wedged controller never turns a
  clean stop into a traceback or a hang.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import anyio
from bumble import core, hci
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Device

from gatt.errors import AdapterUnavailable, LinkClosed
from gatt.spec import ServiceSpec, local_name_for, tag_from_local_name

_BUMBLE_FAILURES = (core.BaseBumbleError, OSError)
"""What a Bumble device call raises when the controller or its transport fails."""

DEVICE_NAME = "pp"
"""GAP device name of every device: the same for all, so it identifies nobody."""
ADVERTISING_INTERVAL_MS = 20.0
"""Fast advertising (the minimum the Core spec allows): a session is short and face to face."""
_FLAGS_LE_GENERAL_NO_BREDR = bytes([0x06])


class HostOpener(ABC):
    """Opens and closes the HCI side of one Bumble device."""

    @abstractmethod
    async def open(self) -> Device:
        """A new, powered-off Device with a random static address. AdapterUnavailable."""

    @abstractmethod
    async def close(self) -> None:
        """Power the device off and release its controller or transport. Idempotent."""

    def lost(self) -> str | None:
        """Why the HCI side went away while open (its transport closed), else None.

        Bumble fails only the HCI command pending at that moment; later commands would wait
        for an answer that never comes, so the roles check this first."""
        return None

    def on_lost(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` once if the HCI side goes away; returns an unsubscribe."""
        return lambda: None


class TaskSet:
    """Fire-and-forget tasks spawned from Bumble's synchronous callbacks, kept referenced
    and awaited on close so none outlives its owner."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` in the background; its errors are swallowed (best effort)."""

        async def guarded() -> None:
            with suppress(core.BaseBumbleError, OSError, TimeoutError, asyncio.CancelledError):
                await coroutine

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Wait for the pending tasks (cancelling them if they take more than a second)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=1.0)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


def advertising_data(spec: ServiceSpec, tag: str) -> bytes:
    """Flags, the 128-bit service UUID, and the complete local name ``pp<tag>``: 31 bytes,
    so it fits one legacy advertising PDU (no scan response needed)."""
    return bytes(
        AdvertisingData(
            [
                (AdvertisingData.FLAGS, _FLAGS_LE_GENERAL_NO_BREDR),
                (
                    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                    core.UUID(str(spec.uuid)).to_bytes(force_128=True),
                ),
                (AdvertisingData.COMPLETE_LOCAL_NAME, local_name_for(tag).encode()),
            ]
        )
    )


def tag_of(advertisement: Advertisement, spec: ServiceSpec) -> str | None:
    """The session tag if ``advertisement`` is of our service with a tagged name, else None."""
    data = advertisement.data
    wanted = core.UUID(str(spec.uuid))
    uuids: list[core.UUID] = []
    for kind in (
        AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    ):
        found = data.get(kind)
        if isinstance(found, list):
            uuids.extend(found)
    if wanted not in uuids:
        return None
    for kind in (AdvertisingData.COMPLETE_LOCAL_NAME, AdvertisingData.SHORTENED_LOCAL_NAME):
        name = data.get(kind)
        if isinstance(name, str):
            return tag_from_local_name(name)
    return None


async def rotate_address(device: Device) -> None:
    """Give ``device`` a fresh random static address (only while idle: not advertising,
    scanning or connecting)."""
    address = hci.Address.generate_static_address()
    await device.send_sync_command(hci.HCI_LE_Set_Random_Address_Command(random_address=address))
    device.random_address = address
    device.static_address = address


def new_device(host: Any) -> Device:
    """A Device on ``host`` with the shared name and a random static address."""
    return Device(name=DEVICE_NAME, address=hci.Address.generate_static_address(), host=host)


def _cancelled_by_caller() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Re-raise Bumble failures inside the block as LinkClosed (``what`` names the step)."""
    try:
        yield
    except asyncio.CancelledError:
        if _cancelled_by_caller():
            raise
        # Bumble cancels a pending ATT request's future when the connection drops.
        raise LinkClosed(f"{what}: connection lost") from None
    except (core.BaseBumbleError, OSError) as error:
        raise LinkClosed(f"{what}: {error}") from error


OPEN_TIMEOUT = 15.0
"""Seconds to open a transport and power the controller on; a controller that never answers
(a TCP-hosted one serving another client, a wedged dongle) is AdapterUnavailable, not a hang."""


def describe(error: BaseException) -> str:
    """A Bumble failure in words (some, like ``CommandTimeoutError()``, have no text)."""
    if isinstance(error, core.CommandTimeoutError):
        return (
            "the controller did not answer an HCI command in time "
            "(is another program using the adapter?)"
        )
    return str(error) or type(error).__name__


@contextmanager
def opening(what: str) -> Iterator[None]:
    """Bound opening an adapter by OPEN_TIMEOUT; re-raise failures as AdapterUnavailable."""
    try:
        with anyio.fail_after(OPEN_TIMEOUT):
            yield
    except TimeoutError as error:
        raise AdapterUnavailable(f"{what}: no answer within {OPEN_TIMEOUT:.0f} s") from error
    except (*_BUMBLE_FAILURES, ValueError) as error:
        raise AdapterUnavailable(f"{what}: {describe(error)}") from error


@contextmanager
def hci_step(what: str) -> Iterator[None]:
    """Re-raise the adapter's failure inside the block (an HCI command unanswered or
    refused, the transport gone) as AdapterUnavailable; ``what`` names the step."""
    try:
        yield
    except _BUMBLE_FAILURES as error:
        raise AdapterUnavailable(f"{what}: {describe(error)}") from error


CLOSING_TIMEOUT = 2.0
"""Seconds one closing step (stop advertising or scanning, power off) may take."""


@contextmanager
def closing() -> Iterator[None]:
    """A best-effort closing step: shielded from cancellation, bounded by CLOSING_TIMEOUT,
    and silent about the adapter's failures (what is being closed is going away anyway)."""
    with anyio.move_on_after(CLOSING_TIMEOUT, shield=True), suppress(*_BUMBLE_FAILURES):
        yield
