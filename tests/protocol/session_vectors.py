"""Session transcripts for protocol/vectors/sessions.json: every message of one payment, and
of one refusal, byte for byte, from fixed keys and fixed ephemerals.

Built with the real :class:`~protocol.session.channel.Channel` (the plaintext opening, then
Noise XX with the payer as initiator) around deterministic documents, so another
implementation can check its opening, prologue, Noise messages, SAS and envelopes against
ours; ``tests/protocol/test_session_vectors.py`` replays the Noise part with the
independent ``noiseprotocol`` package.
"""

from __future__ import annotations

from typing import Any

from protocol import ErrorCode
from protocol.builders import make_payment, make_receipt
from protocol.documents import Verdict
from protocol.negotiation import PROLOGUE, Capabilities, Offer, answer_offer
from protocol.noise import KeyPair
from protocol.session.channel import Channel
from protocol.session.messages import Message, MessageKind, encode_refusal
from tests.protocol.docworld import World, seed

__all__ = ["sessions"]

CHUNK = 244
"""Chunk size of the transcripts (ATT MTU 247): the framed chunks are listed too."""


def _channels(w: World) -> tuple[Channel, Channel, dict[str, str]]:
    payee_e, payer_e = seed("payee ephemeral"), seed("payer ephemeral")
    payee = Channel(
        opener=True,
        static=KeyPair.from_ed25519_seed(bytes(w.payee)),
        chunk_size=CHUNK,
        reassembly_timeout_ms=1000,
        ephemeral=KeyPair.from_private(payee_e),
    )
    payer = Channel(
        opener=False,
        static=None,
        chunk_size=CHUNK,
        reassembly_timeout_ms=1000,
        ephemeral=KeyPair.from_private(payer_e),
    )
    keys = {
        "payee_ephemeral_private": payee_e.hex(),
        "payer_ephemeral_private": payer_e.hex(),
        "payee_static_private": KeyPair.from_ed25519_seed(bytes(w.payee)).private.hex(),
        "payer_static_private": KeyPair.from_ed25519_seed(bytes(w.payer)).private.hex(),
    }
    return payee, payer, keys


def _transcript(refuse: bool) -> dict[str, Any]:
    w = World()
    payee, payer, keys = _channels(w)
    messages: list[dict[str, str]] = []

    def send(sender: Channel, receiver: Channel, name: str, step: str, message: Message) -> None:
        envelope = message.encode()
        sender.write(envelope)
        chunks = sender.drain()
        whole = None
        for chunk in chunks:
            whole = receiver.feed(chunk, 0) or whole
        assert whole is not None
        assert receiver.read(whole) == envelope
        messages.append(
            {
                "from": name,
                "step": step,
                "kind": message.kind.name,
                "envelope": envelope.hex(),
                "message": whole.hex(),
                "chunks": [c.hex() for c in chunks],
            }
        )

    offer = Offer.from_capabilities(Capabilities(max_chunk_size=CHUNK, currencies=("EUR",)))
    opening = Message(kind=MessageKind.OFFER, body=offer.encode())
    send(payee, payer, "payee", "opening", opening)
    answer = answer_offer(offer, Capabilities(max_chunk_size=CHUNK, currencies=offer.currencies))
    payer.use_chunk_size(answer.chunk_size)
    payer.apply(answer)
    send(
        payer, payee, "payer", "noise 1: e", Message(kind=MessageKind.ANSWER, body=answer.encode())
    )
    payee.apply(answer)
    invoice = w.invoice()
    send(
        payee,
        payer,
        "payee",
        "noise 2: e, ee, s, es",
        Message(kind=MessageKind.INVOICE, body=invoice.raw),
    )
    case: dict[str, Any] = {
        "name": "refusal" if refuse else "payment",
        "keys": keys,
        "prologue": (PROLOGUE + opening.encode()).hex(),
        "sas": payer.sas,
    }
    assert payer.sas == payee.sas
    if refuse:
        one_time = seed("payer one-time static")
        case["keys"]["payer_one_time_static_private"] = one_time.hex()
        payer.reveal(KeyPair.from_private(one_time))
        refusal = encode_refusal(ErrorCode.SESSION_DECLINED)
        send(
            payer, payee, "payer", "noise 3: s, se", Message(kind=MessageKind.REFUSAL, body=refusal)
        )
        case["description"] = (
            "the payer declines: XX message 3 under a one-time static key, an unsigned code"
        )
    else:
        payer.reveal(KeyPair.from_ed25519_seed(bytes(w.payer)))
        payment = make_payment(w.payer, invoice=invoice, allowance=w.allowance(), head=None)
        send(
            payer,
            payee,
            "payer",
            "noise 3: s, se",
            Message(kind=MessageKind.PAYMENT, body=payment.raw),
        )
        receipt = make_receipt(
            w.payee, payment_hash=payment.hash, verdict=Verdict.ACCEPTED, now=invoice.doc.created
        )
        send(
            payee, payer, "payee", "transport", Message(kind=MessageKind.RECEIPT, body=receipt.raw)
        )
        case["description"] = "a payment: the payer's wallet key travels with the payment only"
    case["messages"] = messages
    case["sas_input"] = "handshake hash after Noise message 2; see SESSIONS.md 2.2"
    return case


def sessions() -> list[dict[str, Any]]:
    """The transcripts: a completed payment and a refusal."""
    return [_transcript(refuse=False), _transcript(refuse=True)]
