"""Money invariants over random sequences of operations (Hypothesis).

Whatever the order of pays, retries, stale or forged payments, failed sessions and
restarts: the allowance's counter equals the number of stored payments, its spent equals
their sum, each invoice has at most one payment, and the chain links each payment to the
one before it. The payee accepts each payer chain only forward and each invoice once.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store import PaymentIn, Side, Store
from tests.store.records import (
    ISSUER,
    NOW,
    PAYEE,
    WALLET,
    Link,
    allowance,
    digest,
    incoming,
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
    sid = store.sessions.start(Side.PAYER, now=NOW).session_id
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
            again = outgoing(
                inv,
                Link(
                    counter=stored.counter,
                    prev=stored.prev_hash,
                    cumulative=stored.cumulative_minor,
                ),
            )
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
    state = store.allowances.payer_position("EUR")
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
            store.allowances.import_allowance(allowance(limit=LIMIT), now=NOW)
            paid: dict[int, bytes] = {}
            for op, n in sequence:
                store = _apply(store, op, n, paid)
                _check(store, paid)
        finally:
            store.close()


def _received(n: int, counter: int) -> PaymentIn:
    link = Link(
        counter=counter,
        prev=None if counter == 1 else digest("previous", counter - 1),
        cumulative=100 * counter,
    )
    return incoming(invoice(n, payee=WALLET), link)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(1, 6)), max_size=20))
def test_a_payee_accepts_each_chain_only_forward_and_each_invoice_once(
    receipts: list[tuple[int, int]],
) -> None:
    paid: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp) / "payee.sqlite3") as store:
        for n in range(5):
            store.payments.record_invoice(invoice(n, payee=WALLET), now=NOW)
        for n, counter in receipts:
            last = max(paid.values(), default=0)
            try:
                _, created = store.payments.persist_incoming(_received(n, counter), now=NOW)
            except StoreError as exc:
                expected = (
                    AppErrorCode.STORE_CONFLICT
                    if n in paid
                    else AppErrorCode.COUNTER_NOT_INCREASING
                )
                assert exc.code is expected
                assert n in paid or counter <= last
                continue
            assert created == (n not in paid)
            assert created or paid[n] == counter
            assert not created or counter > last
            paid[n] = counter
        seen = store.counterparties.seen_chain(ISSUER, 1)
        peer = store.counterparties.get(PAYEE)
        if paid:
            assert seen is not None and seen.last_counter == max(paid.values())
            assert peer is not None and peer.payments_in == len(paid)
        else:
            assert seen is None and peer is None
