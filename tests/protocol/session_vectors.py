"""Whole-session transcripts for protocol/vectors/sessions.json (SESSIONS.md section 6).

Each case is run with the real :class:`~protocol.session.PayerSession` and
:class:`~protocol.session.PayeeSession`, joined by a list standing in for the radio, at
ATT MTU 23 and 247, and everything is written down in order: the central's START, every
app call and its time, every event, every chunk each way (with the Noise message and the
envelope it carries, and the document or negotiation map inside), the cut, and END.

Deterministic by construction: fixed Ed25519 seeds, documents with fixed ids, nonces and
times, a fixed clock (``T0`` plus fixed delays), and the sessions' injected ``new_key``
source handing out fixed X25519 keys (ephemerals, and the payer's one-time static key of a
refusal). Ed25519 signatures and the CBOR encoding are deterministic, so a rebuild is
byte-for-byte the committed file (``tests/protocol/test_vectors.py``).

Envelopes are recovered from the wire by two independent Noise states built from the
same keys (one reads what a side wrote, the other writes it again and must get the same
bytes), not by peeking into the sessions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from protocol import ErrorCode, cbor
from protocol.builders import make_invoice
from protocol.cose import Kind, sign1
from protocol.documents import Abort, Document, Invoice, Payment, Receipt, to_payload
from protocol.framing import chunk_size_for_mtu
from protocol.keys import document_hash, public_key
from protocol.negotiation import PROLOGUE, Answer, Offer
from protocol.noise import HandshakeState, KeyPair, TransportState
from protocol.session import (
    Completed,
    Event,
    Failed,
    InvoiceReceived,
    NeedData,
    PayeePolicy,
    PayeeResume,
    PayeeSession,
    PayerSession,
    PayerWallet,
    PaymentReceived,
    PersistRequired,
    ReceiptReceived,
)
from protocol.session.messages import Message, MessageKind, decode_refusal
from protocol.verify import SignedDocument, open_as
from tests.protocol.docworld import NOW, World, doc_json, seed

__all__ = ["MTUS", "T0", "event_json", "foreign_currency_invoice", "sessions"]

MTUS = (23, 247)
"""The ATT MTUs of the transcripts: the BLE minimum and a common phone value."""
T0 = (NOW + 5) * 1000
"""When the central writes START (ms of Unix time): 5 s after the invoice was made."""
LINK_MS = 30
"""A message's chunks all reach the peer this long after the input that queued them."""
DISK_MS = 5
"""An app answers PersistRequired with persisted() this long after the event."""
HUMAN_MS = 4_000
"""A person approves or declines this long after InvoiceReceived."""
END_MS = 10
"""The side that received the last message writes END this long after it."""
MAX_MESSAGE_SIZE = 4096
"""Both sides' max_message_size (the sessions' default)."""

_DOCS = {
    MessageKind.INVOICE: Invoice,
    MessageKind.PAYMENT: Payment,
    MessageKind.RECEIPT: Receipt,
    MessageKind.ABORT: Abort,
}
_NOISE_STEPS = ("opening", "message 1: e", "message 2: e, ee, s, es", "message 3: s, se")


def _hash(data: bytes) -> str:
    return document_hash(data).hex()


def event_json(event: Event) -> dict[str, Any]:
    """What a transcript says of an event: what another implementation must also report."""
    name = type(event).__name__
    if isinstance(event, InvoiceReceived):
        return {
            "event": name,
            "invoice": _hash(event.invoice.raw),
            "sas": event.sas,
            "resumed": event.resumed,
        }
    if isinstance(event, PaymentReceived):
        return {
            "event": name,
            "payment": _hash(event.payment.raw),
            "counter": event.head.counter,
            "resumed": event.resumed,
        }
    if isinstance(event, PersistRequired):
        return {
            "event": name,
            "record_id": event.record_id,
            "kind": event.kind.value,
            "invoice_id": event.invoice_id.hex(),
            "counter": event.counter,
        }
    if isinstance(event, ReceiptReceived):
        return {"event": name, "receipt": _hash(event.receipt.raw)}
    if isinstance(event, Completed):
        return {
            "event": name,
            "invoice_id": event.invoice_id.hex(),
            "receipt": _hash(event.receipt.raw),
        }
    if isinstance(event, Failed):
        try:
            code_name = ErrorCode(event.code).name
        except ValueError:
            code_name = None
        return {
            "event": name,
            "code": event.code,
            "name": code_name,
            "by_peer": event.by_peer,
            "abort": None if event.abort is None else _hash(event.abort),
        }
    raise AssertionError(f"unexpected event {event!r}")


class _Keys:
    """The sessions' ``new_key``: fixed X25519 keys, named by seed labels, in order."""

    def __init__(self, *labels: str) -> None:
        self._left = deque(labels)
        self.used: list[bytes] = []

    def __call__(self) -> KeyPair:
        private = seed(self._left.popleft())
        self.used.append(private)
        return KeyPair.from_private(private)


class _Shadow:
    """Both sides' Noise states rebuilt from the keys: wire message -> envelope, checked."""

    def __init__(self, payee_static: KeyPair, payee_e: KeyPair, payer_e: KeyPair) -> None:
        self._keys = (payee_static, payee_e, payer_e)
        self.payee: HandshakeState | None = None
        self.payer: HandshakeState | None = None
        self.transport: dict[str, TransportState] = {}
        self.count = 0
        self.sas_hash = b""
        self.envelope = b""

    def open(self, sender: str, wire: bytes, payer_static: Callable[[MessageKind], KeyPair]) -> str:
        """The envelope ``sender`` wrote as ``wire``; returns the Noise step's name."""
        step = _NOISE_STEPS[self.count] if self.count < len(_NOISE_STEPS) else "transport"
        self.count += 1
        if step == "opening":
            payee_static, payee_e, payer_e = self._keys
            prologue = PROLOGUE + wire
            self.payee = HandshakeState(
                initiator=False, prologue=prologue, static=payee_static, ephemeral=payee_e
            )
            self.payer = HandshakeState(initiator=True, prologue=prologue, ephemeral=payer_e)
            self.envelope = wire
            return step
        assert self.payee is not None and self.payer is not None
        if step == "transport":
            receiver = "payer" if sender == "payee" else "payee"
            self.envelope = self.transport[receiver + "<"].decrypt(wire)
            assert self.transport[sender + ">"].encrypt(self.envelope) == wire
            return step
        writer, reader = (self.payee, self.payer) if sender == "payee" else (self.payer, self.payee)
        self.envelope = reader.read_message(wire)
        if step.startswith("message 3"):
            writer.set_static(payer_static(Message.decode(self.envelope).kind))
        assert writer.write_message(self.envelope) == wire
        if step.startswith("message 2"):
            self.sas_hash = self.payer.handshake_hash
        if self.payer.finished:
            payer_t, payee_t = self.payer.transport(), self.payee.transport()
            self.transport = {
                "payer>": payer_t,
                "payer<": payer_t,
                "payee>": payee_t,
                "payee<": payee_t,
            }
        return step


def _carried(envelope: Message) -> dict[str, Any]:
    """What a message carries, readable: the negotiation map, a document's hash, a code."""
    kind = envelope.kind
    if kind is MessageKind.OFFER:
        o = Offer.decode(envelope.body)
        return {
            "offer": {
                "versions": list(o.versions),
                "max_message_size": o.max_message_size,
                "chunk_size": o.chunk_size,
                "currencies": list(o.currencies),
                "features": list(o.features),
                "tag": o.tag,
            }
        }
    if kind is MessageKind.ANSWER:
        a = Answer.decode(envelope.body)
        return {
            "answer": {
                "version": a.version,
                "max_message_size": a.max_message_size,
                "chunk_size": a.chunk_size,
                "currencies": list(a.currencies),
                "features": list(a.features),
            }
        }
    if kind is MessageKind.REFUSAL:
        return {"refusal": decode_refusal(envelope.body)}
    return {"document": kind.name.lower(), "hash": _hash(envelope.body)}


@dataclass(frozen=True, kw_only=True)
class _Leg:
    """One session of a case: who the two apps are and how they behave."""

    tag: str
    invoice: bytes
    approve: bool = True
    revoked: tuple[bytes, ...] = ()
    payer_stored: dict[bytes, bytes] = field(default_factory=dict)
    payee_resume: PayeeResume | None = None
    cut_receipt: bool = False
    """Cut the link after all but the receipt's last chunk reached the payer."""
    keys: tuple[str, ...] = ("payee ephemeral", "payer ephemeral", "payer one-time static")
    crafted: Invoice | None = None
    """The decoded ``invoice`` when it breaks a field rule (no parser would give it): the
    payee session is handed it as is, and the transcript reports its fields from it."""


class _Run:
    """One session between the real payer and payee, written down step by step."""

    def __init__(self, leg: _Leg, mtu: int, start: int) -> None:
        w = World()
        self.leg, self.w, self.t = leg, w, start
        chunk = chunk_size_for_mtu(mtu)
        payee_e, payer_e, one_time = leg.keys
        self.payee_keys, self.payer_keys = _Keys(payee_e), _Keys(payer_e, one_time)
        self.policy = PayeePolicy(
            trusted_issuers=(public_key(w.issuer),), revoked=leg.revoked, revocations_fetched_at=NOW
        )
        self.allowance = w.allowance().raw
        self.setup: dict[str, Any] = {
            "payee": {
                "identity": "payee",
                "invoice": leg.invoice.hex(),
                "tag": leg.tag,
                "max_chunk_size": min(chunk, 510),
                "max_message_size": MAX_MESSAGE_SIZE,
                "trusted_issuers": [k.hex() for k in self.policy.trusted_issuers],
                "revoked": [k.hex() for k in leg.revoked],
                "revocations_fetched_at": NOW,
                "last_seen": None,
                "resume": None
                if leg.payee_resume is None
                else {
                    "payment": leg.payee_resume.payment.hex(),
                    "receipt": None
                    if leg.payee_resume.receipt is None
                    else leg.payee_resume.receipt.hex(),
                },
                "new_keys": [seed(payee_e).hex()],
            },
            "payer": {
                "identity": "payer",
                "allowance": self.allowance.hex(),
                "head": None,
                "stored_payments": {k.hex(): v.hex() for k, v in leg.payer_stored.items()},
                "advertised_tag": leg.tag,
                "max_chunk_size": chunk,
                "max_message_size": MAX_MESSAGE_SIZE,
            },
        }
        invoice: bytes | SignedDocument[Invoice] = (
            leg.invoice
            if leg.crafted is None
            else SignedDocument(raw=leg.invoice, doc=leg.crafted, hash=document_hash(leg.invoice))
        )
        self.payee = PayeeSession(
            identity=w.payee,
            invoice=invoice,
            policy=self.policy,
            resume=leg.payee_resume,
            max_chunk_size=min(chunk, 510),
            max_message_size=MAX_MESSAGE_SIZE,
            tag=leg.tag,
            new_key=self.payee_keys,
        )
        self.payer = PayerSession(
            wallet=PayerWallet(identity=w.payer, allowance=self.allowance, head=None),
            find_payment=leg.payer_stored.get,
            max_chunk_size=chunk,
            max_message_size=MAX_MESSAGE_SIZE,
            advertised_tag=leg.tag,
            new_key=self.payer_keys,
        )
        self.shadow = _Shadow(
            KeyPair.from_ed25519_seed(bytes(w.payee)),
            KeyPair.from_private(seed(payee_e)),
            KeyPair.from_private(seed(payer_e)),
        )
        self.steps: list[dict[str, Any]] = [
            {"at": self.t, "from": "payee", "state": (b"\x01" + mtu.to_bytes(2, "big")).hex()}
        ]
        self.todo: deque[tuple[int, Callable[[], None]]] = deque()
        self.persisted: dict[str, bytes] = {}
        self.documents: dict[str, dict[str, Any]] = {}
        self.last_from = ""
        self.cut = False
        self.sas_hash = b""

    def side(self, name: str) -> PayerSession | PayeeSession:
        return self.payer if name == "payer" else self.payee

    def after(self, name: str) -> None:
        """Write down ``name``'s events, react as its app would, queue its chunks."""
        session = self.side(name)
        while not isinstance(event := session.next_event(), NeedData):
            self.steps.append({"at": self.t, "side": name, **event_json(event)})
            if isinstance(event, InvoiceReceived) and not event.resumed:
                call = "approve" if self.leg.approve else "decline"
                self.todo.append((HUMAN_MS, partial(self.call, "payer", call)))
            elif isinstance(event, PersistRequired):
                self.persisted[event.record_id] = event.document.raw
                rid = event.record_id
                self.todo.append((DISK_MS, partial(self.call, name, "persisted", rid)))
        chunks = session.data_to_send()
        while chunks:
            n = next(i for i, c in enumerate(chunks) if not c[0] & 1) + 1
            message, chunks = chunks[:n], chunks[n:]
            self.todo.append((LINK_MS, partial(self.deliver, name, message)))

    def call(self, name: str, what: str, record_id: str | None = None) -> None:
        step: dict[str, Any] = {"at": self.t, "side": name, "call": what}
        if what == "start":
            self.payee.start(self.t)
        elif what == "approve":
            self.payer.approve(now=self.t)
        elif what == "decline":
            self.payer.decline(now=self.t)
        else:
            assert record_id is not None
            step["record_id"] = record_id
            self.side(name).persisted(record_id, now=self.t)
        self.steps.append(step)
        self.after(name)

    def deliver(self, sender: str, chunks: list[bytes]) -> None:
        receiver = "payer" if sender == "payee" else "payee"
        wire = b"".join(c[1:] for c in chunks)[2:]
        step_name = self.shadow.open(sender, wire, self._payer_static)
        envelope = Message.decode(self.shadow.envelope)
        if step_name == "message 2: e, ee, s, es":
            self.sas_hash = self.shadow.sas_hash
        if envelope.kind in _DOCS:
            doc: Document | None = self.leg.crafted if envelope.body == self.leg.invoice else None
            if doc is None:  # a crafted invoice breaks a field rule: no parser would open it
                signed: SignedDocument[Any] = open_as(envelope.body, _DOCS[envelope.kind])
                doc = signed.doc
            self.documents[envelope.kind.name.lower()] = {
                "hash": _hash(envelope.body),
                "fields": doc_json(doc),
            }
        delivered = (
            len(chunks) - 1
            if self.leg.cut_receipt and envelope.kind is (MessageKind.RECEIPT)
            else len(chunks)
        )
        step: dict[str, Any] = {
            "at": self.t,
            "from": sender,
            "noise": step_name,
            "kind": envelope.kind.name,
            **_carried(envelope),
            "envelope": envelope.encode().hex(),
            "message": wire.hex(),
            "chunks": [c.hex() for c in chunks],
        }
        if delivered < len(chunks):
            step["delivered"] = delivered
        self.steps.append(step)
        for chunk in chunks[:delivered]:
            self.side(receiver).receive_data(chunk, self.t)
        self.last_from = sender
        if delivered < len(chunks):
            self.steps.append({"at": self.t, "cut": True})
            self.cut = True
            return
        self.after(receiver)

    def _payer_static(self, kind: MessageKind) -> KeyPair:
        if kind is MessageKind.PAYMENT:
            return KeyPair.from_ed25519_seed(bytes(self.w.payer))
        return KeyPair.from_private(self.payer_keys.used[1])

    def run(self) -> dict[str, Any]:
        self.call("payee", "start")
        while self.todo and not self.cut:
            delay, action = self.todo.popleft()
            self.t += delay
            action()
        assert not self.todo or self.cut
        if not self.cut:
            assert self.payer.state.name in ("COMPLETED", "FAILED"), self.payer.state
            assert self.payee.state.name in ("COMPLETED", "FAILED"), self.payee.state
            ender = "payer" if self.last_from == "payee" else "payee"
            self.t += END_MS
            self.steps.append({"at": self.t, "from": ender, "state": "02"})
        self.setup["payer"]["new_keys"] = [k.hex() for k in self.payer_keys.used]
        payer_static = (
            KeyPair.from_ed25519_seed(bytes(self.w.payer)).private
            if "payment" in self.documents
            else self.payer_keys.used[-1]
        )
        opening = next(s for s in self.steps if s.get("noise") == "opening")
        payee_static = KeyPair.from_ed25519_seed(bytes(self.w.payee)).private
        return {
            "ends": _outcome(self),
            "setup": self.setup,
            "noise": {
                "prologue": (PROLOGUE + bytes.fromhex(opening["envelope"])).hex(),
                "payee_static_private": payee_static.hex(),
                "payee_ephemeral_private": self.payee_keys.used[0].hex(),
                "payer_ephemeral_private": self.payer_keys.used[0].hex(),
                "payer_static_private": payer_static.hex(),
                "sas_hash": self.sas_hash.hex(),
            },
            "sas": self.payer.sas,
            "documents": self.documents,
            "steps": self.steps,
        }


def _outcome(run: _Run) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("payer", "payee"):
        last = [s for s in run.steps if s.get("side") == name and "event" in s][-1]
        state = run.side(name).state.name
        out[name] = {"state": state} | (
            {"code": last["code"], "name": last["name"], "by_peer": last["by_peer"]}
            if state == "FAILED"
            else {}
        )
    return out


_CASES: dict[str, str] = {
    "payment": (
        "The happy path. The payer's user approves 12.50 EUR; the payer persists counter 1 "
        "and sends the payment with its wallet key (Noise message 3); the payee accepts it, "
        "persists it, signs, persists and sends its receipt. Both end COMPLETED (no code); "
        "the payer, who received the last message, ends the session with END."
    ),
    "decline": (
        "The payer's user declines the invoice after seeing it and the SAS: Noise message 3 "
        "is a REFUSAL carrying 704 SESSION_DECLINED, under the payer's one-time static key "
        "(its wallet key never leaves it). Ends with 704 SESSION_DECLINED on both sides "
        "(the payee's by_peer); the payee, who received the last message, writes END."
    ),
    "unknown-currency": (
        "The payee asks for 12.50 USD, a currency the payer's wallet does not hold (its "
        "allowance is in EUR). The payer answers "
        "every offered currency (USD), then, on the invoice, refuses without asking its user: "
        "its app sees 712 SESSION_WALLET_CANNOT_PAY, the wire carries a REFUSAL with 704 "
        "SESSION_DECLINED (SESSIONS.md 1.1: the payee learns nothing of the wallet). The payee "
        "ends with 704 (by_peer) and writes END."
    ),
    "unknown-currency-code": (
        "The invoice asks for amount 1250 in XTS, a code outside the protocol's currency table: "
        "a malformed invoice no payee of ours can make, so this one is built field by field "
        "and signed with the payee's real key. The payer answers every offered currency "
        "(XTS), then, on the invoice, refuses without asking its user with 220 "
        "MONEY_UNKNOWN_CURRENCY, a code about the payee's own bytes, which the REFUSAL "
        "carries unchanged. The payee ends with 220 (by_peer) and writes END. Replayed as "
        "the payer only: a conforming payee refuses to send such an invoice."
    ),
    "resumption": (
        "Session 1 runs as the payment until the link is cut at a chunk boundary: the payee "
        "has persisted the payment (counter 1) and its receipt, and all but the receipt's "
        "last chunk reached the payer (no END; the link is gone). Session 2 (fresh "
        "ephemerals and tag) sends the same invoice bytes: the payer finds its stored payment "
        "and re-sends exactly it (InvoiceReceived resumed, no approval, no new counter); the "
        "payee, given PayeeResume(payment, receipt), re-sends the stored receipt as is. "
        "Both end COMPLETED; counter 1 is the only counter ever used for the invoice."
    ),
    "refused-payment": (
        "The payer approves and sends its payment (counter 1, persisted); the payee's "
        "revocation list names the payer's wallet key, so acceptance fails with 307 "
        "ACCEPT_PAYER_REVOKED and the payee sends a signed ABORT (code 307, naming the "
        "invoice's and the payment's hashes) in transport. Both end with 307 (the payer's "
        "by_peer, with the abort's bytes, which it keeps and syncs as refused); the payer "
        "writes END."
    ),
}


def _case(name: str, mtu: int) -> dict[str, Any]:
    w = World()
    invoice = w.invoice().raw
    legs: list[_Leg]
    if name == "payment":
        legs = [_Leg(tag=f"pay{mtu}", invoice=invoice)]
    elif name == "decline":
        legs = [_Leg(tag=f"no{mtu}", invoice=invoice, approve=False)]
    elif name == "unknown-currency":
        usd = make_invoice(
            w.payee,
            amount=12_50,
            currency="USD",
            now=NOW,
            memo="coffee",
            invoice_id=bytes([2]) * 16,
            nonce=bytes([0xA2]) * 16,
        )
        legs = [_Leg(tag=f"usd{mtu}", invoice=usd.raw)]
    elif name == "unknown-currency-code":
        xts = foreign_currency_invoice(w)
        legs = [_Leg(tag=f"xts{mtu}", invoice=xts.raw, crafted=xts.doc)]
    elif name == "refused-payment":
        legs = [_Leg(tag=f"rev{mtu}", invoice=invoice, revoked=(public_key(w.payer),))]
    else:
        legs = [_Leg(tag=f"cut{mtu}", invoice=invoice, cut_receipt=True)]
    runs = [_Run(legs[0], mtu, T0)]
    first = runs[0].run()
    if name == "resumption":
        stored = runs[0].persisted
        payment = next(v for k, v in stored.items() if k.startswith("payment:"))
        receipt = next(v for k, v in stored.items() if k.startswith("receipt:"))
        invoice_id = open_as(invoice, Invoice).doc.id
        second = _Leg(
            tag=f"again{mtu}",
            invoice=invoice,
            payer_stored={invoice_id: payment},
            payee_resume=PayeeResume(payment=payment, receipt=receipt),
            keys=("payee ephemeral 2", "payer ephemeral 2", "payer one-time 2"),
        )
        runs.append(_Run(second, mtu, runs[0].t + 60_000))
        transcripts = [first, runs[1].run()]
    else:
        transcripts = [first]
    return {
        "name": f"{name}/mtu-{mtu}",
        "case": name,
        "description": _CASES[name],
        "mtu": mtu,
        "chunk_size": chunk_size_for_mtu(mtu),
        **({"replay": list(_REPLAY[name])} if name in _REPLAY else {}),
        "sessions": transcripts,
    }


_REPLAY: dict[str, tuple[str, ...]] = {"unknown-currency-code": ("payer",)}
"""Cases a conforming implementation can replay as one side only (absent: both sides)."""


def foreign_currency_invoice(w: World) -> SignedDocument[Invoice]:
    """An invoice for 1250 XTS (not in the currency table), signed with the payee's real key.

    Built past the field rules (``model_construct``, then ``sign1``): ``make_invoice`` and
    ``sign`` refuse it, as a payee must. The fields are the world's invoice 3's otherwise.
    """
    fields = dict(w.invoice(n=3).doc) | {"currency": "XTS"}
    doc = Invoice.model_construct(**fields)
    raw = sign1(w.payee, Kind.INVOICE, cbor.encode(to_payload(doc)))
    return SignedDocument(raw=raw, doc=doc, hash=document_hash(raw))


def sessions() -> list[dict[str, Any]]:
    """Every case at every MTU, in a fixed order."""
    return [_case(name, mtu) for name in _CASES for mtu in MTUS]
