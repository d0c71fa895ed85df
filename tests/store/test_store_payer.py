"""The payer's money step: payment, counter, chain head and spent move together, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store import (
    InvoiceRecord,
    OutboxStatus,
    PaymentIn,
    PaymentRecord,
    SessionStatus,
    Side,
    Store,
)
from tests.store.records import (
    NOW,
    WALLET,
    Link,
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
        s.allowances.import_allowance(allowance(limit=1000), now=NOW)
        yield s


def _pay(
    store: Store, n: int, *, amount: int = 100, session_id: str | None = None
) -> tuple[InvoiceRecord, PaymentIn, tuple[PaymentRecord, bool]]:
    inv = invoice(n, amount=amount)
    store.payments.record_invoice(inv, now=NOW, session_id=session_id)
    payment = outgoing(inv, next_link(store, amount=amount))
    return inv, payment, store.payments.persist_outgoing(payment, now=NOW, session_id=session_id)


def test_first_payment_starts_the_chain_at_counter_one(store: Store) -> None:
    _, payment, (record, created) = _pay(store, 1)
    state = store.allowances.payer_position("EUR")
    assert created
    assert record.counter == 1 and record.prev_hash is None
    assert state.allowance is not None
    assert (state.allowance.last_counter, state.allowance.chain_head) == (1, payment.payment_hash)
    assert state.allowance.spent_minor == 100


def test_each_payment_continues_the_chain(store: Store) -> None:
    _, first, _ = _pay(store, 1, amount=100)
    _, second, (record, _) = _pay(store, 2, amount=250)
    state = store.allowances.payer_position("EUR")
    assert record.counter == 2 and record.prev_hash == first.payment_hash
    assert state.allowance is not None and state.allowance.spent_minor == 350
    assert state.next_counter == 3 and state.prev_hash == second.payment_hash


def test_a_second_persist_for_one_invoice_returns_the_stored_payment(store: Store) -> None:
    _, payment, (first, _) = _pay(store, 1)
    again, created = store.payments.persist_outgoing(payment, now=NOW + 5)
    state = store.allowances.payer_position("EUR")
    assert not created
    assert again == first
    assert state.allowance is not None
    assert (state.allowance.last_counter, state.allowance.spent_minor) == (1, 100)


def test_a_different_payment_for_a_paid_invoice_is_refused_and_changes_nothing(
    store: Store,
) -> None:
    inv, _, _ = _pay(store, 1)
    other = outgoing(inv, next_link(store, amount=100))
    with pytest.raises(StoreError) as err:
        store.payments.persist_outgoing(other, now=NOW)
    state = store.allowances.payer_position("EUR")
    assert err.value.code is AppErrorCode.STORE_CONFLICT
    assert state.allowance is not None and state.allowance.last_counter == 1


@pytest.mark.parametrize(
    ("link", "why"),
    [
        (Link(counter=2, prev=None, cumulative=100), "counter skips ahead"),
        (Link(counter=1, prev=b"\x00" * 32, cumulative=100), "prev names a phantom payment"),
        (Link(counter=1, prev=None, cumulative=150), "cumulative is not spent + amount"),
    ],
)
def test_a_payment_that_does_not_continue_the_chain_is_refused(
    store: Store, link: Link, why: str
) -> None:
    inv = invoice(1)
    store.payments.record_invoice(inv, now=NOW)
    with pytest.raises(StoreError) as err:
        store.payments.persist_outgoing(outgoing(inv, link), now=NOW)
    assert err.value.code is AppErrorCode.PAYER_STATE_MISMATCH, why
    assert store.payments.payment(inv.invoice_id) is None
    assert store.allowances.payer_position("EUR").next_counter == 1


def test_a_payment_over_the_allowance_limit_is_refused(store: Store) -> None:
    inv = invoice(1, amount=1001)
    store.payments.record_invoice(inv, now=NOW)
    with pytest.raises(StoreError) as err:
        store.payments.persist_outgoing(outgoing(inv, next_link(store, amount=1001)), now=NOW)
    assert err.value.code is AppErrorCode.ALLOWANCE_EXCEEDED
    assert store.outbox.items() == []


def test_a_payment_signed_by_another_key_is_refused(store: Store) -> None:
    inv = invoice(1)
    store.payments.record_invoice(inv, now=NOW)
    payment = outgoing(inv, next_link(store, amount=100), payer=bytes([9]) * 32)
    with pytest.raises(StoreError) as err:
        store.payments.persist_outgoing(payment, now=NOW)
    assert err.value.code is AppErrorCode.PAYER_STATE_MISMATCH


def test_a_payment_whose_amount_differs_from_the_invoice_is_refused(store: Store) -> None:
    inv = invoice(1, amount=100)
    store.payments.record_invoice(inv, now=NOW)
    cheaper = invoice(1, amount=50)
    with pytest.raises(StoreError) as err:
        store.payments.persist_outgoing(outgoing(cheaper, next_link(store, amount=50)), now=NOW)
    assert err.value.code is AppErrorCode.PAYER_STATE_MISMATCH


def test_a_payment_for_an_unrecorded_invoice_is_refused(store: Store) -> None:
    inv = invoice(1)
    with pytest.raises(StoreError) as err:
        store.payments.persist_outgoing(outgoing(inv, next_link(store, amount=100)), now=NOW)
    assert err.value.code is AppErrorCode.STORE_NOT_FOUND


def test_without_an_allowance_nothing_can_be_paid(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.sqlite3") as bare:
        inv = invoice(1)
        bare.payments.record_invoice(inv, now=NOW)
        with pytest.raises(StoreError) as err:
            bare.payments.persist_outgoing(
                outgoing(inv, Link(counter=1, prev=None, cumulative=100)), now=NOW
            )
    assert err.value.code is AppErrorCode.NO_ALLOWANCE


def test_a_new_allowance_starts_its_own_chain_and_retires_the_old_one(store: Store) -> None:
    _pay(store, 1)
    store.allowances.import_allowance(allowance(2, limit=500), now=NOW)
    _, _, (record, _) = _pay(store, 2)
    old = next(a for a in store.allowances.all() if a.serial == 1)
    assert (record.counter, record.allowance_serial, record.prev_hash) == (1, 2, None)
    assert not old.active and old.spent_minor == 100


def test_importing_the_same_allowance_twice_keeps_its_spent(store: Store) -> None:
    _pay(store, 1)
    again = store.allowances.import_allowance(allowance(limit=1000), now=NOW + 9)
    assert again.spent_minor == 100 and again.imported_at == NOW


def test_another_allowance_with_a_stored_serial_is_a_conflict(store: Store) -> None:
    with pytest.raises(StoreError) as err:
        store.allowances.import_allowance(allowance(limit=999_999), now=NOW)
    assert err.value.code is AppErrorCode.STORE_CONFLICT


def test_an_allowance_for_another_wallet_is_refused(store: Store) -> None:
    with pytest.raises(StoreError) as err:
        store.allowances.import_allowance(allowance(7, wallet=bytes([8]) * 32), now=NOW)
    assert err.value.code is AppErrorCode.STORE_WRONG_WALLET


def test_the_payment_is_queued_for_sync_in_the_same_step(store: Store) -> None:
    inv, _, _ = _pay(store, 1)
    [item] = store.outbox.items()
    assert (item.invoice_id, item.role, item.status) == (
        inv.invoice_id,
        Side.PAYER,
        OutboxStatus.PENDING,
    )


def test_the_verified_receipt_completes_the_payer_session(store: Store) -> None:
    session = store.sessions.start(Side.PAYER, now=NOW)
    inv, payment, _ = _pay(store, 1, session_id=session.session_id)
    assert store.sessions.get(session.session_id).state is SessionStatus.PAYMENT_PERSISTED
    _, created = store.payments.persist_receipt(
        receipt(inv, payment.payment_hash), now=NOW, session_id=session.session_id
    )
    transfer = store.lookups.transfer(inv.invoice_id)
    assert created
    assert store.sessions.get(session.session_id).state is SessionStatus.COMPLETED
    assert transfer.status is SessionStatus.COMPLETED and transfer.role is Side.PAYER
    assert len(transfer.signed_documents()) == 3


def test_a_receipt_for_another_payment_is_refused(store: Store) -> None:
    inv, _, _ = _pay(store, 1)
    with pytest.raises(StoreError) as err:
        store.payments.persist_receipt(receipt(inv, b"\x07" * 32), now=NOW)
    assert err.value.code is AppErrorCode.STORE_CONFLICT
    assert store.payments.receipt(inv.invoice_id) is None


def test_the_same_receipt_twice_is_stored_once(store: Store) -> None:
    inv, payment, _ = _pay(store, 1)
    first, _ = store.payments.persist_receipt(receipt(inv, payment.payment_hash), now=NOW)
    again, created = store.payments.persist_receipt(receipt(inv, payment.payment_hash), now=NOW + 1)
    assert not created and again == first


def test_a_second_different_receipt_is_a_conflict(store: Store) -> None:
    inv, payment, _ = _pay(store, 1)
    store.payments.persist_receipt(receipt(inv, payment.payment_hash), now=NOW)
    with pytest.raises(StoreError) as err:
        store.payments.persist_receipt(receipt(inv, payment.payment_hash, salt="x"), now=NOW)
    assert err.value.code is AppErrorCode.STORE_CONFLICT


def test_the_owner_key_is_the_wallet_key(store: Store) -> None:
    assert store.allowances.public_key() == WALLET
