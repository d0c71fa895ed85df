"""Properties: every document kind round-trips; mutated bytes only ever raise ProtocolError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import ProtocolError, cbor, verify_document
from protocol.builders import make_payment
from protocol.chain import head_of
from protocol.cose import parse_sign1, sign1
from protocol.documents import Abort, Allowance, Invoice, Payment, Receipt, Verdict, to_payload
from protocol.keys import key_id, public_key
from protocol.money import CURRENCIES, MAX_AMOUNT
from protocol.verify import open_as, open_document, sign
from tests.protocol.docworld import NOW, World

W = World()
_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_amounts = st.integers(1, MAX_AMOUNT)
_times = st.integers(0, 2**40)
_currencies = st.sampled_from(sorted(CURRENCIES))
_memo = st.text(max_size=40)
_bytes16 = st.binary(min_size=16, max_size=16)
_bytes32 = st.binary(min_size=32, max_size=32)
_issuers = st.none() | st.lists(_bytes16, min_size=1, max_size=4, unique=True).map(tuple)


@st.composite
def _invoices(draw: st.DrawFn) -> Invoice:
    created = draw(_times)
    return Invoice(
        id=draw(_bytes16),
        payee=public_key(W.payee),
        amount=draw(_amounts),
        currency=draw(_currencies),
        memo=draw(_memo),
        created=created,
        expires=created + draw(st.integers(1, 10**6)),
        nonce=draw(_bytes16),
        issuers=draw(
            st.none() | st.lists(_bytes16, min_size=1, max_size=4, unique=True).map(tuple)
        ),
    )


@st.composite
def _allowances(draw: st.DrawFn) -> Allowance:
    start = draw(_times)
    return Allowance(
        issuer=public_key(W.issuer),
        wallet=draw(_bytes32),
        currency=draw(_currencies),
        limit=draw(_amounts),
        not_before=start,
        not_after=start + draw(st.integers(1, 10**8)),
        serial=draw(st.integers(0, 2**63 - 1)),
    )


@st.composite
def _receipts(draw: st.DrawFn) -> Receipt:
    verdict = draw(st.sampled_from(Verdict))
    return Receipt(
        payment=draw(_bytes32),
        payee=public_key(W.payee),
        verdict=verdict,
        time=draw(_times),
        code=draw(st.integers(100, 999)) if verdict is Verdict.REJECTED else None,
    )


@st.composite
def _aborts(draw: st.DrawFn) -> Abort:
    return Abort(
        sender=public_key(W.payer),
        code=draw(st.integers(100, 999)),
        reason=draw(st.text(max_size=30)),
        time=draw(_times),
    )


@_SETTINGS
@given(_invoices())
def test_invoice_round_trips(doc: Invoice) -> None:
    signed = sign(W.payee, doc)
    assert open_as(signed.raw, Invoice).doc == doc


@_SETTINGS
@given(_allowances())
def test_allowance_round_trips(doc: Allowance) -> None:
    signed = sign(W.issuer, doc)
    assert open_as(signed.raw, Allowance).doc == doc


@_SETTINGS
@given(_receipts())
def test_receipt_round_trips(doc: Receipt) -> None:
    signed = sign(W.payee, doc)
    assert open_as(signed.raw, Receipt).doc == doc


@_SETTINGS
@given(_aborts())
def test_abort_round_trips(doc: Abort) -> None:
    signed = sign(W.payer, doc)
    assert open_as(signed.raw, Abort).doc == doc


@_SETTINGS
@given(st.integers(1, 50_00), st.integers(1, 5))
def test_payment_chain_round_trips(amount: int, length: int) -> None:
    allowance = W.allowance(limit=length * amount)
    head = None
    for n in range(length):
        invoice = W.invoice(amount=amount, n=n)
        payment = make_payment(W.payer, invoice=invoice, allowance=allowance, head=head)
        opened = open_document(payment.raw)
        assert opened.doc == payment.doc
        assert opened.hash == payment.hash
        head = head_of(open_as(payment.raw, Payment))


def _valid_documents() -> list[bytes]:
    payment = W.payment()
    return [W.allowance().raw, W.invoice().raw, payment.raw, W.receipt(payment).raw]


_DOCS = _valid_documents()


@st.composite
def _mutations(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_DOCS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=3))
        elif op == "delete":
            del data[pos]
        else:
            del data[pos:]
        if not data:
            break
    return bytes(data)


@settings(max_examples=200, deadline=None)
@given(_mutations())
def test_mutated_documents_raise_only_protocol_errors(data: bytes) -> None:
    try:
        verify_document(data, now=NOW, trusted_issuers=W.trusted)
    except ProtocolError:
        return
    # A mutation that still verifies must be one of the valid originals (a no-op change).
    assert data in _DOCS


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_protocol_errors(data: bytes) -> None:
    try:
        open_document(data)
    except ProtocolError:
        return
    raise AssertionError("random bytes verified as a document")


_SIGNERS = {key_id(public_key(k)): k for k in (W.issuer, W.payer, W.payee)}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_DOCS), st.data())
def test_mutated_payloads_signed_by_the_right_key_raise_only_protocol_errors(
    original: bytes, data: st.DataObject
) -> None:
    # The signature no longer shields the parser: every payload rule must hold on its own.
    envelope = parse_sign1(original)
    payload = bytearray(envelope.payload)
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(payload) - 1))
        payload[pos] = data.draw(st.integers(0, 255))
    raw = sign1(_SIGNERS[envelope.kid], envelope.kind, bytes(payload))
    try:
        doc = verify_document(raw, now=NOW, trusted_issuers=W.trusted)
    except ProtocolError:
        return
    # Whatever still verifies is canonical: the model re-encodes to exactly these bytes.
    assert cbor.encode(to_payload(doc)) == bytes(payload)
