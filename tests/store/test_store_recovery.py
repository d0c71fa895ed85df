"""Restart recovery: a store left with an unfinished session of each kind reopens right."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from p2ppay.errors import AppErrorCode
from p2ppay.store import SessionStatus, Side, Store
from tests.store.records import (
    FIRST_INCOMING,
    NOW,
    WALLET,
    allowance,
    incoming,
    invoice,
    next_link,
    open_store,
    outgoing,
    receipt,
)

ROOT = Path(__file__).resolve().parents[2]


def _payer_open(store: Store, sid: str) -> None:
    del store, sid


def _payer_invoice(store: Store, sid: str) -> None:
    store.payments.record_invoice(invoice(1), now=NOW, session_id=sid)


def _payer_paid(store: Store, sid: str) -> None:
    _payer_invoice(store, sid)
    payment = outgoing(invoice(1), next_link(store, amount=100))
    store.payments.persist_outgoing(payment, now=NOW, session_id=sid)


def _payee_invoice(store: Store, sid: str) -> None:
    store.payments.record_invoice(invoice(1, payee=WALLET), now=NOW, session_id=sid)


def _payee_paid(store: Store, sid: str) -> None:
    _payee_invoice(store, sid)
    payment = incoming(invoice(1, payee=WALLET), FIRST_INCOMING)
    store.payments.persist_incoming(payment, now=NOW, session_id=sid)


def _payee_receipt(store: Store, sid: str) -> None:
    _payee_paid(store, sid)
    payment_hash = incoming(invoice(1, payee=WALLET), FIRST_INCOMING).payment_hash
    store.payments.persist_receipt(
        receipt(invoice(1, payee=WALLET), payment_hash), now=NOW, session_id=sid
    )


CASES: list[tuple[Side, Callable[[Store, str], None], SessionStatus, SessionStatus]] = [
    (Side.PAYER, _payer_open, SessionStatus.OPEN, SessionStatus.FAILED),
    (Side.PAYER, _payer_invoice, SessionStatus.OPEN, SessionStatus.FAILED),
    (Side.PAYER, _payer_paid, SessionStatus.PAYMENT_PERSISTED, SessionStatus.RESUMABLE),
    (Side.PAYEE, _payer_open, SessionStatus.OPEN, SessionStatus.FAILED),
    (Side.PAYEE, _payee_invoice, SessionStatus.OPEN, SessionStatus.FAILED),
    (Side.PAYEE, _payee_paid, SessionStatus.PAYMENT_PERSISTED, SessionStatus.RESUMABLE),
    (Side.PAYEE, _payee_receipt, SessionStatus.RECEIPT_PERSISTED, SessionStatus.COMPLETED),
]
IDS = [
    "payer-handshake",
    "payer-invoice-received",
    "payer-payment-persisted",
    "payee-handshake",
    "payee-invoice-sent",
    "payee-payment-persisted",
    "payee-receipt-persisted",
]


@pytest.mark.parametrize(("role", "step", "left_in", "recovered_to"), CASES, ids=IDS)
def test_an_unfinished_session_reopens_into_its_settled_state(
    tmp_path: Path,
    role: Side,
    step: Callable[[Store, str], None],
    left_in: SessionStatus,
    recovered_to: SessionStatus,
) -> None:
    path = tmp_path / "store.sqlite3"
    with open_store(path) as store:
        store.allowances.import_allowance(allowance(), now=NOW)
        sid = store.sessions.start(role, now=NOW).session_id
        step(store, sid)
        assert store.sessions.get(sid).state is left_in
    with open_store(path) as reopened:
        session = reopened.sessions.get(sid)
        [recovered] = reopened.recovered
        [line] = reopened.sessions.history()
    assert (recovered.previous, recovered.state) == (left_in, recovered_to)
    assert session.state is recovered_to and session.recovered
    assert session.error_code == AppErrorCode.SESSION_INTERRUPTED
    assert line.session_id == sid and line.status is recovered_to and line.recovered


def test_a_resumable_payer_session_keeps_its_payment_and_counter(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with open_store(path) as store:
        store.allowances.import_allowance(allowance(), now=NOW)
        _payer_paid(store, store.sessions.start(Side.PAYER, now=NOW).session_id)
    with open_store(path) as reopened:
        state = reopened.allowances.payer_position("EUR")
        kept = reopened.payments.payment(invoice(1).invoice_id)
        assert [s.role for s in reopened.sessions.resumable()] == [Side.PAYER]
    assert kept is not None and state.next_counter == 2


def test_a_second_open_recovers_nothing_more(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with open_store(path) as store:
        store.sessions.start(Side.PAYER, now=NOW)
    open_store(path).close()
    with open_store(path) as third:
        assert third.recovered == ()


def test_a_read_only_open_recovers_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with open_store(path) as store:
        sid = store.sessions.start(Side.PAYER, now=NOW).session_id
    with open_store(path, readonly=True) as viewer:
        assert viewer.recovered == ()
        assert viewer.sessions.get(sid).state is SessionStatus.OPEN


_CRASH_AFTER_PERSIST = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from tests.store.records import (
        NOW, allowance, invoice, next_link, open_store, outgoing)
    from p2ppay.store import Side
    store = open_store(Path(sys.argv[1]))
    store.allowances.import_allowance(allowance(), now=NOW)
    sid = store.sessions.start(Side.PAYER, now=NOW).session_id
    store.payments.record_invoice(invoice(1), now=NOW, session_id=sid)
    payment = outgoing(invoice(1), next_link(store, amount=100))
    store.payments.persist_outgoing(payment, now=NOW, session_id=sid)
    os._exit(0)  # killed before the payment is sent: no close, no clean-up
    """
)


def test_a_payer_killed_after_persisting_reopens_resumable(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    subprocess.run(
        [sys.executable, "-c", _CRASH_AFTER_PERSIST, str(path)],
        cwd=ROOT,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    with open_store(path) as reopened:
        [recovered] = reopened.recovered
        assert reopened.allowances.payer_position("EUR").next_counter == 2
    assert recovered.state is SessionStatus.RESUMABLE
