"""PayerSession and PayeeSession end to end through a fake pipe, and their failure paths."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest
from nacl.signing import SigningKey

from protocol.builders import make_allowance as make_allowance_at
from protocol.builders import make_invoice as make_invoice_with_issuers
from protocol.cbor import encode as cbor_encode
from protocol.chain import ChainHead, ChainKey
from protocol.documents import Abort, Allowance, Invoice, Payment, Receipt
from protocol.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from protocol.framing import chunk_message
from protocol.keys import document_hash, key_id, public_key
from protocol.negotiation import Capabilities, Offer, answer_offer
from protocol.noise import KeyPair, x25519_from_ed25519_public
from protocol.session import (
    NEED_DATA,
    Completed,
    Failed,
    InvoiceReceived,
    PayeePolicy,
    PayeeSession,
    PayeeState,
    PayerSession,
    PayerState,
    PaymentReceived,
    PersistRequired,
    RecordKind,
    Timeouts,
)
from protocol.session.channel import Channel
from protocol.session.messages import Message, MessageKind, decode_refusal
from protocol.verify import open_as, sign
from tests.protocol.session_kit import (
    ISSUER,
    NOW_MS,
    NOW_S,
    PAYEE,
    PAYER,
    PayeeApp,
    PayerApp,
    make_allowance,
    make_invoice,
    outcome,
    payee_channel,
    payer_channel,
    run,
)

MALLORY = SigningKey(bytes([9]) * 32)


def _pair(chunk_size: int = 244) -> tuple[PayerApp, PayeeApp, PayerSession, PayeeSession]:
    payer_app, payee_app = PayerApp(), PayeeApp()
    payer = payer_app.session(max_chunk_size=chunk_size)
    payee = payee_app.session(make_invoice(), max_chunk_size=chunk_size)
    return payer_app, payee_app, payer, payee


def _pump(sender: PayerSession | PayeeSession, receiver: PayerSession | PayeeSession) -> int:
    chunks = sender.data_to_send()
    for chunk in chunks:
        receiver.receive_data(chunk, NOW_MS)
    return len(chunks)


def _events(session: PayerSession | PayeeSession) -> list[object]:
    out: list[object] = []
    while (event := session.next_event()) is not NEED_DATA:
        out.append(event)
    return out


def _to_approval(payer: PayerSession, payee: PayeeSession) -> list[object]:
    """Run the handshake (messages 1-3); return the payer's events (InvoiceReceived)."""
    payee.start(NOW_MS)
    _pump(payee, payer)
    _pump(payer, payee)
    _pump(payee, payer)
    return _events(payer)


def _approve(payer: PayerSession) -> PersistRequired:
    """approve(); return the PersistRequired it emits (not yet confirmed)."""
    payer.approve()
    (persist,) = _events(payer)
    assert isinstance(persist, PersistRequired)
    return persist


def _failed(events: Sequence[object]) -> Failed:
    (failed,) = [e for e in events if isinstance(e, Failed)]
    return failed


@pytest.mark.parametrize("chunk_size", [20, 182, 244, 509])
def test_payment_completes_at_chunk_size(chunk_size: int) -> None:
    payer_app, payee_app, payer, payee = _pair(chunk_size)
    wire = run(payer, payee, payer_app, payee_app)
    assert payer.state is PayerState.COMPLETED
    assert payee.state is PayeeState.COMPLETED
    assert all(len(chunk) <= chunk_size for _, chunk in wire.chunks)
    payer_end, payee_end = outcome(payer_app.events), outcome(payee_app.events)
    assert isinstance(payer_end, Completed)
    assert isinstance(payee_end, Completed)
    assert payer_end.receipt.raw == payee_end.receipt.raw


def test_a_payee_session_takes_its_verified_invoice_and_hands_the_same_one_back() -> None:
    payer_app, payee_app = PayerApp(), PayeeApp()
    invoice = open_as(make_invoice(), Invoice)
    payer, payee = payer_app.session(), payee_app.session(invoice)
    run(payer, payee, payer_app, payee_app)
    payer_end, payee_end = outcome(payer_app.events), outcome(payee_app.events)
    assert isinstance(payer_end, Completed) and isinstance(payee_end, Completed)
    [received] = [e for e in payer_app.events if isinstance(e, InvoiceReceived)]
    assert received.invoice.raw == invoice.raw  # the exact bytes the payee was given
    [*_, receipt] = [e for e in payee_app.events if isinstance(e, PersistRequired)]
    assert receipt.invoice is invoice  # the payee's own events carry it, never re-opened


def test_a_payee_session_refuses_a_verified_document_that_is_not_an_invoice() -> None:
    allowance = open_as(make_allowance(), Allowance)
    with pytest.raises(LocalProtocolError) as err:
        PayeeSession(
            identity=PAYEE,
            invoice=allowance,  # type: ignore[arg-type]
            policy=PayeePolicy(trusted_issuers=()),
        )
    assert err.value.code is ErrorCode.COSE_WRONG_KIND


def test_receipt_names_the_payment_both_sides_persisted() -> None:
    payer_app, payee_app, payer, payee = _pair()
    run(payer, payee, payer_app, payee_app)
    (payment,) = payer_app.payments.values()
    assert payee_app.payments == payer_app.payments
    receipt = open_as(next(iter(payee_app.receipts.values())), Receipt).doc
    assert receipt.payment == document_hash(payment)
    assert payer_app.counters == [1]


def test_five_messages_make_four_direction_changes() -> None:
    payer_app, payee_app, payer, payee = _pair(244)
    wire = run(payer, payee, payer_app, payee_app)
    assert wire.direction_changes() == 4


def test_both_sides_see_the_same_short_authentication_string() -> None:
    payer_app, payee_app, payer, payee = _pair()
    run(payer, payee, payer_app, payee_app)
    (invoice_event,) = [e for e in payer_app.events if isinstance(e, InvoiceReceived)]
    assert payee.sas is not None
    assert invoice_event.sas == payee.sas == payer.sas


def test_payer_sends_nothing_until_its_payment_is_persisted() -> None:
    key = ChainKey(issuer=public_key(ISSUER), serial=7)
    payer = PayerApp(head=ChainHead(key=key, counter=3, hash=bytes(32), spent=300)).session()
    payee = PayeeApp().session(make_invoice())
    assert isinstance(_to_approval(payer, payee)[0], InvoiceReceived)
    persist = _approve(payer)
    assert persist.kind is RecordKind.PAYMENT
    assert persist.counter == 4
    assert payer.data_to_send() == []
    payer.persisted(persist.record_id)
    assert payer.data_to_send() != []


def test_payee_signs_no_receipt_until_the_payment_is_persisted() -> None:
    _, _, payer, payee = _pair()
    _to_approval(payer, payee)
    payer.persisted(_approve(payer).record_id)
    _pump(payer, payee)
    events = _events(payee)
    assert [type(e).__name__ for e in events] == ["PaymentReceived", "PersistRequired"]
    assert payee.state is PayeeState.AWAIT_PAYMENT_PERSISTED
    assert payee.data_to_send() == []
    payment_record = events[1]
    assert isinstance(payment_record, PersistRequired)
    payee.persisted(payment_record.record_id)
    (receipt_record,) = _events(payee)
    assert isinstance(receipt_record, PersistRequired)
    assert receipt_record.kind is RecordKind.RECEIPT
    assert payee.data_to_send() == []
    payee.persisted(receipt_record.record_id)
    assert payee.data_to_send() != []


def test_persisted_with_a_wrong_record_id_is_refused_and_changes_nothing() -> None:
    _, _, payer, payee = _pair()
    _to_approval(payer, payee)
    _approve(payer)
    with pytest.raises(LocalProtocolError) as info:
        payer.persisted("payment:00")
    assert info.value.code is ErrorCode.SESSION_PERSIST_MISMATCH
    assert payer.state is PayerState.AWAIT_PAYMENT_PERSISTED


def test_app_input_in_the_wrong_state_is_local_misuse_and_changes_nothing() -> None:
    payer = PayerApp().session()
    with pytest.raises(LocalProtocolError) as info:
        payer.approve()
    assert info.value.code is ErrorCode.SESSION_API_MISUSE
    assert payer.state is PayerState.AWAIT_OFFER


def test_decline_aborts_both_sides_with_the_decline_code() -> None:
    payer_app, payee_app = PayerApp(approve=False), PayeeApp()
    payer, payee = payer_app.session(), payee_app.session(make_invoice())
    run(payer, payee, payer_app, payee_app)
    assert _failed(payer_app.events).code == ErrorCode.SESSION_DECLINED
    peer_view = _failed(payee_app.events)
    assert peer_view.code == ErrorCode.SESSION_DECLINED
    assert peer_view.by_peer
    assert payer_app.counters == []


def test_untrusted_issuer_fails_acceptance_and_the_payer_hears_why() -> None:
    payer_app, payee_app = PayerApp(), PayeeApp(trusted=(public_key(MALLORY),))
    payer, payee = payer_app.session(), payee_app.session(make_invoice())
    run(payer, payee, payer_app, payee_app)
    assert _failed(payee_app.events).code == ErrorCode.DOC_UNTRUSTED_ISSUER
    assert _failed(payer_app.events).code == ErrorCode.DOC_UNTRUSTED_ISSUER
    assert payee_app.receipts == {}


def test_invoice_over_the_allowance_fails_before_approval() -> None:
    payer_app, payee_app = PayerApp(allowance=make_allowance(limit=1000)), PayeeApp()
    payer, payee = payer_app.session(), payee_app.session(make_invoice(amount=1001))
    run(payer, payee, payer_app, payee_app)
    assert _failed(payer_app.events).code == ErrorCode.SESSION_WALLET_CANNOT_PAY
    assert not any(isinstance(e, InvoiceReceived) for e in payer_app.events)
    peer_view = _failed(payee_app.events)
    # what is left is not told: the payee hears what a person saying no would send
    assert (peer_view.code, peer_view.by_peer) == (ErrorCode.SESSION_DECLINED, True)


def test_an_offer_in_another_currency_is_answered_without_telling_ours() -> None:
    payer_app, payee_app = PayerApp(), PayeeApp()
    payer, payee = payer_app.session(), payee_app.session(make_invoice(currency="JPY"))
    wire = run(payer, payee, payer_app, payee_app)
    assert _failed(payer_app.events).code == ErrorCode.SESSION_WALLET_CANNOT_PAY
    assert _failed(payee_app.events).code == ErrorCode.SESSION_DECLINED
    answer = Message.decode(wire.chunks[1][1][3 + 32 :])  # header, length, then e || answer
    assert answer.kind is MessageKind.ANSWER
    assert b"EUR" not in b"".join(chunk for sender, chunk in wire.chunks if sender == "payer")


def test_payer_refusals_before_payment_are_unsigned_and_carry_a_one_time_key() -> None:
    """What a payee that proved nothing hears when the payer says no: a code, no identity."""
    keys = []
    for _ in range(2):
        payer = PayerApp(approve=False).session()
        payee_side = payee_channel()
        offer = Offer.from_capabilities(Capabilities(max_chunk_size=244, currencies=("EUR",)))
        payee_side.write(Message(kind=MessageKind.OFFER, body=offer.encode()).encode())
        _feed_channel(payee_side, payer)
        assert _read_channel(payer, payee_side).kind is MessageKind.ANSWER
        payee_side.write(Message(kind=MessageKind.INVOICE, body=make_invoice()).encode())
        _feed_channel(payee_side, payer)
        (invoice,) = _events(payer)
        assert isinstance(invoice, InvoiceReceived)
        payer.decline("no")
        refusal = _read_channel(payer, payee_side)
        assert refusal.kind is MessageKind.REFUSAL
        assert decode_refusal(refusal.body) == ErrorCode.SESSION_DECLINED
        assert refusal.body == bytes([0x19, 0x02, 0xC0])  # CBOR uint 704, nothing else
        remote = payee_side.remote_static
        assert remote is not None
        assert remote != x25519_from_ed25519_public(public_key(PAYER))
        keys.append(remote)
    assert keys[0] != keys[1]


def test_payer_discloses_its_wallet_key_only_with_the_payment() -> None:
    _, _, payer, payee = _pair()
    wallet_key = public_key(PAYER)
    _to_approval(payer, payee)
    assert payee.sas is not None  # the payee shows its code before the payer reveals itself
    assert _events(payee) == []
    payer.persisted(_approve(payer).record_id)
    _pump(payer, payee)
    received, persist = _events(payee)
    assert isinstance(persist, PersistRequired)
    assert isinstance(received, PaymentReceived) and received.payment.doc.payer == wallet_key


def _feed_channel(channel: Channel, session: PayerSession | PayeeSession) -> None:
    for chunk in channel.drain():
        session.receive_data(chunk, NOW_MS)


def _read_channel(session: PayerSession | PayeeSession, channel: Channel) -> Message:
    messages = [m for c in session.data_to_send() if (m := channel.feed(c, NOW_MS)) is not None]
    (message,) = messages
    return Message.decode(channel.read(message))


def test_payer_in_the_middle_with_its_own_keys_fails_the_payee() -> None:
    """Mallory answers the payee and relays a payment the real payer signed."""
    payee = PayeeApp().session(make_invoice())
    mallory = payer_channel()
    payee.start(NOW_MS)
    offer = _read_channel(payee, mallory)
    answer = answer_offer(Offer.decode(offer.body), Capabilities(currencies=("EUR",)))
    mallory.apply(answer)
    mallory.write(Message(kind=MessageKind.ANSWER, body=answer.encode()).encode())
    _feed_channel(mallory, payee)
    invoice = _read_channel(payee, mallory)
    relayed = _payment_by_the_real_payer(invoice.body)
    mallory.reveal(KeyPair.from_ed25519_seed(bytes(MALLORY)))
    mallory.write(Message(kind=MessageKind.PAYMENT, body=relayed).encode())
    _feed_channel(mallory, payee)
    assert _failed(_events(payee)).code == ErrorCode.HANDSHAKE_PEER_KEY_MISMATCH
    assert payee.state is PayeeState.FAILED


def _payment_by_the_real_payer(invoice: bytes) -> bytes:
    inv = open_as(invoice, Invoice).doc
    payment = Payment(
        invoice=document_hash(invoice),
        payer=public_key(PAYER),
        amount=inv.amount,
        currency=inv.currency,
        counter=1,
        spent=inv.amount,
        allowance=make_allowance(),
    )
    return sign(PAYER, payment).raw


def test_payee_in_the_middle_relaying_the_real_invoice_fails_the_payer() -> None:
    """Mallory connects to the payer and forwards the real payee's signed invoice."""
    payer_app = PayerApp()
    payer = payer_app.session()
    mallory = payee_channel(MALLORY)
    offer = Offer.from_capabilities(Capabilities(max_chunk_size=244, currencies=("EUR",)))
    mallory.write(Message(kind=MessageKind.OFFER, body=offer.encode()).encode())
    _feed_channel(mallory, payer)
    answer = _read_channel(payer, mallory)
    assert answer.kind is MessageKind.ANSWER
    mallory.write(Message(kind=MessageKind.INVOICE, body=make_invoice()).encode())
    _feed_channel(mallory, payer)
    assert _failed(_events(payer)).code == ErrorCode.HANDSHAKE_PEER_KEY_MISMATCH
    assert payer_app.counters == []
    refusal = _read_channel(payer, mallory)
    assert refusal.kind is MessageKind.REFUSAL
    assert mallory.remote_static != x25519_from_ed25519_public(public_key(PAYER))


def test_changing_the_offer_in_flight_fails_the_handshake() -> None:
    """A downgrade: the man in the middle swaps the offer for one with a smaller chunk size."""
    payer_app, payee_app, payer, payee = _pair(244)

    def downgrade(sender: str, index: int, chunk: bytes) -> bytes:
        if index != 0:
            return chunk
        assert sender == "payee"  # the opening: header + 2-byte length, then the envelope
        worse = Offer.from_capabilities(Capabilities(max_chunk_size=20, currencies=("EUR",)))
        envelope = Message(kind=MessageKind.OFFER, body=worse.encode()).encode()
        (replacement,) = chunk_message(envelope, 244)
        return replacement

    run(payer, payee, payer_app, payee_app, tamper=downgrade)
    # the opening is in the prologue: the payer cannot read the payee's Noise message 2
    assert _failed(payer_app.events).code == ErrorCode.NOISE_DECRYPT_FAILED
    assert not any(isinstance(e, InvoiceReceived) for e in payer_app.events)
    assert payer_app.counters == []
    deadline = payee.get_timer()
    assert deadline is not None
    payee.handle_timer(deadline)  # the payer could not tell it: the payee ends by its timer
    assert payee.state is PayeeState.FAILED


def test_flipping_a_bit_of_any_encrypted_chunk_fails_the_session() -> None:
    clean_app, clean_payee_app, clean_payer, clean_payee = _pair(244)
    chunks = len(run(clean_payer, clean_payee, clean_app, clean_payee_app).chunks)
    for target in range(1, chunks):
        payer_app, payee_app, payer, payee = _pair(244)

        def flip(sender: str, index: int, chunk: bytes, target: int = target) -> bytes:
            if index != target:
                return chunk
            return chunk[:-1] + bytes((chunk[-1] ^ 1,))

        run(payer, payee, payer_app, payee_app, tamper=flip)
        for session in (payer, payee):  # a side the peer could not tell ends by its timer
            deadline = session.get_timer()
            if deadline is not None:
                session.handle_timer(deadline)
        assert payer.state is PayerState.FAILED
        assert payer_app.receipts == {}
        # only a corrupted receipt leaves the payee done: resumption re-sends it later
        receipt_was_hit = target == chunks - 1
        assert payee.state is (PayeeState.COMPLETED if receipt_was_hit else PayeeState.FAILED)


def test_recorded_session_replayed_into_fresh_sessions_fails() -> None:
    payer_app, payee_app, payer, payee = _pair(244)
    wire = run(payer, payee, payer_app, payee_app)
    fresh_payer_app = PayerApp()
    fresh_payer = fresh_payer_app.session(max_chunk_size=244)
    for sender, chunk in wire.chunks:
        if sender == "payee":
            fresh_payer.receive_data(chunk, NOW_MS)
    events = _events(fresh_payer)
    assert _failed(events).code == ErrorCode.NOISE_DECRYPT_FAILED
    assert not any(isinstance(e, InvoiceReceived | PersistRequired) for e in events)
    fresh_payee = PayeeApp().session(make_invoice(), max_chunk_size=244)
    fresh_payee.start(NOW_MS)
    for sender, chunk in wire.chunks:
        if sender == "payer":
            fresh_payee.receive_data(chunk, NOW_MS)
    events = _events(fresh_payee)
    assert _failed(events).code == ErrorCode.NOISE_DECRYPT_FAILED
    assert not any(isinstance(e, PersistRequired) for e in events)


def test_expired_invoice_is_refused_by_the_payer() -> None:
    payer_app, payee_app = PayerApp(), PayeeApp()
    payer = payer_app.session()
    payee = payee_app.session(make_invoice())
    run(payer, payee, payer_app, payee_app, now=(NOW_S + 3600) * 1000)
    assert _failed(payer_app.events).code == ErrorCode.DOC_EXPIRED


def test_payee_handshake_times_out_at_its_deadline() -> None:
    payee = PayeeApp().session(make_invoice(), timeouts=Timeouts(handshake_ms=2000))
    payee.start(NOW_MS)
    assert payee.get_timer() == NOW_MS + 2000
    payee.handle_timer(NOW_MS + 1999)
    assert payee.state is PayeeState.AWAIT_ANSWER
    payee.handle_timer(NOW_MS + 2000)
    assert _failed(_events(payee)).code == ErrorCode.SESSION_HANDSHAKE_TIMEOUT
    assert payee.get_timer() is None


def test_payer_offer_times_out_from_its_start_and_sends_nothing() -> None:
    payer = PayerApp().session(timeouts=Timeouts(offer_ms=2000))
    assert payer.get_timer() is None  # no clock before start() or a chunk
    payer.start(NOW_MS)
    assert payer.get_timer() == NOW_MS + 2000
    payer.handle_timer(NOW_MS + 1999)
    assert payer.state is PayerState.AWAIT_OFFER
    payer.handle_timer(NOW_MS + 2000)
    assert _failed(_events(payer)).code == ErrorCode.SESSION_HANDSHAKE_TIMEOUT
    assert payer.data_to_send() == []  # the payee never spoke: nothing to answer it with
    assert payer.get_timer() is None


def test_payer_offer_in_time_moves_to_the_invoice_timer() -> None:
    payer = PayerApp().session(timeouts=Timeouts(offer_ms=2000, invoice_ms=700))
    payee = PayeeApp().session(make_invoice())
    payer.start(NOW_MS)
    payee.start(NOW_MS + 100)
    for chunk in payee.data_to_send():
        payer.receive_data(chunk, NOW_MS + 100)
    assert payer.state is PayerState.AWAIT_INVOICE
    assert payer.get_timer() == NOW_MS + 100 + 700


def test_payer_start_twice_or_late_is_local_misuse() -> None:
    payer = PayerApp().session()
    payer.start(NOW_MS)
    with pytest.raises(LocalProtocolError) as err:
        payer.start(NOW_MS)
    assert err.value.code is ErrorCode.SESSION_API_MISUSE
    assert payer.get_timer() == NOW_MS + Timeouts().offer_ms


def test_payer_approval_timeout_aborts_the_payee() -> None:
    payer = PayerApp().session(timeouts=Timeouts(approval_ms=500))
    payee = PayeeApp().session(make_invoice())
    _to_approval(payer, payee)
    assert payer.state is PayerState.AWAIT_APPROVAL
    deadline = payer.get_timer()
    assert deadline == NOW_MS + 500
    payer.handle_timer(deadline)
    assert _failed(_events(payer)).code == ErrorCode.SESSION_APPROVAL_TIMEOUT
    _pump(payer, payee)
    peer = _failed(_events(payee))
    assert peer.code == ErrorCode.SESSION_APPROVAL_TIMEOUT
    assert peer.by_peer


def test_payer_receipt_timeout_fails_with_its_own_code() -> None:
    payer = PayerApp().session(timeouts=Timeouts(receipt_ms=700))
    payee = PayeeApp().session(make_invoice())
    _to_approval(payer, payee)
    payer.persisted(_approve(payer).record_id)
    payer.handle_timer(NOW_MS + 700)
    assert _failed(_events(payer)).code == ErrorCode.SESSION_RECEIPT_TIMEOUT


def test_payee_payment_timeout_fails_with_its_own_code() -> None:
    payer = PayerApp().session()
    payee = PayeeApp().session(make_invoice(), timeouts=Timeouts(payment_ms=900))
    payee.start(NOW_MS)
    _pump(payee, payer)
    _pump(payer, payee)
    payee.handle_timer(NOW_MS + 900)
    assert _failed(_events(payee)).code == ErrorCode.SESSION_PAYMENT_TIMEOUT


def test_half_received_message_times_out_by_the_reassembly_timer() -> None:
    payer = PayerApp().session(timeouts=Timeouts(reassembly_ms=300, handshake_ms=10_000))
    payee = PayeeApp().session(make_invoice(), max_chunk_size=20)
    payee.start(NOW_MS)
    first, *_ = payee.data_to_send()
    payer.receive_data(first, NOW_MS)
    assert payer.get_timer() == NOW_MS + 300
    payer.handle_timer(NOW_MS + 300)
    assert _failed(_events(payer)).code == ErrorCode.FRAME_TIMEOUT


def test_data_after_completion_is_ignored() -> None:
    payer_app, payee_app, payer, payee = _pair()
    run(payer, payee, payer_app, payee_app)
    payer.receive_data(b"\x00\x00\x05hello", NOW_MS)
    assert payer.state is PayerState.COMPLETED
    assert payer.next_event() is NEED_DATA


def test_garbage_as_the_opening_is_refused_with_only_a_code() -> None:
    payer = PayerApp().session()
    payer.receive_data(chunk_message(b"\x01" * 20, 40)[0], NOW_MS)
    assert _failed(_events(payer)).code == ErrorCode.SESSION_MALFORMED_MESSAGE
    first, *rest = payer.data_to_send()
    # Noise message 1 in clear: header, length, e (32 bytes), then the envelope
    noise = first[3:] + b"".join(chunk[1:] for chunk in rest)
    refusal = Message.decode(noise[32:])
    assert refusal.kind is MessageKind.REFUSAL
    assert decode_refusal(refusal.body) == ErrorCode.SESSION_MALFORMED_MESSAGE


def test_garbage_frame_before_the_opening_fails_without_an_answer() -> None:
    payer = PayerApp().session()
    payer.receive_data(b"\xff\x00", NOW_MS)
    assert _failed(_events(payer)).code == ErrorCode.FRAME_BAD_HEADER
    assert payer.data_to_send() == []


def test_payee_refuses_an_invoice_it_did_not_sign() -> None:
    with pytest.raises(LocalProtocolError):
        PayeeApp(identity=MALLORY).session(make_invoice())


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(LocalProtocolError):
        dataclasses.replace(Timeouts(), receipt_ms=0)


def test_invoice_from_a_payee_not_accepting_our_issuer_fails_before_approval() -> None:
    picky = make_invoice_with_issuers(
        PAYEE, amount=500, currency="EUR", now=NOW_S, issuers=(key_id(public_key(MALLORY)),)
    ).raw
    payer_app, payee_app = PayerApp(), PayeeApp()
    run(payer_app.session(), payee_app.session(picky), payer_app, payee_app)
    assert _failed(payer_app.events).code == ErrorCode.SESSION_WALLET_CANNOT_PAY
    assert payer_app.counters == []


def test_expired_allowance_fails_before_approval() -> None:
    expired = make_allowance_at(
        ISSUER,
        wallet=public_key(PAYER),
        currency="EUR",
        limit=10_000,
        not_before=NOW_S - 7200,
        not_after=NOW_S - 3600,
        serial=8,
    ).raw
    payer_app, payee_app = PayerApp(allowance=expired), PayeeApp()
    run(payer_app.session(), payee_app.session(make_invoice()), payer_app, payee_app)
    assert _failed(payer_app.events).code == ErrorCode.SESSION_WALLET_CANNOT_PAY
    assert payer_app.counters == []


def test_peer_abort_with_a_code_we_do_not_know_is_reported_as_sent() -> None:
    payer = PayerApp().session()
    payee_side = payee_channel()
    offer = Offer.from_capabilities(Capabilities(max_chunk_size=244, currencies=("EUR",)))
    payee_side.write(Message(kind=MessageKind.OFFER, body=offer.encode()).encode())
    _feed_channel(payee_side, payer)
    assert _read_channel(payer, payee_side).kind is MessageKind.ANSWER
    abort = sign(PAYEE, Abort(sender=public_key(PAYEE), code=999, reason="newer", time=NOW_S))
    payee_side.write(Message(kind=MessageKind.ABORT, body=abort.raw).encode())
    _feed_channel(payee_side, payer)
    failed = _failed(_events(payer))
    assert (failed.code, failed.by_peer, failed.reason) == (999, True, "newer")
    assert payer.data_to_send() == []  # no abort in answer to an abort


def test_abort_signed_by_someone_else_than_the_peer_is_a_key_mismatch() -> None:
    payer = PayerApp().session()
    payee_side = payee_channel()
    offer = Offer.from_capabilities(Capabilities(max_chunk_size=244, currencies=("EUR",)))
    payee_side.write(Message(kind=MessageKind.OFFER, body=offer.encode()).encode())
    _feed_channel(payee_side, payer)
    _read_channel(payer, payee_side)
    forged = sign(MALLORY, Abort(sender=public_key(MALLORY), code=704, reason="x", time=NOW_S))
    payee_side.write(Message(kind=MessageKind.ABORT, body=forged.raw).encode())
    _feed_channel(payee_side, payer)
    failed = _failed(_events(payer))
    assert failed.code == ErrorCode.HANDSHAKE_PEER_KEY_MISMATCH
    assert not failed.by_peer


def test_channel_refuses_a_message_the_peer_could_not_take_and_keeps_its_state() -> None:
    channel = payee_channel()
    with pytest.raises(LocalProtocolError) as info:
        channel.write(bytes(1024))
    assert info.value.code is ErrorCode.FRAME_OVERSIZED
    assert channel.drain() == []
    channel.write(b"small offer")
    assert len(channel.drain()) == 1


@pytest.mark.parametrize("body", [cbor_encode("no"), cbor_encode(99), cbor_encode(1000), b"\xff"])
def test_a_refusal_that_is_not_one_error_code_is_malformed(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_refusal(body)
    assert info.value.code is ErrorCode.SESSION_MALFORMED_MESSAGE


def test_a_refusal_after_the_payer_disclosed_itself_is_unexpected() -> None:
    """Once it has paid, the payer signs what it says: an unsigned refusal is not taken."""
    payee = PayeeApp().session(make_invoice())
    mallory = payer_channel()
    payee.start(NOW_MS)
    offer = _read_channel(payee, mallory)
    answer = answer_offer(Offer.decode(offer.body), Capabilities(currencies=("EUR",)))
    mallory.apply(answer)
    mallory.write(Message(kind=MessageKind.ANSWER, body=answer.encode()).encode())
    _feed_channel(mallory, payee)
    _read_channel(payee, mallory)
    mallory.reveal(KeyPair.from_ed25519_seed(bytes(PAYER)))
    payment = _payment_by_the_real_payer(make_invoice())
    mallory.write(Message(kind=MessageKind.PAYMENT, body=payment).encode())
    _feed_channel(mallory, payee)
    assert payee.state is PayeeState.AWAIT_PAYMENT_PERSISTED
    mallory.write(Message(kind=MessageKind.REFUSAL, body=bytes([0x19, 0x02, 0xC0])).encode())
    _feed_channel(mallory, payee)
    assert _failed(_events(payee)).code == ErrorCode.SESSION_UNEXPECTED_MESSAGE


def test_the_payer_takes_no_refusal_from_the_payee() -> None:
    payer = PayerApp().session()
    payee_side = payee_channel()
    offer = Offer.from_capabilities(Capabilities(max_chunk_size=244, currencies=("EUR",)))
    payee_side.write(Message(kind=MessageKind.OFFER, body=offer.encode()).encode())
    _feed_channel(payee_side, payer)
    _read_channel(payer, payee_side)
    payee_side.write(Message(kind=MessageKind.REFUSAL, body=bytes([0x19, 0x02, 0xC0])).encode())
    _feed_channel(payee_side, payer)
    assert _failed(_events(payer)).code == ErrorCode.SESSION_UNEXPECTED_MESSAGE
