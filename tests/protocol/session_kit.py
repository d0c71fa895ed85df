"""Real payer and payee sessions joined by a fake pipe, with minimal in-memory apps.

Not a mock of the sessions: both are the real thing; only the wire (a list) and the apps'
stores (dicts) are stand-ins, the seam a unit test needs.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from nacl.signing import SigningKey

from protocol import builders
from protocol.chain import ChainHead, ChainKey, head_of
from protocol.documents import Invoice, Payment
from protocol.framing import MAX_CHUNK_SIZE
from protocol.keys import public_key
from protocol.noise import KeyPair
from protocol.risk import RiskPolicy
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
    RecordKind,
    Timeouts,
)
from protocol.session.channel import Channel
from protocol.verify import SignedDocument, open_as

ISSUER = SigningKey(bytes([1]) * 32)
PAYER = SigningKey(bytes([2]) * 32)
PAYEE = SigningKey(bytes([3]) * 32)
NOW_S = 1_760_000_000
NOW_MS = NOW_S * 1000


def payee_channel(identity: SigningKey = PAYEE, *, chunk_size: int = 244) -> Channel:
    """A bare payee-side channel (the opener, static key known) for a hand-driven peer."""
    return Channel(
        opener=True,
        static=KeyPair.from_ed25519_seed(bytes(identity)),
        chunk_size=chunk_size,
        reassembly_timeout_ms=1000,
    )


def payer_channel(*, chunk_size: int = 244) -> Channel:
    """A bare payer-side channel (Noise initiator, no static key until ``reveal``)."""
    return Channel(opener=False, static=None, chunk_size=chunk_size, reassembly_timeout_ms=1000)


def make_allowance(wallet: SigningKey = PAYER, *, limit: int = 100_000, serial: int = 7) -> bytes:
    """The issuer's allowance for ``wallet`` in EUR, valid around NOW_S."""
    return builders.make_allowance(
        ISSUER,
        wallet=public_key(wallet),
        currency="EUR",
        limit=limit,
        not_before=NOW_S - 86_400,
        not_after=NOW_S + 30 * 86_400,
        serial=serial,
    ).raw


def make_invoice(
    payee: SigningKey = PAYEE, *, amount: int = 1250, number: int = 1, currency: str = "EUR"
) -> bytes:
    """A deterministic invoice: ``number`` fixes its id and nonce, so re-making it is a resend."""
    return builders.make_invoice(
        payee,
        amount=amount,
        currency=currency,
        now=NOW_S,
        memo="coffee and cake",
        ttl=600,
        invoice_id=number.to_bytes(16, "big"),
        nonce=bytes([number % 256]) * 16,
    ).raw


@dataclass
class PayerApp:
    """The payer's wallet store and user: approves unless told not to, persists at once."""

    identity: SigningKey = PAYER
    allowance: bytes = field(default_factory=make_allowance)
    approve: bool = True
    payments: dict[bytes, bytes] = field(default_factory=dict)
    counters: list[int] = field(default_factory=list)
    head: ChainHead | None = None
    receipts: dict[bytes, bytes] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def wallet(self) -> PayerWallet:
        return PayerWallet(
            identity=self.identity,
            allowance=self.allowance,
            head=self.head,
        )

    def session(
        self, *, max_chunk_size: int = MAX_CHUNK_SIZE, timeouts: Timeouts | None = None
    ) -> PayerSession:
        return PayerSession(
            wallet=self.wallet(),
            find_payment=self.payments.get,
            max_chunk_size=max_chunk_size,
            timeouts=timeouts,
        )

    def handle(self, session: PayerSession, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, InvoiceReceived) and not event.resumed:
            if self.approve:
                session.approve()
            else:
                session.decline("not today")
        elif isinstance(event, PersistRequired):
            assert event.kind is RecordKind.PAYMENT and event.counter is not None
            self.payments[event.invoice_id] = event.document.raw
            self.counters.append(event.counter)
            self.head = head_of(open_as(event.document.raw, Payment))
            session.persisted(event.record_id)
        elif isinstance(event, ReceiptReceived):
            self.receipts[event.receipt.doc.payment] = event.receipt.raw


@dataclass
class PayeeApp:
    """The payee's store: persists at once, remembers chain heads, payments and receipts."""

    identity: SigningKey = PAYEE
    trusted: tuple[bytes, ...] = (public_key(ISSUER),)
    payments: dict[bytes, bytes] = field(default_factory=dict)
    receipts: dict[bytes, bytes] = field(default_factory=dict)
    heads: dict[ChainKey, ChainHead] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    risk: RiskPolicy = field(default_factory=RiskPolicy)
    list_fetched_at: int | None = NOW_S
    """When its revocation list was fetched (fresh by default; None: never)."""

    def received_from(self, payer: bytes, currency: str, since: int) -> int:
        """What ``payer`` paid this app in ``currency`` (every stored payment counts)."""
        docs = [open_as(raw, Payment).doc for raw in self.payments.values()]
        return sum(d.amount for d in docs if d.payer == payer and d.currency == currency)

    def session(
        self,
        invoice: bytes | SignedDocument[Invoice],
        *,
        max_chunk_size: int = MAX_CHUNK_SIZE,
        timeouts: Timeouts | None = None,
    ) -> PayeeSession:
        opened = open_as(invoice, Invoice) if isinstance(invoice, bytes) else invoice
        invoice_id = opened.doc.id
        resume = None
        if invoice_id in self.payments:
            resume = PayeeResume(
                payment=self.payments[invoice_id], receipt=self.receipts.get(invoice_id)
            )
        policy = PayeePolicy(
            trusted_issuers=self.trusted,
            last_seen=self.heads.get,
            risk=self.risk,
            revocations_fetched_at=self.list_fetched_at,
            received_from=self.received_from,
        )
        return PayeeSession(
            identity=self.identity,
            invoice=invoice,
            policy=policy,
            resume=resume,
            max_chunk_size=max_chunk_size,
            timeouts=timeouts,
        )

    def handle(self, session: PayeeSession, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, PaymentReceived):
            self.heads[event.head.key] = event.head
        elif isinstance(event, PersistRequired):
            store = self.payments if event.kind is RecordKind.PAYMENT else self.receipts
            store[event.invoice_id] = event.document.raw
            session.persisted(event.record_id)


@dataclass
class Wire:
    """What crossed the pipe: (sender, chunk) in order."""

    chunks: list[tuple[str, bytes]] = field(default_factory=list)

    def direction_changes(self) -> int:
        senders = [sender for sender, _ in self.chunks]
        return sum(1 for a, b in itertools.pairwise(senders) if a != b)


def _drain(session: PayerSession | PayeeSession, handle: Callable[[Event], None]) -> bool:
    progressed = False
    while not isinstance(event := session.next_event(), NeedData):
        progressed = True
        handle(event)
    return progressed


def run(
    payer: PayerSession,
    payee: PayeeSession,
    payer_app: PayerApp,
    payee_app: PayeeApp,
    *,
    now: int = NOW_MS,
    cut_after: int | None = None,
    wire: Wire | None = None,
    tamper: Callable[[str, int, bytes], bytes] | None = None,
) -> Wire:
    """Start the payee and pump chunks both ways until quiet, or until ``cut_after`` chunks.

    ``tamper(sender, index, chunk)`` may replace any chunk in flight (a man in the middle).
    """
    wire = wire if wire is not None else Wire()
    payee.start(now)
    delivered = 0
    while True:
        progressed = _drain(payee, lambda e: payee_app.handle(payee, e)) | _drain(
            payer, lambda e: payer_app.handle(payer, e)
        )
        for sender, receiver, name in ((payee, payer, "payee"), (payer, payee, "payer")):
            for sent in sender.data_to_send():
                if cut_after is not None and delivered >= cut_after:
                    return wire
                chunk = sent if tamper is None else tamper(name, delivered, sent)
                wire.chunks.append((name, chunk))
                receiver.receive_data(chunk, now)
                delivered += 1
                progressed = True
        if not progressed:
            return wire


def outcome(events: list[Event]) -> Completed | Failed | None:
    """The terminal event of one side, if any."""
    ends = [e for e in events if isinstance(e, Completed | Failed)]
    assert len(ends) <= 1, ends
    return ends[0] if ends else None
