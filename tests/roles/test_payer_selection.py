"""Choosing the payer on the real virtual radio: a copied session tag is never guessed between.

The attack: a stranger's phone reads the payer's tag off the air and advertises it too, louder.
The payee must refuse (PAYER_AMBIGUOUS) rather than connect to whoever advertised first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from gatt.bumble_backend import VirtualRadio
from gatt.spec import new_session_tag
from p2ppay.errors import AppError, AppErrorCode
from p2ppay.roles import PayerChoice, choose_payer
from tests.gatt.virtual import INFO

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def _advertising(radio: VirtualRadio, *adverts: tuple[str, int]) -> AsyncIterator[None]:
    """Peripherals advertising ``(tag, rssi)`` each, until the block ends."""
    async with anyio.create_task_group() as tg:
        for tag, rssi in adverts:
            peripheral = await tg.start(_advertise, radio, tag, rssi)
            assert peripheral is not None
        yield
        tg.cancel_scope.cancel()


async def _advertise(
    radio: VirtualRadio, tag: str, rssi: int, *, task_status: anyio.abc.TaskStatus[object]
) -> None:
    async with radio.open_peripheral(info=INFO, rssi=rssi) as peripheral:
        task_status.started(peripheral)
        await peripheral.accept(tag=tag)


async def _choose(radio: VirtualRadio, choice: PayerChoice) -> str:
    async with radio.open_central() as central:
        with anyio.fail_after(10):
            return (await choose_payer(central, choice)).tag


async def test_a_tag_heard_from_two_addresses_is_refused() -> None:
    radio, tag = VirtualRadio(), new_session_tag()
    async with _advertising(radio, (tag, -60), (tag, -40)):  # the squatter is louder
        with pytest.raises(AppError) as err:
            await _choose(radio, PayerChoice(tag=tag, tag_listen=0.5, within=5))
    assert err.value.code is AppErrorCode.PAYER_AMBIGUOUS
    assert tag in err.value.message


async def test_without_a_tag_a_copied_tag_on_the_strongest_payer_is_refused() -> None:
    radio, tag = VirtualRadio(), new_session_tag()
    async with _advertising(radio, (tag, -70), (tag, -40), (new_session_tag(), -90)):
        with pytest.raises(AppError) as err:
            await _choose(radio, PayerChoice(listen=0.5, within=5))
    assert err.value.code is AppErrorCode.PAYER_AMBIGUOUS


async def test_one_payer_with_the_tag_is_chosen_among_others() -> None:
    radio, tag = VirtualRadio(), new_session_tag()
    async with _advertising(radio, (tag, -60), (new_session_tag(), -40)):
        chosen = await _choose(radio, PayerChoice(tag=tag, tag_listen=0.3, within=5))
    assert chosen == tag


async def test_a_clear_winner_is_chosen_well_before_the_listening_window_ends() -> None:
    radio, near = VirtualRadio(), new_session_tag()
    async with (
        _advertising(radio, (near, -40), (new_session_tag(), -80)),
        radio.open_central() as central,
    ):
        # A 60-second window that is waited out fails here: the choice must come early.
        with anyio.fail_after(10):
            chosen = await choose_payer(
                central, PayerChoice(listen=60.0, settle=0.2, margin_db=6, within=70)
            )
    assert chosen.tag == near


async def test_payers_equally_close_are_still_refused_after_the_whole_window() -> None:
    radio = VirtualRadio()
    async with _advertising(radio, (new_session_tag(), -50), (new_session_tag(), -52)):
        with pytest.raises(AppError) as err:
            await _choose(radio, PayerChoice(listen=0.6, settle=0.2, margin_db=6, within=5))
    assert err.value.code is AppErrorCode.PAYER_AMBIGUOUS
