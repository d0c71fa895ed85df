"""One test per attack, through the real roles and their SQLite stores: each ends with its own
error code, the attacker is told that code in a signed Abort where the channel allows, and
the victim's money tables (allowances, invoices, payments, receipts, seen chains, outbox)
are exactly as before. Protocol-level versions of some of these live in tests/protocol
(test_session.py, test_acceptance.py); these are the same attacks against the app.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio
import pytest
from nacl.signing import SigningKey

from gatt.errors import LinkClosed
from gatt.link import Central, Link, LinkOptions, Peripheral
from gatt.memory import MemoryRadio
from gatt.spec import SERVICE
from p2ppay.roles import PayeeRole, SessionOutcome
from p2ppay.roles.radio import PAYER_INFO
from p2ppay.wallet import WalletHome, init_wallet, open_wallet
from p2ppay.wallet.issuer import open_issuer
from protocol import ErrorCode, Invoice, SignedDocument, open_as
from protocol.builders import make_allowance, make_payment, make_receipt
from protocol.chain import ChainHead, ChainKey
from protocol.documents import Abort, Allowance, Payment, Verdict
from protocol.framing import chunk_message
from protocol.keys import document_hash, public_key
from protocol.negotiation import Capabilities, Offer
from protocol.session.messages import Message, MessageKind, decode_refusal
from tests.reliability.harness import QUICK, World, payer_role
from tests.reliability.invariants import money_state
from tests.reliability.mallory import Mallory, raw_sign, with_payload
from tests.world import now_s

pytestmark = pytest.mark.anyio

MALLORY = SigningKey(os.urandom(32))
OPTIONS = LinkOptions(max_att_mtu=247)

MakePayment = Callable[[SignedDocument[Invoice]], bytes]


def attack(fault: str, expect: str) -> pytest.MarkDecorator:
    return pytest.mark.reliability(
        "attack", fault, expect=f"{expect}; the victim's money tables unchanged"
    )


def _payer_key(world: World) -> SigningKey:
    with world.homes.open_payer() as payer:
        return payer.identity.signing_key


def _allowance(world: World) -> SignedDocument[Allowance]:
    with world.homes.open_payer() as payer:
        state = payer.store.allowances.payer_position()
        assert state.allowance is not None
        return open_as(state.allowance.signed, Allowance)


async def payer_attacks_payee(
    world: World, make: MakePayment, *, payee_home: WalletHome | None = None
) -> tuple[SessionOutcome, Message | None]:
    """Mallory, with the payer's Noise key, pays a genuine payee's invoice with ``make``."""
    home = payee_home or world.homes.payee
    with open_wallet(home, passphrase=None, now=now_s()) as wallet:
        role = PayeeRole(wallet=wallet, choice=QUICK, attempts=1)
        invoice = role.new_invoice(amount=10_00, currency="EUR")
        before = money_state(home)
        radio = MemoryRadio()
        reply: list[Message] = []
        async with (
            radio.open_peripheral(spec=SERVICE, info=PAYER_INFO, options=OPTIONS) as peripheral,
            radio.open_central(spec=SERVICE, options=OPTIONS) as central,
        ):

            async def mallory() -> None:
                m = await Mallory.as_payer(peripheral, _payer_key(world))
                async with m.link:
                    await m.answer()
                    received = await m.read()
                    assert received.kind is MessageKind.INVOICE
                    await m.write(MessageKind.PAYMENT, make(open_as(received.body, Invoice)))
                    reply.append(await m.read())

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(mallory)
                    outcome = await role.collect(central, invoice)
        assert money_state(home) == before
    return outcome, (reply[0] if reply else None)


def _assert_refused(outcome: SessionOutcome, reply: Message | None, code: str) -> None:
    assert (outcome.status, outcome.error) == ("failed", code), outcome
    assert reply is not None and reply.kind is MessageKind.ABORT
    assert open_as(reply.body, Abort).doc.code == _code(code)


def _code(name: str) -> int:
    return int(ErrorCode[name])


async def _pay_genuinely(world: World, amount: int = 5_00) -> SignedDocument[Invoice]:
    invoice = world.invoice(amount)
    run = await world.attempt(invoice)
    assert (run.payer, run.payee) == ("completed", "completed")
    return invoice


def _second_payee(world: World, root: Path) -> WalletHome:
    home = WalletHome.resolve(root / "payee-b")
    init_wallet(home, passphrase=None, now=now_s())
    with open_wallet(home, passphrase=None, now=now_s()) as wallet:
        wallet.trust_issuer(world.homes.issuer_key, now=now_s())
    return home


# --- the payer (or someone with its key) attacks a payee ---------------------------------


@attack("replay a payment made to one payee to another payee", "ACCEPT_INVOICE_MISMATCH")
async def test_a_payment_replayed_to_another_payee_is_refused(tmp_path: Path) -> None:
    world = World.make(tmp_path)
    first = await _pay_genuinely(world)
    with world.homes.open_payer() as payer:
        stored = payer.store.payments.payment(first.doc.id)
    assert stored is not None
    other = _second_payee(world, tmp_path)
    outcome, reply = await payer_attacks_payee(world, lambda _: stored.signed, payee_home=other)
    _assert_refused(outcome, reply, "ACCEPT_INVOICE_MISMATCH")


@attack("payment amount differs from the invoice", "ACCEPT_AMOUNT_MISMATCH")
async def test_a_payment_for_less_than_the_invoice_is_refused(tmp_path: Path) -> None:
    world = World.make(tmp_path)
    key, allowance = _payer_key(world), _allowance(world)

    def underpay(invoice: SignedDocument[Invoice]) -> bytes:
        doc = make_payment(key, invoice=invoice, allowance=allowance, head=None).doc
        cheaper = doc.model_copy(update={"amount": doc.amount - 1, "spent": doc.spent - 1})
        return raw_sign(key, cheaper)

    outcome, reply = await payer_attacks_payee(world, underpay)
    _assert_refused(outcome, reply, "ACCEPT_AMOUNT_MISMATCH")


@attack(
    "payment currency differs from the invoice (a USD allowance for a EUR invoice)",
    "ACCEPT_CURRENCY_MISMATCH",
)
async def test_a_payment_in_another_currency_is_refused(tmp_path: Path) -> None:
    world = World.make(tmp_path)
    key = _payer_key(world)
    usd = open_as(
        open_issuer(world.homes.issuer).grant(public_key(key), 100_00, "USD", now=now_s()),
        Allowance,
    )

    def in_dollars(invoice: SignedDocument[Invoice]) -> bytes:
        doc = Payment(
            invoice=invoice.hash,
            payer=public_key(key),
            amount=invoice.doc.amount,
            currency="USD",
            counter=1,
            spent=invoice.doc.amount,
            allowance=usd.raw,
        )
        return raw_sign(key, doc)

    outcome, reply = await payer_attacks_payee(world, in_dollars)
    _assert_refused(outcome, reply, "ACCEPT_CURRENCY_MISMATCH")


@attack("forged allowance (limit raised, issuer signature kept)", "COSE_BAD_SIGNATURE")
async def test_a_forged_allowance_is_refused(tmp_path: Path) -> None:
    world = World.make(tmp_path)
    key, allowance = _payer_key(world), _allowance(world)
    forged = with_payload(
        allowance.raw, allowance.doc.model_copy(update={"limit": allowance.doc.limit * 100})
    )

    def with_forged_allowance(invoice: SignedDocument[Invoice]) -> bytes:
        doc = make_payment(key, invoice=invoice, allowance=allowance, head=None).doc
        return raw_sign(key, doc.model_copy(update={"allowance": forged}))

    outcome, reply = await payer_attacks_payee(world, with_forged_allowance)
    _assert_refused(outcome, reply, "COSE_BAD_SIGNATURE")


@attack("allowance from an issuer the payee does not trust", "DOC_UNTRUSTED_ISSUER")
async def test_an_allowance_from_an_untrusted_issuer_is_refused(tmp_path: Path) -> None:
    world = World.make(tmp_path)
    key = _payer_key(world)
    now = now_s()
    own = make_allowance(
        MALLORY,
        wallet=public_key(key),
        currency="EUR",
        limit=1_000_00,
        not_before=now - 60,
        not_after=now + 3600,
        serial=1,
    )

    def self_issued(invoice: SignedDocument[Invoice]) -> bytes:
        return make_payment(key, invoice=invoice, allowance=own, head=None).raw

    outcome, reply = await payer_attacks_payee(world, self_issued)
    _assert_refused(outcome, reply, "DOC_UNTRUSTED_ISSUER")


@attack("expired allowance (genuinely signed, window over)", "DOC_EXPIRED")
async def test_an_expired_allowance_is_refused(tmp_path: Path) -> None:
    world = World.make(tmp_path)
    key = _payer_key(world)
    old = open_issuer(world.homes.issuer).grant(
        public_key(key), 100_00, "EUR", now=now_s() - 10 * 86_400, valid_for=86_400
    )
    expired = open_as(old, Allowance)

    def with_expired(invoice: SignedDocument[Invoice]) -> bytes:
        return make_payment(key, invoice=invoice, allowance=expired, head=None).raw

    outcome, reply = await payer_attacks_payee(world, with_expired)
    _assert_refused(outcome, reply, "DOC_EXPIRED")


@attack("spending over the allowance (cumulative above the limit)", "PAYMENT_OVER_LIMIT")
async def test_spending_over_the_allowance_is_refused(tmp_path: Path) -> None:
    world = World.make(tmp_path, limit=5_00)
    key, allowance = _payer_key(world), _allowance(world)

    def overspend(invoice: SignedDocument[Invoice]) -> bytes:
        doc = Payment(
            invoice=invoice.hash,
            payer=public_key(key),
            amount=invoice.doc.amount,
            currency="EUR",
            counter=1,
            spent=invoice.doc.amount,  # 10.00 on a 5.00 allowance
            allowance=allowance.raw,
        )
        return raw_sign(key, doc)

    outcome, reply = await payer_attacks_payee(world, overspend)
    _assert_refused(outcome, reply, "PAYMENT_OVER_LIMIT")


@attack(
    "counter rollback (the payer's wallet restored to before its last payment)",
    "ACCEPT_COUNTER_NOT_INCREASING",
)
async def test_a_rolled_back_counter_is_refused(tmp_path: Path) -> None:
    world = World.make(tmp_path)
    await _pay_genuinely(world)
    key, allowance = _payer_key(world), _allowance(world)

    def from_scratch(invoice: SignedDocument[Invoice]) -> bytes:
        return make_payment(key, invoice=invoice, allowance=allowance, head=None).raw

    outcome, reply = await payer_attacks_payee(world, from_scratch)
    _assert_refused(outcome, reply, "ACCEPT_COUNTER_NOT_INCREASING")


@attack(
    "chain gap hiding spending (counter skips ahead, cumulative too low)",
    "ACCEPT_CUMULATIVE_MISMATCH",
)
async def test_a_chain_gap_that_hides_spending_is_refused(tmp_path: Path) -> None:
    world = World.make(tmp_path)
    await _pay_genuinely(world)
    key, allowance = _payer_key(world), _allowance(world)
    chain = ChainKey(issuer=allowance.doc.issuer, serial=allowance.doc.serial)
    fake_head = ChainHead(key=chain, counter=3, hash=os.urandom(32), spent=0)

    def skip(invoice: SignedDocument[Invoice]) -> bytes:
        return make_payment(key, invoice=invoice, allowance=allowance, head=fake_head).raw

    outcome, reply = await payer_attacks_payee(world, skip)
    _assert_refused(outcome, reply, "ACCEPT_CUMULATIVE_MISMATCH")


@attack(
    "chain fork (next counter, but not after the last payment seen)", "ACCEPT_PREV_HASH_MISMATCH"
)
async def test_a_forked_chain_is_refused(tmp_path: Path) -> None:
    world = World.make(tmp_path)
    first = await _pay_genuinely(world, 5_00)
    key, allowance = _payer_key(world), _allowance(world)
    chain = ChainKey(issuer=allowance.doc.issuer, serial=allowance.doc.serial)
    with world.homes.open_payer() as payer:
        assert payer.store.payments.payment(first.doc.id) is not None
    fork = ChainHead(key=chain, counter=1, hash=os.urandom(32), spent=5_00)

    def forked(invoice: SignedDocument[Invoice]) -> bytes:
        return make_payment(key, invoice=invoice, allowance=allowance, head=fork).raw

    outcome, reply = await payer_attacks_payee(world, forked)
    _assert_refused(outcome, reply, "ACCEPT_PREV_HASH_MISMATCH")


@attack("revoked payer pays with a genuine app", "ACCEPT_PAYER_REVOKED")
async def test_a_revoked_payer_is_refused(tmp_path: Path) -> None:
    world = World.make(tmp_path)
    with world.homes.open_payee() as payee:
        payee.store.trust.replace_revocations(
            [public_key(_payer_key(world))], version=1, now=now_s()
        )
    invoice = world.invoice(4_00)
    before = money_state(world.homes.payee)
    run = await world.attempt(invoice)
    # The payer stored and sent its payment before the refusal: it keeps it (refused, no
    # receipt will come, nothing to resume) to sync as refused; the payee keeps nothing.
    assert (run.payer, run.payer_error) == ("refused", "ACCEPT_PAYER_REVOKED"), run
    assert (run.payee, run.payee_error) == ("failed", "ACCEPT_PAYER_REVOKED"), run
    assert money_state(world.homes.payee) == before


# --- a payee (or someone posing as one) attacks the payer --------------------------------


async def payee_attacks_payer(
    world: World, script: Callable[[Mallory], Awaitable[None]]
) -> SessionOutcome:
    """A genuine payer serves one Mallory-as-payee session run by ``script``."""
    radio = MemoryRadio()
    with world.homes.open_payer() as wallet:
        payer = payer_role(wallet)
        async with (
            radio.open_peripheral(spec=SERVICE, info=PAYER_INFO, options=OPTIONS) as peripheral,
            radio.open_central(spec=SERVICE, options=OPTIONS) as central,
        ):

            async def mallory() -> None:
                m = await Mallory.as_payee(central, _payee_key(world))
                async with m.link:
                    await script(m)

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(mallory)
                    outcome = await payer.serve_one(peripheral)
    return outcome


def _payee_key(world: World) -> SigningKey:
    with world.homes.open_payee() as payee:
        return payee.identity.signing_key


@attack("tampered invoice (amount changed, payee signature kept)", "COSE_BAD_SIGNATURE")
async def test_a_tampered_invoice_is_refused_before_any_counter_is_spent(tmp_path: Path) -> None:
    world = World.make(tmp_path)
    invoice = world.invoice(10_00)
    tampered = with_payload(invoice.raw, invoice.doc.model_copy(update={"amount": 1}))
    reply: list[Message] = []

    async def script(m: Mallory) -> None:
        await m.offer()
        await m.write(MessageKind.INVOICE, tampered)
        reply.append(await m.read())

    before = money_state(world.homes.payer)
    outcome = await payee_attacks_payer(world, script)
    assert (outcome.status, outcome.error) == ("failed", "COSE_BAD_SIGNATURE")
    # told with an unsigned code: the payer has not disclosed who it is
    assert reply[0].kind is MessageKind.REFUSAL
    assert decode_refusal(reply[0].body) == _code("COSE_BAD_SIGNATURE")
    assert money_state(world.homes.payer) == before


@attack("forged receipt (signed by someone else than the payee)", "COSE_KID_MISMATCH")
async def test_a_forged_receipt_is_not_kept(tmp_path: Path) -> None:
    world = World.make(tmp_path)
    invoice = world.invoice(3_00)
    got: list[bytes] = []

    async def script(m: Mallory) -> None:
        await m.offer()
        await m.write(MessageKind.INVOICE, invoice.raw)
        payment = await m.read()
        assert payment.kind is MessageKind.PAYMENT
        got.append(payment.body)
        genuine = make_receipt(
            _payee_key(world),
            payment_hash=document_hash(payment.body),
            verdict=Verdict.ACCEPTED,
            now=now_s(),
        )
        await m.write(MessageKind.RECEIPT, raw_sign(MALLORY, genuine.doc))
        with contextlib.suppress(LinkClosed):
            await m.read()  # the payer's Abort

    outcome = await payee_attacks_payer(world, script)
    assert (outcome.status, outcome.error) == ("resumable", "COSE_KID_MISMATCH"), outcome
    with world.homes.open_payer() as payer:
        assert payer.store.payments.receipt(invoice.doc.id) is None
        stored = payer.store.payments.payment(invoice.doc.id)
        assert stored is not None and stored.signed == got[0]  # paid once, awaiting a receipt


# --- someone in the middle -----------------------------------------------------------------


async def _genuine_pair_through(
    world: World, relay: Callable[[Peripheral, Central], Coroutine[Any, Any, None]]
) -> tuple[SessionOutcome, SessionOutcome]:
    """A genuine payer (radio A) and payee (radio B) with ``relay(peripheral_b, central_a)``
    in between, Mallory's devices on both radios."""
    radio_a, radio_b = MemoryRadio(), MemoryRadio()
    outcomes: dict[str, SessionOutcome] = {}
    with world.homes.open_payer() as payer_wallet, world.homes.open_payee() as payee_wallet:
        payer = payer_role(payer_wallet)
        payee = PayeeRole(wallet=payee_wallet, choice=QUICK, attempts=1)
        invoice = payee.new_invoice(amount=7_00, currency="EUR")
        async with (
            radio_a.open_peripheral(spec=SERVICE, info=PAYER_INFO, options=OPTIONS) as payer_p,
            radio_a.open_central(spec=SERVICE, options=OPTIONS) as mallory_c,
            radio_b.open_peripheral(spec=SERVICE, info=PAYER_INFO, options=OPTIONS) as mallory_p,
            radio_b.open_central(spec=SERVICE, options=OPTIONS) as payee_c,
        ):

            async def serve() -> None:
                outcomes["payer"] = await payer.serve_one(payer_p)

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(serve)
                    tg.start_soon(relay, mallory_p, mallory_c)
                    outcomes["payee"] = await payee.collect(payee_c, invoice)
    return outcomes["payer"], outcomes["payee"]


@attack(
    "man in the middle with its own keys relaying the real invoice",
    "HANDSHAKE_PEER_KEY_MISMATCH at the payer",
)
async def test_a_man_in_the_middle_with_its_own_keys_gets_no_payment(tmp_path: Path) -> None:
    world = World.make(tmp_path)

    async def relay(peripheral: Peripheral, central: Central) -> None:
        to_payee = await Mallory.as_payer(peripheral, MALLORY)
        async with to_payee.link:
            await to_payee.answer()
            invoice = await to_payee.read()
            to_payer = await Mallory.as_payee(central, MALLORY)
            async with to_payer.link:
                await to_payer.offer()
                await to_payer.write(MessageKind.INVOICE, invoice.body)
                refusal = await to_payer.read()
                assert refusal.kind is MessageKind.REFUSAL

    before = {h: money_state(h) for h in (world.homes.payer, world.homes.payee)}
    payer_out, payee_out = await _genuine_pair_through(world, relay)
    assert (payer_out.status, payer_out.error) == ("failed", "HANDSHAKE_PEER_KEY_MISMATCH")
    assert payee_out.status == "failed"
    assert money_state(world.homes.payer) == before[world.homes.payer]
    payee_after = money_state(world.homes.payee)
    assert payee_after["payments"] == before[world.homes.payee]["payments"] == []


@attack(
    "downgraded negotiation (offer rewritten in flight to a smaller chunk size)",
    "NOISE_DECRYPT_FAILED at the payer, before it sees an invoice",
)
async def test_a_downgraded_negotiation_is_detected(tmp_path: Path) -> None:
    world = World.make(tmp_path)

    async def relay(peripheral: Peripheral, central: Central) -> None:
        from_payee = await peripheral.accept(tag="downgr")
        found = await central.find(within=5)
        to_payer = await central.connect(found)
        await from_payee.receive()  # the opening: the offer in clear, bound into the prologue
        # It even names the payer's own tag, so only the prologue can catch the rewrite.
        worse = Offer.from_capabilities(
            Capabilities(max_chunk_size=20, currencies=("EUR",)), tag=found.tag
        )
        envelope = Message(kind=MessageKind.OFFER, body=worse.encode()).encode()
        (rewritten,) = chunk_message(envelope, from_payee.max_chunk)

        async def pump(src: Link, dst: Link) -> None:
            try:
                while True:
                    await dst.send(await src.receive())
            except LinkClosed:
                await dst.aclose()
                await src.aclose()

        await to_payer.send(rewritten)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump, from_payee, to_payer)
            tg.start_soon(pump, to_payer, from_payee)

    before = {h: money_state(h) for h in (world.homes.payer,)}
    payer_out, payee_out = await _genuine_pair_through(world, relay)
    assert (payer_out.status, payer_out.error) == ("failed", "NOISE_DECRYPT_FAILED")
    assert payee_out.status == "failed"
    assert money_state(world.homes.payer) == before[world.homes.payer]


@attack(
    "relay advertising the payer's service under its own tag (passes every byte on)",
    "HANDSHAKE_TAG_MISMATCH: the offer names the relay's tag",
)
async def test_a_relay_under_its_own_tag_fails_the_tag_binding(tmp_path: Path) -> None:
    world = World.make(tmp_path)

    async def relay(peripheral: Peripheral, central: Central) -> None:
        from_payee = await peripheral.accept(tag="relay2")
        to_payer = await central.connect(await central.find(within=5))

        async def pump(src: Link, dst: Link) -> None:
            try:
                while True:
                    await dst.send(await src.receive())
            except LinkClosed:
                await dst.aclose()
                await src.aclose()

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump, from_payee, to_payer)
            tg.start_soon(pump, to_payer, from_payee)

    before = money_state(world.homes.payer)
    payer_out, payee_out = await _genuine_pair_through(world, relay)
    assert (payer_out.status, payer_out.error) == ("failed", "HANDSHAKE_TAG_MISMATCH")
    assert (payee_out.status, payee_out.error) == ("failed", "HANDSHAKE_TAG_MISMATCH")
    assert money_state(world.homes.payer) == before  # no counter, no payment
    assert money_state(world.homes.payee)["payments"] == []
