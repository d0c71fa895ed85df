"""Faults at money steps: a full disk, a locked database, an error or a kill mid-transaction.

Every case checks the same promise: the step either happened entirely or not at all, the
error is a ``StoreError`` with a stable code, and the store stays usable.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2ppay.errors import AppErrorCode, StoreError
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
from tests.store.records import (
    ISSUER as FIRST_INCOMING_ISSUER,
)

ROOT = Path(__file__).resolve().parents[2]


def _payer_ready(store: Store) -> str:
    store.allowances.import_allowance(allowance(), now=NOW)
    sid = store.sessions.start(Side.PAYER, now=NOW).session_id
    store.payments.record_invoice(invoice(1), now=NOW, session_id=sid)
    return sid


def _nothing_paid(store: Store, sid: str) -> None:
    assert store.payments.payment(invoice(1).invoice_id) is None
    assert store.allowances.payer_position("EUR").next_counter == 1
    state = store.allowances.payer_position("EUR").allowance
    assert state is not None and state.spent_minor == 0
    assert store.outbox.items() == []
    assert store.sessions.get(sid).state is SessionStatus.OPEN


@pytest.fixture
def captured(tmp_path: Path) -> Iterator[tuple[Store, list[sqlite3.Connection]]]:
    conns: list[sqlite3.Connection] = []
    with open_store(tmp_path / "store.sqlite3", on_connect=conns.append) as store:
        yield store, conns


def test_a_full_disk_refuses_the_payment_and_writes_none_of_it(
    captured: tuple[Store, list[sqlite3.Connection]],
) -> None:
    store, [conn] = captured
    sid = _payer_ready(store)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow by one page
    big = outgoing(invoice(1), next_link(store, amount=100))
    big = type(big)(**{**vars(big), "signed": os.urandom(64 * 1024)})
    with pytest.raises(StoreError) as err:
        store.payments.persist_outgoing(big, now=NOW, session_id=sid)
    assert err.value.code is AppErrorCode.STORE_DISK_FULL
    _nothing_paid(store, sid)


def test_the_payment_succeeds_once_space_is_back(
    captured: tuple[Store, list[sqlite3.Connection]],
) -> None:
    store, [conn] = captured
    sid = _payer_ready(store)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    payment = outgoing(invoice(1), next_link(store, amount=100))
    payment = type(payment)(**{**vars(payment), "signed": os.urandom(64 * 1024)})
    with pytest.raises(StoreError):
        store.payments.persist_outgoing(payment, now=NOW, session_id=sid)
    conn.execute(f"PRAGMA max_page_count = {pages * 100}")
    _, created = store.payments.persist_outgoing(payment, now=NOW, session_id=sid)
    assert created and store.allowances.payer_position("EUR").next_counter == 2


def test_a_locked_database_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with open_store(path, busy_timeout_ms=50) as store:
        sid = _payer_ready(store)
        payment = outgoing(invoice(1), next_link(store, amount=100))
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another connection holds the write lock
        try:
            with pytest.raises(StoreError) as err:
                store.payments.persist_outgoing(payment, now=NOW, session_id=sid)
        finally:
            other.execute("ROLLBACK")
            other.close()
        _nothing_paid(store, sid)
        _, created = store.payments.persist_outgoing(payment, now=NOW, session_id=sid)
    assert err.value.code is AppErrorCode.STORE_LOCKED
    assert created


def test_a_second_writer_process_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    code = "from pathlib import Path; import sys\n" + textwrap.dedent(
        """
        from tests.store.records import open_store
        from p2ppay.errors import StoreError
        try:
            open_store(Path(sys.argv[1]))
        except StoreError as exc:
            print(exc.code.name)
        """
    )
    with open_store(path):
        result = subprocess.run(
            [sys.executable, "-c", code, str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert result.stdout.strip() == "STORE_IN_USE"


def _inject_fault(path: Path, state: str) -> None:
    """A real trigger that aborts the transaction at the session's state change."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        f"CREATE TRIGGER injected BEFORE INSERT ON session_events WHEN NEW.state = '{state}' "
        "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
    )
    conn.close()


def test_an_error_inside_the_payer_step_leaves_nothing_half_written(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with open_store(path) as store:
        sid = _payer_ready(store)
        _inject_fault(path, "payment_persisted")
        with pytest.raises(StoreError) as err:
            store.payments.persist_outgoing(
                outgoing(invoice(1), next_link(store, amount=100)), now=NOW, session_id=sid
            )
        _nothing_paid(store, sid)
    assert err.value.code is AppErrorCode.STORE_INTEGRITY


def test_an_error_inside_the_payee_step_leaves_nothing_half_written(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    inv = invoice(1, payee=WALLET)
    with open_store(path) as store:
        sid = store.sessions.start(Side.PAYEE, now=NOW).session_id
        store.payments.record_invoice(inv, now=NOW, session_id=sid)
        _inject_fault(path, "payment_persisted")
        with pytest.raises(StoreError):
            store.payments.persist_incoming(incoming(inv, FIRST_INCOMING), now=NOW, session_id=sid)
        assert store.payments.payment(inv.invoice_id) is None
        assert store.counterparties.seen_chain(FIRST_INCOMING_ISSUER, 1) is None
        assert store.outbox.items() == []


def test_an_error_inside_the_receipt_step_leaves_no_receipt(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    inv = invoice(1, payee=WALLET)
    payment = incoming(inv, FIRST_INCOMING)
    with open_store(path) as store:
        sid = store.sessions.start(Side.PAYEE, now=NOW).session_id
        store.payments.record_invoice(inv, now=NOW, session_id=sid)
        store.payments.persist_incoming(payment, now=NOW, session_id=sid)
        _inject_fault(path, "receipt_persisted")
        with pytest.raises(StoreError):
            store.payments.persist_receipt(
                receipt(inv, payment.payment_hash), now=NOW, session_id=sid
            )
        assert store.payments.receipt(inv.invoice_id) is None
        assert store.sessions.get(sid).state is SessionStatus.PAYMENT_PERSISTED


_KILLED_MID_STEP = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from tests.store.records import (
        FIRST_INCOMING, NOW, WALLET, allowance, incoming, invoice, next_link, open_store,
        outgoing, receipt)
    from p2ppay.store import Side

    path, step = Path(sys.argv[1]), sys.argv[2]
    dies_at = {"payer": "payment_persisted", "payee": "payment_persisted",
               "receipt": "receipt_persisted"}[step]

    def arm(conn):
        # Dies inside the step's transaction, after its first rows were written and before
        # COMMIT: what a power cut or kill -9 does.
        conn.create_function("die", 0, lambda: os._exit(9))
        conn.execute("PRAGMA trusted_schema = ON")
        conn.execute(
            "CREATE TEMP TRIGGER die_mid_step BEFORE INSERT ON main.session_events "
            f"WHEN NEW.state = '{dies_at}' BEGIN SELECT die(); END"
        )

    open_store(path).close()  # create and migrate first
    store = open_store(path, on_connect=arm)
    if step == "payer":
        store.allowances.import_allowance(allowance(), now=NOW)
        sid = store.sessions.start(Side.PAYER, now=NOW).session_id
        store.payments.record_invoice(invoice(1), now=NOW, session_id=sid)
        store.payments.persist_outgoing(
            outgoing(invoice(1), next_link(store, amount=100)), now=NOW, session_id=sid)
    else:
        inv = invoice(1, payee=WALLET)
        payment = incoming(inv, FIRST_INCOMING)
        sid = store.sessions.start(Side.PAYEE, now=NOW).session_id
        store.payments.record_invoice(inv, now=NOW, session_id=sid)
        store.payments.persist_incoming(payment, now=NOW, session_id=sid)
        store.payments.persist_receipt(
            receipt(inv, payment.payment_hash), now=NOW, session_id=sid)
    print("not reached")
    """
)


def _kill_mid_step(path: Path, step: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _KILLED_MID_STEP, str(path), step],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 9, result.stdout + result.stderr


def test_a_payer_killed_mid_step_reopens_with_nothing_half_written(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    _kill_mid_step(path, "payer")
    with open_store(path) as reopened:
        [recovered] = reopened.recovered
        assert reopened.payments.payment(invoice(1).invoice_id) is None
        assert reopened.allowances.payer_position("EUR").next_counter == 1
        assert reopened.outbox.items() == []
    assert recovered.state is SessionStatus.FAILED


def test_a_payee_killed_while_storing_the_payment_keeps_none_of_it(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    _kill_mid_step(path, "payee")
    with open_store(path) as reopened:
        [recovered] = reopened.recovered
        assert reopened.payments.payment(invoice(1, payee=WALLET).invoice_id) is None
        assert reopened.counterparties.seen_chain(FIRST_INCOMING_ISSUER, 1) is None
        assert reopened.outbox.items() == []
    assert recovered.state is SessionStatus.FAILED


def test_a_payee_killed_while_storing_the_receipt_keeps_the_payment_only(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    _kill_mid_step(path, "receipt")
    iid = invoice(1, payee=WALLET).invoice_id
    with open_store(path) as reopened:
        [recovered] = reopened.recovered
        assert reopened.payments.payment(iid) is not None
        assert reopened.payments.receipt(iid) is None
    assert recovered.state is SessionStatus.RESUMABLE
