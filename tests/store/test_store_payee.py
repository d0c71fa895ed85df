"""The payee's money steps: the payment before the receipt, the receipt before it is sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store import OutboxStatus, SessionStatus, Side, Store
from tests.store.records import (
    FIRST_INCOMING,
    ISSUER,
    NOW,
    PAYEE,
    WALLET,
    incoming,
    invoice,
    open_store,
    receipt,
)

FIRST = FIRST_INCOMING


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "payee.sqlite3") as s:
        yield s


def test_a_received_payment_is_stored_and_its_chain_remembered(store: Store) -> None:
    session = store.sessions.start(Side.PAYEE, now=NOW)
    inv = invoice(1, payee=WALLET)
    store.payments.record_invoice(inv, now=NOW, session_id=session.session_id)
    payment = incoming(inv, FIRST)
    record, created = store.payments.persist_incoming(
        payment, now=NOW, session_id=session.session_id
    )
    seen = store.counterparties.seen_chain(ISSUER, 1)
    assert created and record.role is Side.PAYEE
    assert store.sessions.get(session.session_id).state is SessionStatus.PAYMENT_PERSISTED
    assert seen is not None
    assert (seen.last_counter, seen.last_hash, seen.last_spent) == (1, payment.payment_hash, 100)
    assert store.outbox.get(inv.invoice_id).status is OutboxStatus.PENDING


def test_the_same_payment_again_is_stored_once(store: Store) -> None:
    inv = invoice(1, payee=WALLET)
    store.payments.record_invoice(inv, now=NOW)
    store.payments.persist_incoming(incoming(inv, FIRST), now=NOW)
    _, created = store.payments.persist_incoming(incoming(inv, FIRST), now=NOW + 1)
    peer = store.counterparties.get(PAYEE)
    assert not created
    assert peer is not None and peer.payments_in == 1


def test_another_payment_for_a_paid_invoice_is_a_conflict(store: Store) -> None:
    inv = invoice(1, payee=WALLET)
    store.payments.record_invoice(inv, now=NOW)
    store.payments.persist_incoming(incoming(inv, FIRST), now=NOW)
    with pytest.raises(StoreError) as err:
        store.payments.persist_incoming(incoming(inv, FIRST, salt="double"), now=NOW)
    assert err.value.code is AppErrorCode.STORE_CONFLICT


def test_a_counter_not_above_the_last_seen_on_its_chain_is_refused(store: Store) -> None:
    first, second = invoice(1, payee=WALLET), invoice(2, payee=WALLET)
    store.payments.record_invoice(first, now=NOW)
    store.payments.record_invoice(second, now=NOW)
    store.payments.persist_incoming(incoming(first, FIRST), now=NOW)
    with pytest.raises(StoreError) as err:
        store.payments.persist_incoming(incoming(second, FIRST, salt="replay"), now=NOW)
    assert err.value.code is AppErrorCode.COUNTER_NOT_INCREASING
    assert store.payments.payment(second.invoice_id) is None


def test_a_payment_for_an_invoice_we_did_not_issue_is_refused(store: Store) -> None:
    foreign = invoice(1, payee=PAYEE)
    store.payments.record_invoice(foreign, now=NOW)
    with pytest.raises(StoreError) as err:
        store.payments.persist_incoming(incoming(foreign, FIRST), now=NOW)
    assert err.value.code is AppErrorCode.PAYER_STATE_MISMATCH


def test_another_invoice_under_a_stored_id_is_a_conflict(store: Store) -> None:
    store.payments.record_invoice(invoice(1, payee=WALLET), now=NOW)
    with pytest.raises(StoreError) as err:
        store.payments.record_invoice(invoice(1, amount=5, payee=WALLET), now=NOW)
    assert err.value.code is AppErrorCode.STORE_CONFLICT


def test_the_receipt_is_stored_before_sending_and_completion_follows(store: Store) -> None:
    session = store.sessions.start(Side.PAYEE, now=NOW)
    inv = invoice(1, payee=WALLET)
    store.payments.record_invoice(inv, now=NOW, session_id=session.session_id)
    payment = incoming(inv, FIRST)
    store.payments.persist_incoming(payment, now=NOW, session_id=session.session_id)
    store.payments.persist_receipt(
        receipt(inv, payment.payment_hash), now=NOW, session_id=session.session_id
    )
    assert store.sessions.get(session.session_id).state is SessionStatus.RECEIPT_PERSISTED
    assert store.sessions.complete(session.session_id, now=NOW).state is SessionStatus.COMPLETED


def test_a_retry_of_a_paid_invoice_resumes_to_the_stored_receipt(store: Store) -> None:
    inv = invoice(1, payee=WALLET)
    first = store.sessions.start(Side.PAYEE, now=NOW)
    store.payments.record_invoice(inv, now=NOW, session_id=first.session_id)
    payment = incoming(inv, FIRST)
    store.payments.persist_incoming(payment, now=NOW, session_id=first.session_id)
    store.payments.persist_receipt(receipt(inv, payment.payment_hash), now=NOW)
    retry = store.sessions.start(Side.PAYEE, now=NOW + 60)
    resumed = store.sessions.attach_invoice(retry.session_id, inv.invoice_id, now=NOW + 60)
    assert resumed.state is SessionStatus.RECEIPT_PERSISTED
    assert store.payments.receipt(inv.invoice_id) is not None


def test_repeating_the_payment_step_on_a_resumed_session_never_moves_it_back(
    store: Store,
) -> None:
    inv = invoice(1, payee=WALLET)
    store.payments.record_invoice(inv, now=NOW)
    payment = incoming(inv, FIRST)
    store.payments.persist_incoming(payment, now=NOW)
    store.payments.persist_receipt(receipt(inv, payment.payment_hash), now=NOW)
    retry = store.sessions.start(Side.PAYEE, now=NOW + 1).session_id
    store.sessions.attach_invoice(retry, inv.invoice_id, now=NOW + 1)
    _, created = store.payments.persist_incoming(payment, now=NOW + 2, session_id=retry)
    store.payments.persist_receipt(
        receipt(inv, payment.payment_hash), now=NOW + 2, session_id=retry
    )
    assert not created
    assert store.sessions.get(retry).state is SessionStatus.RECEIPT_PERSISTED
    store.sessions.complete(retry, now=NOW + 3)
    store.payments.persist_receipt(
        receipt(inv, payment.payment_hash), now=NOW + 4, session_id=retry
    )
    assert store.sessions.get(retry).state is SessionStatus.COMPLETED


def test_a_failed_session_cannot_carry_a_payment(store: Store) -> None:
    inv = invoice(1, payee=WALLET)
    sid = store.sessions.start(Side.PAYEE, now=NOW).session_id
    store.payments.record_invoice(inv, now=NOW, session_id=sid)
    store.sessions.fail(sid, now=NOW, error_code=1)
    with pytest.raises(StoreError) as err:
        store.payments.persist_incoming(incoming(inv, FIRST), now=NOW, session_id=sid)
    assert err.value.code is AppErrorCode.BAD_TRANSITION
    assert store.payments.payment(inv.invoice_id) is None
