"""Fuzz targets: what must hold for any bytes a peer can send. Pure, sans-I/O, no atheris.

Each target takes arbitrary bytes and returns normally, or raises AssertionError (an
invariant broke) or any unexpected exception (a crash): both are bugs.

- :func:`cbor_decode`: strict decoding raises only RemoteProtocolError, and whatever it
  accepts is exactly the deterministic encoding of what it returns.
- :func:`reassembler`: any chunk sequence gives only RemoteProtocolError or messages within
  the limits; every message it returns round-trips through :func:`chunk_message`.
- :func:`payer_session` / :func:`payee_session`: raw chunks from a peer never raise, never
  produce a document event (nothing forged gets through Noise), and leave the session in a
  state of its table.
- :func:`mutated_wire`: a genuine payer and payee whose chunks are altered in flight as the
  input says: nothing raises, at most one payment is persisted per side, and if both sides
  persisted a payment, it is the same one; a completed payee holds the payer's payment.
"""

from __future__ import annotations

from collections.abc import Iterator

from nacl.signing import SigningKey

from protocol import RemoteProtocolError, builders, cbor
from protocol.framing import FrameLimits, Reassembler, chunk_message
from protocol.keys import public_key
from protocol.session import (
    NEED_DATA,
    Completed,
    Event,
    Failed,
    InvoiceReceived,
    NeedData,
    PayeePolicy,
    PayeeSession,
    PayeeState,
    PayerSession,
    PayerState,
    PayerWallet,
    PaymentReceived,
    PersistRequired,
    ReceiptReceived,
    RecordKind,
)

__all__ = ["cbor_decode", "mutated_wire", "payee_session", "payer_session", "reassembler"]

ISSUER = SigningKey(bytes([11]) * 32)
PAYER = SigningKey(bytes([12]) * 32)
PAYEE = SigningKey(bytes([13]) * 32)
NOW_S = 1_760_000_000
NOW_MS = NOW_S * 1000

ALLOWANCE = builders.make_allowance(
    ISSUER,
    wallet=public_key(PAYER),
    currency="EUR",
    limit=100_00,
    not_before=NOW_S - 3600,
    not_after=NOW_S + 86_400,
    serial=1,
).raw
INVOICE = builders.make_invoice(
    PAYEE, amount=12_50, currency="EUR", now=NOW_S, invoice_id=bytes(16), nonce=bytes(16)
).raw


def _chunks(data: bytes) -> Iterator[bytes]:
    """Split fuzz input into chunks: a length byte (x3, so up to 765) then that many bytes."""
    i = 0
    while i < len(data):
        size = data[i] * 3
        yield data[i + 1 : i + 1 + size]
        i += 1 + size


def cbor_decode(data: bytes) -> None:
    for tagged in (False, True):
        try:
            value = cbor.decode(data, tagged=tagged)
        except RemoteProtocolError:
            continue
        assert cbor.encode(value) == data, "accepted bytes that are not the canonical encoding"


def reassembler(data: bytes) -> None:
    if not data:
        return
    limits = FrameLimits(max_message_size=1024, max_chunk_size=20 + data[0] % 493, timeout_ms=1)
    assembler = Reassembler(limits)
    now = NOW_MS
    try:
        for chunk in _chunks(data[1:]):
            now += 1
            assembler.check_timer(now)
            message = assembler.feed(chunk, now)
            if message is not None:
                assert 0 < len(message) <= limits.max_message_size
                again = Reassembler(limits)
                parts = chunk_message(message, limits.max_chunk_size)
                assert [again.feed(p, now) for p in parts][-1] == message
    except RemoteProtocolError:
        return


def _payer() -> PayerSession:
    wallet = PayerWallet(identity=PAYER, allowance=ALLOWANCE, head=None)
    return PayerSession(wallet=wallet)


def _payee() -> PayeeSession:
    policy = PayeePolicy(trusted_issuers=(public_key(ISSUER),))
    return PayeeSession(identity=PAYEE, invoice=INVOICE, policy=policy)


def _events(session: PayerSession | PayeeSession) -> list[Event]:
    out: list[Event] = []
    while not isinstance(event := session.next_event(), NeedData):
        out.append(event)
    assert session.next_event() is NEED_DATA
    return out


def _raw_into(session: PayerSession | PayeeSession, data: bytes) -> None:
    now = NOW_MS
    for chunk in _chunks(data):
        now += 7
        session.receive_data(chunk, now)
        session.handle_timer(now)
        for event in _events(session):
            assert isinstance(event, Failed), f"{event!r} from raw bytes"
        session.data_to_send()
    session.handle_timer(now + 10**9)  # every deadline passes
    for event in _events(session):
        assert isinstance(event, Failed), f"{event!r} from raw bytes"


def payer_session(data: bytes) -> None:
    _raw_into(_payer(), data)


def payee_session(data: bytes) -> None:
    payee = _payee()
    payee.start(NOW_MS)
    payee.data_to_send()
    _raw_into(payee, data)


def mutated_wire(data: bytes) -> bool:
    """``data``: triples (chunk index, byte position, xor mask) applied to chunks in flight.

    Returns whether both sides completed (so a test can see the harness is not vacuous).
    """
    edits: dict[int, tuple[int, int]] = {}
    for i in range(0, len(data) - 2, 3):
        edits.setdefault(data[i], (data[i + 1], data[i + 2]))
    payer, payee = _payer(), _payee()
    persisted: dict[str, list[bytes]] = {"payer": [], "payee": []}
    receipts: list[bytes] = []
    payee.start(NOW_MS)
    delivered = 0
    for _ in range(200):  # the exchange is 5 messages; this bounds a bug that loops
        progressed = False
        for name, session in (("payee", payee), ("payer", payer)):
            for event in _events(session):
                progressed = True
                if isinstance(event, InvoiceReceived) and not event.resumed:
                    assert isinstance(session, PayerSession)
                    session.approve(now=NOW_MS)
                elif isinstance(event, PersistRequired):
                    if event.kind is RecordKind.PAYMENT:
                        persisted[name].append(event.document.raw)
                    session.persisted(event.record_id, now=NOW_MS)
                elif isinstance(event, ReceiptReceived):
                    receipts.append(event.receipt.raw)
                else:
                    assert isinstance(event, PaymentReceived | Completed | Failed)
        for sender, receiver in ((payee, payer), (payer, payee)):
            for sent in sender.data_to_send():
                position, mask = edits.get(delivered % 256, (0, 0))
                chunk = bytearray(sent)
                if mask and chunk:
                    chunk[position % len(chunk)] ^= mask
                delivered += 1
                receiver.receive_data(bytes(chunk), NOW_MS)
                progressed = True
        if not progressed:
            break
    else:
        raise AssertionError("the sessions never went quiet")
    for session in (payer, payee):
        session.handle_timer(NOW_MS + 10**9)
        _events(session)
    assert len(persisted["payer"]) <= 1 and len(persisted["payee"]) <= 1
    if persisted["payee"]:
        assert persisted["payee"] == persisted["payer"], "the payee holds a payment never made"
    assert len(receipts) <= 1
    return payer.state is PayerState.COMPLETED and payee.state is PayeeState.COMPLETED
