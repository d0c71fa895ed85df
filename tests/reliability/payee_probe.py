"""A genuine payee, a hostile payer on Bumble's virtual radio, and what must hold after each
session (issue 11, item 3: no value a hostile payer can send crashes a payee or loses anything).

:class:`Probe` opens the payee's real wallet (SQLite store on disk) and runs the real
:class:`~p2ppay.roles.PayeeRole` against :class:`~tests.reliability.mallory.Mallory`, who
plays a modified payer: real Noise handshake, her own real keys, and, in message 4, whatever
bytes the test built from the invoice she received. Allowances are signed by ``ISSUER``, a
test issuer the payee trusts, so signatures and issuer trust pass and the *values* are what
is exercised.

:func:`check_after` reads the store file by SQL (not through the store's API) and asserts
the payee invariants of :mod:`tests.reliability.invariants` (``PAYEE_INVARIANTS``).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
from nacl.signing import SigningKey

from gatt.bumble_backend import VirtualRadio
from gatt.errors import LinkClosed
from gatt.link import LinkOptions
from p2ppay.roles import PayeeRole, SessionOutcome
from p2ppay.roles.radio import PAYER_INFO
from p2ppay.wallet import Wallet, WalletHome, init_wallet, open_wallet
from protocol import ErrorCode, Invoice, SignedDocument, open_as
from protocol.documents import Abort, Receipt, Verdict
from protocol.money import MAX_AMOUNT
from protocol.risk import RiskLimits, RiskPolicy
from protocol.session import Timeouts
from protocol.session.messages import Message, MessageKind
from tests.reliability.harness import QUICK
from tests.reliability.invariants import MONEY_TABLES, PAYEE_INVARIANTS, money_state
from tests.reliability.mallory import Mallory
from tests.world import now_s

__all__ = [
    "ISSUER",
    "OPEN_LIMITS",
    "PAYEE_INVARIANTS",
    "Probe",
    "Sent",
    "check_after",
    "check_store",
    "payee_home",
]

ISSUER = SigningKey(bytes([77]) * 32)
"""The test issuer the payee trusts: hostile allowances signed by it pass issuer trust."""

OPEN_LIMITS = RiskPolicy(
    limits={
        "EUR": RiskLimits(per_payment=MAX_AMOUNT, per_payer_day=MAX_AMOUNT, stale_list=MAX_AMOUNT)
    },
)
"""Risk limits out of the way, so every value reaches the document and chain checks."""

OPTIONS = LinkOptions(max_att_mtu=247)

Sent = tuple[MessageKind | None, bytes]
"""What Mallory writes in message 4: an envelope kind and its body, or (None, raw envelope)."""

MakeMessage = Callable[[SignedDocument[Invoice]], Sent]


def payee_home(root: Path) -> WalletHome:
    """A payee wallet on disk that trusts :data:`ISSUER`."""
    home = WalletHome.resolve(root / "payee")
    init_wallet(home, passphrase=None, now=now_s())
    with open_wallet(home, passphrase=None, now=now_s()) as wallet:
        wallet.trust_issuer(ISSUER.verify_key.encode(), now=now_s())
    return home


@dataclass(frozen=True, kw_only=True)
class Result:
    """One hostile session, as the payee ended it and as Mallory heard it."""

    outcome: SessionOutcome
    invoice: SignedDocument[Invoice]
    sent: Sent
    reply: Message | None
    before: dict[str, list[tuple[object, ...]]]


class Probe:
    """A payee wallet and one virtual radio: hostile sessions one after another."""

    def __init__(self, home: WalletHome, wallet: Wallet) -> None:
        self.home = home
        self.wallet = wallet
        self.role = PayeeRole(
            wallet=wallet,
            choice=QUICK,
            attempts=1,
            risk=OPEN_LIMITS,
            timeouts=Timeouts(payment_ms=1_500),  # a silent payer is given up on soon
        )

    async def session(self, payer: SigningKey, make: MakeMessage, *, amount: int = 10_00) -> Result:
        """Mallory (Noise key ``payer``) answers a new invoice with ``make(invoice)``."""
        invoice = self.role.new_invoice(amount=amount, currency="EUR")
        before = money_state(self.home)
        reply: list[Message] = []
        sent: list[Sent] = []
        radio = VirtualRadio()
        async with (
            radio.open_peripheral(info=PAYER_INFO, options=OPTIONS) as peripheral,
            radio.open_central(options=OPTIONS) as central,
        ):

            async def mallory() -> None:
                m = await Mallory.as_payer(peripheral, payer)
                async with m.link:
                    await m.answer()
                    received = await m.read()
                    assert received.kind is MessageKind.INVOICE
                    sent.append(make(open_as(received.body, Invoice)))
                    kind, body = sent[0]
                    if kind is None:
                        await m.write_envelope(body)
                    else:
                        await m.write(kind, body)
                    with contextlib.suppress(LinkClosed):
                        reply.append(await m.read())

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(mallory)
                    outcome = await self.role.collect(central, invoice)
        return Result(
            outcome=outcome,
            invoice=invoice,
            sent=sent[0],
            reply=reply[0] if reply else None,
            before=before,
        )

    async def answer_session(self, payer: SigningKey, answer: bytes | None) -> Result:
        """Mallory answers the offer with the raw ``answer`` body (None: says nothing at all
        after the handshake's first message, and waits for the payee to give up)."""
        invoice = self.role.new_invoice(amount=10_00, currency="EUR")
        before = money_state(self.home)
        reply: list[Message] = []
        radio = VirtualRadio()
        async with (
            radio.open_peripheral(info=PAYER_INFO, options=OPTIONS) as peripheral,
            radio.open_central(options=OPTIONS) as central,
        ):

            async def mallory() -> None:
                m = await Mallory.as_payer(peripheral, payer)
                async with m.link:
                    if answer is None:
                        await m.answer()
                        await m.read()  # the invoice; then silence
                    else:
                        offer = await m.read()
                        assert offer.kind is MessageKind.OFFER
                        await m.write(MessageKind.ANSWER, answer)
                    with contextlib.suppress(LinkClosed):
                        reply.append(await m.read())

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(mallory)
                    outcome = await self.role.collect(central, invoice)
        sent = (MessageKind.ANSWER, answer or b"")
        return Result(
            outcome=outcome,
            invoice=invoice,
            sent=sent,
            reply=reply[0] if reply else None,
            before=before,
        )


def check_after(home: WalletHome, result: Result, expect: str | None) -> str:
    """Assert every payee invariant after ``result``; return how it ended (``completed`` or
    the error name). ``expect``: ``completed``, an error name, or None (any typed refusal)."""
    outcome = result.outcome
    invoice_id = result.invoice.doc.id
    assert outcome.status in ("completed", "failed"), outcome
    ended = outcome.error if outcome.status == "failed" else "completed"
    assert ended is not None
    if expect is not None:
        assert ended == expect, (outcome, expect)
    check_store(home, result.before, completed=ended == "completed")
    if ended == "completed":
        assert result.reply is not None and result.reply.kind is MessageKind.RECEIPT
        receipt = open_as(result.reply.body, Receipt).doc
        assert receipt.verdict is Verdict.ACCEPTED
        payments = _rows(home, "SELECT signed FROM payments WHERE invoice_id = ?", invoice_id)
        assert payments == [(result.sent[1],)], "the accepted payment is stored as sent"
        receipts = _rows(home, "SELECT signed FROM receipts WHERE invoice_id = ?", invoice_id)
        assert receipts == [(result.reply.body,)], "the receipt sent is the one stored"
    else:
        # typed_outcome: a protocol code; the peer heard it from us unless it aborted itself.
        assert ended in ErrorCode.__members__, f"typed_outcome: {ended} is not a protocol code"
        # Not in answer to the payer's own Abort or Refusal, and not after a timeout waiting
        # for XX message 3 (the payee, the responder, cannot write before it arrives).
        told = result.sent[0] not in (MessageKind.ABORT, MessageKind.REFUSAL)
        if told and not ended.endswith("_TIMEOUT"):
            assert result.reply is not None, f"the payer was not told: {outcome}"
            assert result.reply.kind is MessageKind.ABORT, (result.reply.kind, outcome)
            abort = open_as(result.reply.body, Abort).doc
            assert (abort.code, abort.sender) == (ErrorCode[ended], result.invoice.doc.payee)
    return ended


def check_store(
    home: WalletHome,
    before: dict[str, list[tuple[object, ...]]],
    *,
    completed: bool,
    new_invoice: bytes | None = None,
) -> None:
    """persisted_kept, refusal_changes_nothing and nothing_half_written on the store file.

    ``new_invoice``: an invoice stored after ``before`` was taken (the kiosk's point of sale
    creates it): its row is the one change a refusal may leave.
    """
    after = money_state(home)
    after["invoices"] = [row for row in after["invoices"] if row[0] != new_invoice]
    # persisted_kept: nothing from before went away (seen chains may only move forward).
    for table in MONEY_TABLES:
        if table in ("seen_chains", "outbox"):
            continue
        missing = set(before[table]) - set(after[table])
        assert not missing, f"persisted_kept: {table} lost {missing}"
    if not completed:
        changed = [t for t in MONEY_TABLES if after[t] != before[t]]
        assert not changed, f"refusal_changes_nothing: {changed} changed"
    _check_whole_store(home)


def _rows(home: WalletHome, sql: str, *args: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{Path(home.store_file).as_posix()}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _check_whole_store(home: WalletHome) -> None:
    """nothing_half_written, over the whole store."""
    unfinished = _rows(
        home,
        "SELECT session_id, state FROM sessions WHERE state IN "
        "('open', 'payment_persisted', 'receipt_persisted')",
    )
    assert not unfinished, f"nothing_half_written: sessions left open: {unfinished}"
    orphans = _rows(
        home,
        "SELECT hex(invoice_id) FROM payments p WHERE NOT EXISTS (SELECT 1 FROM sessions s "
        "WHERE s.invoice_id = p.invoice_id AND s.state IN ('completed', 'resumable', 'refused', "
        "'receipt_persisted', 'payment_persisted'))",
    )
    assert not orphans, f"nothing_half_written: payments without their session: {orphans}"
    stray = _rows(
        home,
        "SELECT hex(invoice_id) FROM receipts r WHERE NOT EXISTS "
        "(SELECT 1 FROM payments p WHERE p.invoice_id = r.invoice_id "
        "AND p.payment_hash = r.payment_hash)",
    )
    assert not stray, f"nothing_half_written: receipts without their payment: {stray}"
    heads = _rows(
        home,
        "SELECT hex(c.issuer_key), c.serial FROM seen_chains c WHERE NOT "
        "EXISTS (SELECT 1 FROM payments p WHERE p.payment_hash = c.last_hash)",
    )
    assert not heads, f"nothing_half_written: chain heads naming no stored payment: {heads}"
