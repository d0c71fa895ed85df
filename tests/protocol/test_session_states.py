"""Every (state, input) pair: sessions only ever raise ProtocolError and stay in a known state.

Each state is reached by driving real sessions (no private pokes); then Hypothesis throws
any input at it: arbitrary bytes, well-framed garbage, timers, and every app call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import LocalProtocolError
from protocol.framing import chunk_message
from protocol.session import (
    NEED_DATA,
    PAYEE_TRANSITIONS,
    PAYER_TRANSITIONS,
    Input,
    PayeeSession,
    PayeeState,
    PayerSession,
    PayerState,
    PersistRequired,
)
from tests.protocol.session_kit import NOW_MS, PayeeApp, PayerApp, make_invoice, run


@dataclass
class Reached:
    """A session in a given state, with its peer and the record id it waits for, if any."""

    session: PayerSession | PayeeSession
    peer: PayerSession | PayeeSession
    record_id: str | None


def _pump(a: PayerSession | PayeeSession, b: PayerSession | PayeeSession) -> None:
    for chunk in a.data_to_send():
        b.receive_data(chunk, NOW_MS)


def _last_record(session: PayerSession | PayeeSession) -> str | None:
    record = None
    while (event := session.next_event()) is not NEED_DATA:
        if isinstance(event, PersistRequired):
            record = event.record_id
    return record


def _payer_in(state: PayerState) -> Reached:
    payer_app, payee_app = PayerApp(approve=state is not PayerState.FAILED), PayeeApp()
    payer, payee = payer_app.session(), payee_app.session(make_invoice())
    if state in (PayerState.COMPLETED, PayerState.FAILED):
        run(payer, payee, payer_app, payee_app)
        return Reached(session=payer, peer=payee, record_id=None)
    if state is PayerState.AWAIT_OFFER:
        return Reached(session=payer, peer=payee, record_id=None)
    payee.start(NOW_MS)
    _pump(payee, payer)
    if state is PayerState.AWAIT_INVOICE:
        return Reached(session=payer, peer=payee, record_id=None)
    _pump(payer, payee)
    _pump(payee, payer)
    _last_record(payer)
    if state is PayerState.AWAIT_APPROVAL:
        return Reached(session=payer, peer=payee, record_id=None)
    payer.approve()
    record = _last_record(payer)
    if state is PayerState.AWAIT_PAYMENT_PERSISTED:
        return Reached(session=payer, peer=payee, record_id=record)
    assert record is not None
    payer.persisted(record)
    assert state is PayerState.AWAIT_RECEIPT
    return Reached(session=payer, peer=payee, record_id=None)


def _payee_in(state: PayeeState) -> Reached:
    payer_app, payee_app = PayerApp(approve=state is not PayeeState.FAILED), PayeeApp()
    payer, payee = payer_app.session(), payee_app.session(make_invoice())
    if state in (PayeeState.COMPLETED, PayeeState.FAILED):
        run(payer, payee, payer_app, payee_app)
        return Reached(session=payee, peer=payer, record_id=None)
    if state is PayeeState.READY:
        return Reached(session=payee, peer=payer, record_id=None)
    payee.start(NOW_MS)
    if state is PayeeState.AWAIT_ANSWER:
        return Reached(session=payee, peer=payer, record_id=None)
    _pump(payee, payer)
    _pump(payer, payee)
    if state is PayeeState.AWAIT_PAYMENT:
        return Reached(session=payee, peer=payer, record_id=None)
    _pump(payee, payer)
    _last_record(payer)
    payer.approve()
    record = _last_record(payer)
    assert record is not None
    payer.persisted(record)
    _pump(payer, payee)
    record = _last_record(payee)
    if state is PayeeState.AWAIT_PAYMENT_PERSISTED:
        return Reached(session=payee, peer=payer, record_id=record)
    assert record is not None
    payee.persisted(record)
    assert state is PayeeState.AWAIT_RECEIPT_PERSISTED
    return Reached(session=payee, peer=payer, record_id=_last_record(payee))


@dataclass(frozen=True)
class Action:
    """One input; ``app`` inputs may raise LocalProtocolError, wire and timer inputs never."""

    app: bool
    run: Callable[[Reached], None]


def _receive(data: bytes, offset: int) -> Action:
    return Action(False, lambda r: r.session.receive_data(data, NOW_MS + offset))


def _framed(payload: bytes, offset: int) -> Action:
    chunk = chunk_message(payload, 512)[0]
    return Action(False, lambda r: r.session.receive_data(chunk, NOW_MS + offset))


def _from_peer(_: int) -> Action:
    def act(r: Reached) -> None:
        for chunk in r.peer.data_to_send():
            r.session.receive_data(chunk, NOW_MS)

    return Action(False, act)


def _timer(offset: int) -> Action:
    return Action(False, lambda r: r.session.handle_timer(NOW_MS + offset))


def _app_call(name: str, right_id: bool) -> Action:
    def act(r: Reached) -> None:
        session = r.session
        if name == "persisted":
            session.persisted(r.record_id if right_id and r.record_id else "payment:00")
        elif name == "start" and isinstance(session, PayeeSession):
            session.start(NOW_MS)
        elif name == "approve" and isinstance(session, PayerSession):
            session.approve()
        elif name == "decline" and isinstance(session, PayerSession):
            session.decline("no")

    return Action(True, act)


OFFSETS = st.integers(min_value=-1000, max_value=400_000)
ACTIONS = st.one_of(
    st.builds(_receive, st.binary(max_size=600), OFFSETS),
    st.builds(_framed, st.binary(min_size=1, max_size=400), OFFSETS),
    st.builds(_from_peer, st.just(0)),
    st.builds(_timer, OFFSETS),
    st.builds(
        _app_call, st.sampled_from(["persisted", "start", "approve", "decline"]), st.booleans()
    ),
)


def _apply(
    reached: Reached,
    actions: list[Action],
    table: Mapping[tuple[Any, Input], Any],
    states: type[Enum],
) -> None:
    for action in actions:
        before = reached.session.state
        try:
            action.run(reached)
        except LocalProtocolError:
            assert action.app, "only app inputs may raise"
            assert reached.session.state is before  # misuse changes nothing
        after = reached.session.state
        assert isinstance(after, states)
        allowed = {before} | {t for (s, _), t in table.items() if s is before}
        assert after in allowed, (before, after)
        while reached.session.next_event() is not NEED_DATA:
            pass


@settings(max_examples=100, deadline=None)
@given(state=st.sampled_from(list(PayerState)), actions=st.lists(ACTIONS, min_size=1, max_size=4))
def test_payer_survives_any_input_in_any_state(state: PayerState, actions: list[Action]) -> None:
    reached = _payer_in(state)
    assert reached.session.state is state
    _apply(reached, actions, PAYER_TRANSITIONS, PayerState)


@settings(max_examples=100, deadline=None)
@given(state=st.sampled_from(list(PayeeState)), actions=st.lists(ACTIONS, min_size=1, max_size=4))
def test_payee_survives_any_input_in_any_state(state: PayeeState, actions: list[Action]) -> None:
    reached = _payee_in(state)
    assert reached.session.state is state
    _apply(reached, actions, PAYEE_TRANSITIONS, PayeeState)


def test_every_non_terminal_state_can_fail_and_terminal_states_cannot_move() -> None:
    for table, states, ends in (
        (PAYER_TRANSITIONS, PayerState, (PayerState.COMPLETED, PayerState.FAILED)),
        (PAYEE_TRANSITIONS, PayeeState, (PayeeState.COMPLETED, PayeeState.FAILED)),
    ):
        sources = {source for source, _ in table}
        assert sources == set(states) - set(ends)
        assert all(target in states for target in table.values())


FIXED_ACTIONS = {
    "garbage": _receive(b"\xff" * 30, 0),
    "empty": _receive(b"", 0),
    "framed garbage": _framed(b"\x00" * 100, 0),
    "next from peer": _from_peer(0),
    "timer far ahead": _timer(10**9),
    "persisted right id": _app_call("persisted", True),
    "persisted wrong id": _app_call("persisted", False),
    "start": _app_call("start", True),
    "approve": _app_call("approve", True),
    "decline": _app_call("decline", True),
}


@pytest.mark.parametrize("action", list(FIXED_ACTIONS))
@pytest.mark.parametrize("state", list(PayerState))
def test_every_payer_state_and_input_kind(state: PayerState, action: str) -> None:
    _apply(_payer_in(state), [FIXED_ACTIONS[action]], PAYER_TRANSITIONS, PayerState)


@pytest.mark.parametrize("action", list(FIXED_ACTIONS))
@pytest.mark.parametrize("state", list(PayeeState))
def test_every_payee_state_and_input_kind(state: PayeeState, action: str) -> None:
    _apply(_payee_in(state), [FIXED_ACTIONS[action]], PAYEE_TRANSITIONS, PayeeState)
