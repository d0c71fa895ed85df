"""The sync's batched outbox update: several records move in one transaction, or none."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2ppay.errors import StoreError
from p2ppay.store import OutboxStatus
from p2ppay.wallet.issuer import init_issuer, open_issuer
from tests.ledger.world import Party, new_party, now_s, pay_offline


def stored_payments(tmp_path: Path) -> tuple[Party, list[bytes]]:
    issuer_home = new_party(tmp_path, "issuer").home
    issuer_key = init_issuer(issuer_home, now=now_s())
    payer, payee = new_party(tmp_path, "payer"), new_party(tmp_path, "payee")
    signed = open_issuer(issuer_home).grant(payer.public, 10_00, "EUR", now=now_s())
    with payer.open() as wallet:
        wallet.import_allowance(signed, now=now_s())
    with payee.open() as wallet:
        wallet.trust_issuer(issuer_key, now=now_s())
    for _ in range(3):
        pay_offline(payer, payee, 1_00)
    with payee.open() as wallet:
        ids = [item.invoice_id for item in wallet.store.outbox.items()]
    return payee, ids


def test_a_batch_of_outbox_changes_is_applied_together(tmp_path: Path) -> None:
    payee, ids = stored_payments(tmp_path)
    with payee.open() as wallet:
        wallet.store.outbox.mark_many([(i, OutboxStatus.SENT, "") for i in ids], now=now_s())
        wallet.store.outbox.mark_many(
            [(ids[0], OutboxStatus.SETTLED, "settled"), (ids[1], OutboxStatus.FRAUD, "proof")],
            now=now_s(),
        )
        items = {i.invoice_id: i for i in wallet.store.outbox.items()}
    assert [items[i].status for i in ids] == [
        OutboxStatus.SETTLED,
        OutboxStatus.FRAUD,
        OutboxStatus.SENT,
    ]
    assert {items[i].attempts for i in ids} == {1}


def test_one_bad_change_leaves_the_whole_batch_undone(tmp_path: Path) -> None:
    payee, ids = stored_payments(tmp_path)
    with payee.open() as wallet:
        wallet.store.outbox.mark(ids[1], OutboxStatus.SETTLED, now=now_s())
        with pytest.raises(StoreError) as refused:
            wallet.store.outbox.mark_many(
                [(ids[0], OutboxStatus.SETTLED, ""), (ids[1], OutboxStatus.PENDING, "")],
                now=now_s(),
            )
        assert refused.value.code.name == "BAD_TRANSITION"
        assert wallet.store.outbox.get(ids[0]).status is OutboxStatus.PENDING
