"""The sync outbox and the trust anchors (issuer keys, revocation list)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store import OutboxStatus, Store
from tests.store.records import (
    FIRST_INCOMING,
    NOW,
    WALLET,
    incoming,
    invoice,
    open_store,
    receipt,
)

KEY_A, KEY_B = bytes([10]) * 32, bytes([11]) * 32


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "store.sqlite3") as s:
        yield s


def _received(store: Store) -> bytes:
    inv = invoice(1, payee=WALLET)
    store.payments.record_invoice(inv, now=NOW)
    payment = incoming(inv, FIRST_INCOMING)
    store.payments.persist_incoming(payment, now=NOW)
    return payment.payment_hash


def test_a_sent_record_counts_an_attempt(store: Store) -> None:
    _received(store)
    item = store.outbox.mark(invoice(1, payee=WALLET).invoice_id, OutboxStatus.SENT, now=NOW)
    assert (item.status, item.attempts) == (OutboxStatus.SENT, 1)


def test_a_settled_record_is_final(store: Store) -> None:
    _received(store)
    iid = invoice(1, payee=WALLET).invoice_id
    store.outbox.mark(iid, OutboxStatus.SETTLED, now=NOW)
    with pytest.raises(StoreError) as err:
        store.outbox.mark(iid, OutboxStatus.PENDING, now=NOW)
    assert err.value.code is AppErrorCode.BAD_TRANSITION


def test_a_receipt_after_sending_puts_the_record_back_to_pending(store: Store) -> None:
    payment_hash = _received(store)
    inv = invoice(1, payee=WALLET)
    store.outbox.mark(inv.invoice_id, OutboxStatus.SENT, now=NOW)
    store.payments.persist_receipt(receipt(inv, payment_hash), now=NOW)
    assert [i.status for i in store.outbox.items()] == [OutboxStatus.PENDING]


def test_the_outbox_filters_by_status(store: Store) -> None:
    _received(store)
    assert store.outbox.items(OutboxStatus.FRAUD) == []
    assert len(store.outbox.items(OutboxStatus.PENDING)) == 1


def test_trusted_issuers_are_returned_as_a_set(store: Store) -> None:
    store.trust.add_issuer(KEY_A, now=NOW, label="dev")
    store.trust.add_issuer(KEY_A, now=NOW + 1)
    store.trust.add_issuer(KEY_B, now=NOW)
    assert store.trust.issuer_keys() == {KEY_A, KEY_B}
    assert [i.label for i in store.trust.issuers()] == ["dev", ""]


def test_an_issuer_can_be_distrusted(store: Store) -> None:
    store.trust.add_issuer(KEY_A, now=NOW)
    assert store.trust.remove_issuer(KEY_A)
    assert store.trust.issuer_keys() == frozenset()


def test_a_newer_revocation_list_replaces_the_cached_one(store: Store) -> None:
    store.trust.replace_revocations([KEY_A], version=1, now=NOW)
    info = store.trust.replace_revocations([KEY_B], version=2, now=NOW + 5)
    assert store.trust.revoked_keys() == {KEY_B}
    assert info == store.trust.revocation_info()


def test_an_older_revocation_list_cannot_unrevoke_a_key(store: Store) -> None:
    store.trust.replace_revocations([KEY_A], version=5, now=NOW)
    with pytest.raises(StoreError) as err:
        store.trust.replace_revocations([], version=4, now=NOW)
    assert err.value.code is AppErrorCode.STORE_CONFLICT
    assert store.trust.revoked_keys() == {KEY_A}
