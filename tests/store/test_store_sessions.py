"""The session log: transitions as data, endings derived from what is durable, history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store import TRANSITIONS, AllowanceRecord, SessionStatus, Side, Store
from tests.store.records import (
    NOW,
    PAYEE,
    allowance,
    invoice,
    next_link,
    open_store,
    outgoing,
    receipt,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "store.sqlite3") as s:
        s.allowances.import_allowance(allowance(), now=NOW)
        yield s


def _payer_pays(store: Store, session_id: str, n: int = 1) -> bytes:
    inv = invoice(n)
    store.payments.record_invoice(inv, now=NOW, session_id=session_id)
    payment = outgoing(inv, next_link(store, amount=inv.amount_minor))
    store.payments.persist_outgoing(payment, now=NOW, session_id=session_id)
    return payment.payment_hash


def test_every_state_of_each_role_is_reachable_only_through_the_table() -> None:
    for role, table in TRANSITIONS.items():
        for state, targets in table.items():
            assert targets <= set(table), (role, state)
    assert SessionStatus.RECEIPT_PERSISTED not in TRANSITIONS[Side.PAYER]


def test_a_transition_outside_the_table_is_refused(store: Store) -> None:
    session = store.sessions.start(Side.PAYER, now=NOW)
    with pytest.raises(StoreError) as err:
        store.sessions.complete(session.session_id, now=NOW)
    assert err.value.code is AppErrorCode.BAD_TRANSITION
    assert store.sessions.get(session.session_id).state is SessionStatus.OPEN


def test_a_session_that_ends_before_any_payment_failed(store: Store) -> None:
    session = store.sessions.start(Side.PAYER, now=NOW)
    store.payments.record_invoice(invoice(1), now=NOW, session_id=session.session_id)
    ended = store.sessions.fail(session.session_id, now=NOW, error_code=301, detail="declined")
    assert ended.state is SessionStatus.FAILED
    assert (ended.error_code, ended.detail) == (301, "declined")


def test_a_payer_session_that_ends_after_its_payment_is_resumable(store: Store) -> None:
    session = store.sessions.start(Side.PAYER, now=NOW)
    _payer_pays(store, session.session_id)
    ended = store.sessions.fail(session.session_id, now=NOW, error_code=1)
    assert ended.state is SessionStatus.RESUMABLE


def test_a_retry_with_the_same_invoice_resumes_and_completes_both_attempts(store: Store) -> None:
    first = store.sessions.start(Side.PAYER, now=NOW)
    payment_hash = _payer_pays(store, first.session_id)
    store.sessions.fail(first.session_id, now=NOW, error_code=1, detail="link lost")
    inv = invoice(1)
    retry = store.sessions.start(Side.PAYER, now=NOW + 30)
    store.payments.record_invoice(inv, now=NOW + 30, session_id=retry.session_id)
    resumed = store.sessions.get(retry.session_id)
    store.payments.persist_receipt(
        receipt(inv, payment_hash), now=NOW + 31, session_id=retry.session_id
    )
    assert resumed.state is SessionStatus.PAYMENT_PERSISTED
    assert store.sessions.get(first.session_id).state is SessionStatus.COMPLETED
    assert store.sessions.get(retry.session_id).state is SessionStatus.COMPLETED
    allowance_now = store.allowances.payer_position("EUR").allowance
    assert isinstance(allowance_now, AllowanceRecord) and allowance_now.last_counter == 1


def test_history_shows_one_line_per_invoice_and_role(store: Store) -> None:
    first = store.sessions.start(Side.PAYER, now=NOW)
    _payer_pays(store, first.session_id)
    store.sessions.fail(first.session_id, now=NOW, error_code=1)
    retry = store.sessions.start(Side.PAYER, now=NOW + 1)
    store.payments.record_invoice(invoice(1), now=NOW + 1, session_id=retry.session_id)
    lines = [h for h in store.sessions.history() if h.invoice_id == invoice(1).invoice_id]
    assert [h.session_id for h in lines] == [retry.session_id]
    assert lines[0].amount_minor == 100 and lines[0].currency == "EUR" and lines[0].has_payment


def test_history_lists_sessions_that_never_got_an_invoice(store: Store) -> None:
    session = store.sessions.start(Side.PAYEE, now=NOW, peer_label="tag 4F2A")
    store.sessions.fail(session.session_id, now=NOW, error_code=1, detail="scan timeout")
    [line] = store.sessions.history()
    assert line.invoice_id is None and line.status is SessionStatus.FAILED


def test_ending_a_finished_session_again_changes_nothing(store: Store) -> None:
    session = store.sessions.start(Side.PAYER, now=NOW)
    store.sessions.fail(session.session_id, now=NOW, error_code=7)
    again = store.sessions.fail(session.session_id, now=NOW + 9, error_code=8)
    assert again.state is SessionStatus.FAILED and again.error_code == 7


def test_every_state_change_is_in_the_audit_trail(store: Store) -> None:
    session = store.sessions.start(Side.PAYER, now=NOW)
    _payer_pays(store, session.session_id)
    states = [state for _, state, _, _ in store.sessions.events(session.session_id)]
    assert states == [SessionStatus.OPEN, SessionStatus.PAYMENT_PERSISTED]


def test_a_session_id_is_unique(store: Store) -> None:
    store.sessions.start(Side.PAYER, now=NOW, session_id="abc")
    with pytest.raises(StoreError) as err:
        store.sessions.start(Side.PAYEE, now=NOW, session_id="abc")
    assert err.value.code is AppErrorCode.STORE_CONFLICT


def test_an_invoice_id_resolves_from_a_unique_hex_prefix(store: Store) -> None:
    inv = invoice(1)
    store.payments.record_invoice(inv, now=NOW)
    assert store.lookups.resolve_id(inv.invoice_id.hex()[:6].upper()) == inv.invoice_id
    with pytest.raises(StoreError) as err:
        store.lookups.resolve_id("ffffffff")
    assert err.value.code is AppErrorCode.STORE_NOT_FOUND


def test_history_names_the_other_side_from_the_documents(store: Store) -> None:
    session = store.sessions.start(Side.PAYER, now=NOW)
    _payer_pays(store, session.session_id)
    [line] = store.sessions.history()
    assert line.peer_key == PAYEE


def test_history_prefers_the_key_the_handshake_named(store: Store) -> None:
    session = store.sessions.start(Side.PAYER, now=NOW)
    store.sessions.set_peer(session.session_id, now=NOW, peer_key=bytes([9]) * 32)
    [line] = store.sessions.history()
    assert line.peer_key == bytes([9]) * 32


def test_a_payer_retry_that_fails_after_the_receipt_is_stored_ends_completed(
    store: Store,
) -> None:
    first = store.sessions.start(Side.PAYER, now=NOW).session_id
    payment_hash = _payer_pays(store, first)
    store.payments.persist_receipt(receipt(invoice(1), payment_hash), now=NOW, session_id=first)
    retry = store.sessions.start(Side.PAYER, now=NOW).session_id
    store.payments.record_invoice(invoice(1), now=NOW, session_id=retry)
    # The retry's link drops: the payer never passes through the payee-only receipt_persisted.
    ended = store.sessions.fail(retry, now=NOW, error_code=1300)
    assert ended.state is SessionStatus.COMPLETED
    states = [state for _, state, _, _ in store.sessions.events(retry)]
    assert SessionStatus.RECEIPT_PERSISTED not in states
