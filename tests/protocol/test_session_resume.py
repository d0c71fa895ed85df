"""Resumption: a link cut anywhere never costs a second counter, and both sides converge."""

from __future__ import annotations

import pytest

from protocol.chain import ChainHead, ChainKey
from protocol.errors import ErrorCode
from protocol.keys import public_key
from protocol.negotiation import Capabilities, Offer
from protocol.session import NEED_DATA, Completed, Failed, InvoiceReceived, PayeeState, PayerState
from protocol.session.messages import Message, MessageKind
from tests.protocol.session_kit import (
    ISSUER,
    NOW_MS,
    PayeeApp,
    PayerApp,
    make_invoice,
    outcome,
    payee_channel,
    run,
)

INVOICE = make_invoice()


def _chunks_in_a_clean_run(chunk_size: int) -> int:
    payer_app, payee_app = PayerApp(), PayeeApp()
    wire = run(
        payer_app.session(max_chunk_size=chunk_size),
        payee_app.session(INVOICE, max_chunk_size=chunk_size),
        payer_app,
        payee_app,
    )
    return len(wire.chunks)


@pytest.mark.parametrize("chunk_size", [20, 244])
def test_cut_at_every_chunk_boundary_then_resume(chunk_size: int) -> None:
    total = _chunks_in_a_clean_run(chunk_size)
    for cut in range(total + 1):
        payer_app, payee_app = PayerApp(), PayeeApp()
        run(
            payer_app.session(max_chunk_size=chunk_size),
            payee_app.session(INVOICE, max_chunk_size=chunk_size),
            payer_app,
            payee_app,
            cut_after=cut,
        )
        first_payer_end = outcome(payer_app.events)
        payer_app.events.clear()
        payee_app.events.clear()
        payer, payee = (
            payer_app.session(max_chunk_size=chunk_size),
            payee_app.session(INVOICE, max_chunk_size=chunk_size),
        )
        if isinstance(first_payer_end, Completed):
            continue  # nothing to resume: the payer already holds the receipt
        run(payer, payee, payer_app, payee_app)
        assert len(payer_app.counters) <= 1, f"cut {cut}: {payer_app.counters}"
        payer_end, payee_end = outcome(payer_app.events), outcome(payee_app.events)
        assert isinstance(payer_end, Completed), f"cut {cut}: {payer_end}"
        assert isinstance(payee_end, Completed), f"cut {cut}: {payee_end}"
        assert payer_end.receipt.raw == payee_end.receipt.raw
        assert payee_app.payments == payer_app.payments


def test_resumed_payer_re_sends_without_asking_again() -> None:
    payer_app, payee_app = PayerApp(), PayeeApp()
    run(payer_app.session(), payee_app.session(INVOICE), payer_app, payee_app, cut_after=5)
    assert payer_app.counters == [1]
    payer_app.events.clear()
    run(payer_app.session(), payee_app.session(INVOICE), payer_app, payee_app)
    (seen,) = [e for e in payer_app.events if isinstance(e, InvoiceReceived)]
    assert seen.resumed
    assert payer_app.counters == [1]


def test_payer_refuses_a_reused_invoice_id_with_other_bytes() -> None:
    payer_app, payee_app = PayerApp(), PayeeApp()
    run(payer_app.session(), payee_app.session(INVOICE), payer_app, payee_app, cut_after=5)
    other = make_invoice(amount=999)  # same id (number=1), different content
    payer = payer_app.session()
    run(payer, PayeeApp().session(other), payer_app, PayeeApp())
    assert payer.state is PayerState.FAILED
    failed = [e for e in payer_app.events if isinstance(e, Failed)]
    assert failed[-1].code == ErrorCode.SESSION_RESUME_CONFLICT
    assert payer_app.counters == [1]


def test_payee_refuses_a_second_payment_for_an_invoice_it_holds_one_for() -> None:
    payer_app, payee_app = PayerApp(), PayeeApp()
    run(payer_app.session(), payee_app.session(INVOICE), payer_app, payee_app)
    # a payer whose store lost this payment signs a new one, at another counter
    earlier = ChainHead(
        key=ChainKey(issuer=public_key(ISSUER), serial=7), counter=1, hash=bytes(32), spent=100
    )
    forgetful = PayerApp(head=earlier)
    payee = payee_app.session(INVOICE)
    payee_app.events.clear()
    run(forgetful.session(), payee, forgetful, payee_app)
    assert payee.state is PayeeState.FAILED
    (failed,) = [e for e in payee_app.events if isinstance(e, Failed)]
    assert failed.code == ErrorCode.SESSION_RESUME_CONFLICT


def test_payer_does_not_pay_again_a_payee_that_cannot_resume() -> None:
    payer_app, payee_app = PayerApp(), PayeeApp()
    run(payer_app.session(), payee_app.session(INVOICE), payer_app, payee_app, cut_after=5)
    payer = payer_app.session()
    payee_side = payee_channel()
    no_resume = Capabilities(max_chunk_size=244, currencies=("EUR",), features=())
    payee_side.write(
        Message(kind=MessageKind.OFFER, body=Offer.from_capabilities(no_resume).encode()).encode()
    )
    for chunk in payee_side.drain():
        payer.receive_data(chunk, NOW_MS)
    (answer,) = [m for c in payer.data_to_send() if (m := payee_side.feed(c, NOW_MS)) is not None]
    payee_side.read(answer)
    payee_side.write(Message(kind=MessageKind.INVOICE, body=INVOICE).encode())
    for chunk in payee_side.drain():
        payer.receive_data(chunk, NOW_MS)
    assert payer.state is PayerState.FAILED
    (failed,) = [e for e in iter(payer.next_event, NEED_DATA) if isinstance(e, Failed)]
    assert failed.code == ErrorCode.SESSION_RESUME_CONFLICT
    assert payer_app.counters == [1]
