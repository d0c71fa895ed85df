"""The payer's money invariant over random sequences of operations (Hypothesis).

Whatever the order of pays, retries, stale or forged payments, failed sessions and
restarts: the allowance's counter equals the number of stored payments, its spent equals
their sum, each invoice has at most one payment, and the chain links each payment to the
one before it.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2ppay.errors import StoreError
from p2ppay.store import Role, Store
from tests.app.test_store_factory import (
    NOW,
    Link,
    allowance,
    invoice,
    next_link,
    open_store,
    outgoing,
)

LIMIT = 1_000
AMOUNTS = [100, 250, 400, 5, 999]

Op = tuple[str, int]
ops = st.lists(
    st.tuples(
        st.sampled_from(["pay", "retry", "stale", "forge", "fail", "reopen"]),
        st.integers(0, len(AMOUNTS) - 1),
    ),
    max_size=25,
)


def _apply(store: Store, op: str, n: int, paid: dict[int, bytes]) -> Store:
    inv = invoice(n, amount=AMOUNTS[n])
    if op == "reopen":
        path = store.path
        store.close()
        return open_store(path)
    sid = store.sessions.start(Role.PAYER, now=NOW).session_id
    try:
        store.payments.record_invoice(inv, now=NOW, session_id=sid)
        if op == "pay":
            payment = outgoing(inv, next_link(store, amount=inv.amount_minor))
            _, created = store.payments.persist_outgoing(payment, now=NOW, session_id=sid)
            assert created and n not in paid
            paid[n] = payment.payment_hash
        elif op == "retry" and n in paid:
            stored = store.payments.payment(inv.invoice_id)
            assert stored is not None
            again = outgoing(inv, Link(counter=stored.counter, prev=stored.prev_hash,
                                       cumulative=stored.cumulative_minor))  # fmt: skip
            _, created = store.payments.persist_outgoing(again, now=NOW, session_id=sid)
            assert not created
        elif op == "stale" and paid:
            link = next_link(store, amount=inv.amount_minor)
            stale = Link(counter=link.counter - 1, prev=None, cumulative=inv.amount_minor)
            store.payments.persist_outgoing(
                outgoing(inv, stale, salt="stale"), now=NOW, session_id=sid
            )
            raise AssertionError("a stale payment was stored")
        elif op == "forge":
            link = next_link(store, amount=inv.amount_minor)
            forged = Link(counter=link.counter, prev=link.prev, cumulative=link.cumulative - 1)
            store.payments.persist_outgoing(
                outgoing(inv, forged, salt="forged"), now=NOW, session_id=sid
            )
            raise AssertionError("a forged cumulative was stored")
    except StoreError:
        pass
    store.sessions.fail(sid, now=NOW, error_code=1)
    return store


def _check(store: Store, paid: dict[int, bytes]) -> None:
    state = store.wallet.payer_state("EUR")
    assert state.allowance is not None
    expected_spent = sum(AMOUNTS[n] for n in paid)
    assert state.allowance.spent_minor == expected_spent <= LIMIT
    assert state.next_counter == len(paid) + 1
    records = [store.payments.payment(invoice(n, amount=AMOUNTS[n]).invoice_id) for n in paid]
    chain = sorted((r for r in records if r is not None), key=lambda r: r.counter)
    assert [r.counter for r in chain] == list(range(1, len(paid) + 1))
    assert all(b.prev_hash == a.payment_hash for a, b in itertools.pairwise(chain))
    assert {r.payment_hash for r in chain} == set(paid.values())
    assert len(store.outbox.items()) == len(paid)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_counter_and_spent_move_only_with_a_stored_payment(sequence: list[Op]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "store.sqlite3")
        try:
            store.wallet.import_allowance(allowance(limit=LIMIT), now=NOW)
            paid: dict[int, bytes] = {}
            for op, n in sequence:
                store = _apply(store, op, n, paid)
                _check(store, paid)
        finally:
            store.close()
