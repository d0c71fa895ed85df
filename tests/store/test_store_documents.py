"""Real signed documents through the store: what the roles will do, step by step."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store import SessionStatus, Side, Store
from p2ppay.store.documents import (
    allowance_in,
    find_payment,
    invoice_record,
    last_seen_lookup,
    payer_head,
    payment_in,
    receipt_record,
)
from protocol.acceptance import check_payment
from protocol.builders import make_allowance, make_invoice, make_payment, make_receipt
from protocol.chain import chain_key
from protocol.documents import Allowance, Verdict
from protocol.keys import public_key
from protocol.verify import open_as, open_document

NOW = 1_800_000_000
ISSUER = SigningKey(bytes([21]) * 32)
PAYER = SigningKey(bytes([22]) * 32)
PAYEE = SigningKey(bytes([23]) * 32)


@dataclass
class Pair:
    payer: Store
    payee: Store


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    allowance = make_allowance(
        ISSUER,
        wallet=public_key(PAYER),
        currency="EUR",
        limit=10_000,
        not_before=NOW - 60,
        not_after=NOW + 86_400,
        serial=7,
    )
    with (
        Store.open(tmp_path / "payer.sqlite3", wallet_key=public_key(PAYER), now=NOW) as payer,
        Store.open(tmp_path / "payee.sqlite3", wallet_key=public_key(PAYEE), now=NOW) as payee,
    ):
        payer.allowances.import_allowance(allowance_in(allowance), now=NOW)
        payee.trust.add_issuer(public_key(ISSUER), now=NOW)
        yield Pair(payer=payer, payee=payee)


def _pay(pair: Pair, amount: int, *, now: int = NOW) -> bytes:
    """One whole payment, as the roles will drive it; returns the invoice id."""
    invoice = make_invoice(PAYEE, amount=amount, currency="EUR", now=now)
    payee_sid = pair.payee.sessions.start(Side.PAYEE, now=now).session_id
    pair.payee.payments.record_invoice(invoice_record(invoice), now=now, session_id=payee_sid)

    payer_sid = pair.payer.sessions.start(Side.PAYER, now=now).session_id
    pair.payer.payments.record_invoice(invoice_record(invoice), now=now, session_id=payer_sid)
    state = pair.payer.allowances.payer_position("EUR")
    assert state.allowance is not None
    payment = make_payment(
        PAYER,
        invoice=invoice,
        allowance=open_as(state.allowance.signed, Allowance),
        head=payer_head(state.allowance),
    )
    pair.payer.payments.persist_outgoing(
        payment_in(payment, invoice=invoice), now=now, session_id=payer_sid
    )

    accepted = check_payment(
        payment.raw,
        invoice=invoice,
        payee_key=public_key(PAYEE),
        trusted_issuers=pair.payee.trust.issuer_keys(),
        revoked=pair.payee.trust.revoked_keys(),
        last_seen=last_seen_lookup(pair.payee)(chain_key(payment)),
        now=now,
    )
    pair.payee.payments.persist_incoming(
        payment_in(accepted.payment, invoice=invoice), now=now, session_id=payee_sid
    )
    receipt = make_receipt(PAYEE, payment_hash=payment.hash, verdict=Verdict.ACCEPTED, now=now)
    record = receipt_record(receipt, invoice_id=invoice.doc.id)
    pair.payee.payments.persist_receipt(record, now=now, session_id=payee_sid)
    pair.payee.sessions.complete(payee_sid, now=now)
    pair.payer.payments.persist_receipt(record, now=now, session_id=payer_sid)
    return invoice.doc.id


def test_payments_built_from_the_stored_head_pass_the_payees_offline_check(pair: Pair) -> None:
    _pay(pair, 1250)
    _pay(pair, 300, now=NOW + 10)
    state = pair.payer.allowances.payer_position("EUR")
    seen = pair.payee.counterparties.seen_chain(public_key(ISSUER), 7)
    assert state.allowance is not None and seen is not None
    assert (state.allowance.last_counter, state.allowance.spent_minor) == (2, 1550)
    assert (seen.last_counter, seen.last_hash) == (2, state.allowance.chain_head)


def test_both_sides_keep_the_same_three_signed_documents(pair: Pair) -> None:
    invoice_id = _pay(pair, 1250)
    payer_side = pair.payer.lookups.transfer(invoice_id)
    payee_side = pair.payee.lookups.transfer(invoice_id)
    assert payer_side.signed_documents() == payee_side.signed_documents()
    assert [open_document(d).kind.name for d in payer_side.signed_documents()] == [
        "INVOICE",
        "PAYMENT",
        "RECEIPT",
    ]
    assert payer_side.status is payee_side.status is SessionStatus.COMPLETED
    assert (payer_side.role, payee_side.role) == (Side.PAYER, Side.PAYEE)


def test_the_payer_session_finds_the_payment_persisted_for_an_invoice(pair: Pair) -> None:
    invoice_id = _pay(pair, 1250)
    lookup = find_payment(pair.payer)
    payment = pair.payer.payments.payment(invoice_id)
    assert payment is not None
    assert lookup(invoice_id) == payment.signed
    assert lookup(bytes(16)) is None
    assert find_payment(pair.payee)(invoice_id) is None  # a payee never resends a payment


def test_a_payment_naming_another_invoice_is_refused_before_the_store(pair: Pair) -> None:
    first = make_invoice(PAYEE, amount=100, currency="EUR", now=NOW)
    other = make_invoice(PAYEE, amount=100, currency="EUR", now=NOW)
    state = pair.payer.allowances.payer_position("EUR")
    assert state.allowance is not None
    payment = make_payment(
        PAYER, invoice=first, allowance=open_as(state.allowance.signed, Allowance), head=None
    )
    with pytest.raises(StoreError) as err:
        payment_in(payment, invoice=other)
    assert err.value.code is AppErrorCode.PAYER_STATE_MISMATCH


def test_history_shows_the_payment_on_both_sides(pair: Pair) -> None:
    invoice_id = _pay(pair, 1250)
    [payer_line] = pair.payer.sessions.history()
    [payee_line] = pair.payee.sessions.history()
    for line, role in ((payer_line, Side.PAYER), (payee_line, Side.PAYEE)):
        assert (line.invoice_id, line.role, line.amount_minor, line.currency, line.status) == (
            invoice_id,
            role,
            1250,
            "EUR",
            SessionStatus.COMPLETED,
        )
    assert (payer_line.peer_key, payee_line.peer_key) == (public_key(PAYEE), public_key(PAYER))
