"""The runner as a payer (BLE peripheral), testing a payee device.

One session: advertise a fresh tag, let the DUT connect and write its offer, answer it (or
answer wrongly), read the invoice, then send what the case names: a good payment, a
REFUSAL, a forged or stale payment, possibly with a fault on its chunks. A receipt is
checked like a payer would (signature, payee, names our payment, accepted). A cut case cuts
the payment mid-message, waits for the DUT to resume the same invoice in a new session, and
sends the identical payment again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from nacl.signing import SigningKey

from p2ppay.conformance.as_payee import UNKNOWN_CURRENCY
from p2ppay.conformance.cases import Action, AnswerKnob, Case, Fault, Outcome, PaymentKnob
from p2ppay.conformance.context import Context, Observed, observed_from
from p2ppay.conformance.forge import with_payload
from p2ppay.conformance.peer import Heard, HeardKind, Peer
from protocol.builders import make_invoice, make_payment
from protocol.documents import Invoice, Payment, Receipt, Verdict
from protocol.errors import ErrorCode, ProtocolError
from protocol.framing import MIN_CHUNK_SIZE
from protocol.keys import document_hash
from protocol.negotiation import Capabilities, Offer, answer_offer
from protocol.noise import KeyPair
from protocol.session.messages import MessageKind, encode_refusal
from protocol.verify import SignedDocument, open_as, verify_as

__all__ = ["run_payee_case"]

MAX_MESSAGE = 4096
CENTRAL_MAX_CHUNK = 510
"""A central never writes more (gatt/SERVICE.md): its offer's chunk size is
min(ATT_MTU - 3, 510)."""


@dataclass(frozen=True)
class _Invoiced:
    """A session that reached the invoice."""

    peer: Peer
    invoice: SignedDocument[Invoice]


async def run_payee_case(ctx: Context, case: Case) -> Observed:
    """Run ``case`` against a payee DUT; see the module docstring."""
    problems: list[str] = []
    await ctx.operator(case, case.action)
    got = await _invoiced(ctx, case, problems)
    if isinstance(got, Observed):
        return got
    peer, invoice = got.peer, got.invoice
    if case.payment is PaymentKnob.REFUSE:
        peer.channel.reveal(KeyPair.generate())  # one-time key: nothing that outlives this
        await peer.send(MessageKind.REFUSAL, encode_refusal(ErrorCode.SESSION_DECLINED))
        heard = await peer.hang_up_within(ctx.patience)
        await peer.link.aclose()
        return observed_from(heard, problems)
    payment = _payment(ctx, case.payment, invoice)
    await _pay(ctx, peer, payment, case)
    if case.fault is Fault.CUT:
        await ctx.operator(case, Action.RESUME)
        again = await _invoiced(ctx, case, problems)
        if isinstance(again, Observed):
            problems.append(f"resumed session: {again.detail}")
            return replace(again, problems=tuple(problems))
        peer = again.peer
        if again.invoice.raw != invoice.raw:
            problems.append(
                "the resumed session carried another invoice (SESSIONS.md 3.6: the "
                "same signed invoice bytes)"
            )
        await _pay(ctx, peer, payment, replace(case, fault=Fault.NONE))
    heard = await peer.hear(ctx.patience)
    await peer.link.aclose()
    if not heard.is_message(MessageKind.RECEIPT):
        return observed_from(heard, problems)
    assert heard.message is not None
    _check_receipt(ctx, heard.message.body, invoice, payment, problems)
    if not problems:
        ctx.receipted(open_as(payment, Payment))
    return Observed(outcome=Outcome.COMPLETED, detail="receipt accepted", problems=tuple(problems))


async def _invoiced(ctx: Context, case: Case, problems: list[str]) -> _Invoiced | Observed:
    """Accept the DUT, read its offer, answer, read its invoice (or how it ended instead)."""
    link, tag = await ctx.radio.accept()
    peer = Peer.answerer(link, clock=ctx.clock)
    heard = await peer.hear(ctx.patience)
    if not heard.is_message(MessageKind.OFFER):
        await link.aclose()
        return observed_from(heard, [*problems, f"{heard.describe()} where the offer was due"])
    assert heard.message is not None
    try:
        offer = Offer.decode(heard.message.body)
    except ProtocolError as exc:
        await link.aclose()
        broken = Heard(kind=HeardKind.BROKEN, code=int(exc.code), detail=exc.message)
        return observed_from(broken, problems)
    _check_offer(ctx, offer, tag, link.peer.att_mtu, problems)
    chunk = MIN_CHUNK_SIZE if case.fault is Fault.CUT else min(offer.chunk_size, link.max_chunk)
    answer = answer_offer(
        offer,
        Capabilities(
            max_message_size=MAX_MESSAGE, max_chunk_size=chunk, currencies=offer.currencies
        ),
    )
    if case.answer is AnswerKnob.FOREIGN_CURRENCY:
        answer = replace(answer, currencies=(UNKNOWN_CURRENCY,))
    peer.channel.apply(answer)
    await peer.send(MessageKind.ANSWER, answer.encode())
    heard = await peer.hear(ctx.patience)
    if not heard.is_message(MessageKind.INVOICE):
        await link.aclose()
        return observed_from(heard, problems)
    assert heard.message is not None
    try:
        invoice = verify_as(heard.message.body, Invoice, now=ctx.now_s())
        peer.check_peer_key(invoice.doc.payee)
    except ProtocolError as exc:
        await link.aclose()
        broken = Heard(kind=HeardKind.BROKEN, code=int(exc.code), detail=f"invoice: {exc.message}")
        return observed_from(broken, problems)
    if (invoice.doc.amount, invoice.doc.currency) != (ctx.amount, ctx.currency):
        problems.append(
            f"the invoice asks {invoice.doc.amount} minor units of "
            f"{invoice.doc.currency}; the device was asked for {ctx.amount} of "
            f"{ctx.currency}"
        )
    peer.invoice_hash = invoice.hash
    return _Invoiced(peer=peer, invoice=invoice)


def _check_offer(ctx: Context, offer: Offer, tag: str, att_mtu: int, problems: list[str]) -> None:
    expected = min(att_mtu - 3, CENTRAL_MAX_CHUNK)
    if offer.chunk_size != expected:
        problems.append(
            f"offer chunk size {offer.chunk_size}, specified min(ATT_MTU {att_mtu} "
            f"- 3, 510) = {expected}"
        )
    if offer.tag != tag:
        problems.append(f"the offer names tag {offer.tag!r}, the runner advertised {tag!r}")
    if ctx.currency not in offer.currencies:
        problems.append(f"the offer lists {list(offer.currencies)}, not {ctx.currency}")


def _payment(ctx: Context, knob: PaymentKnob, invoice: SignedDocument[Invoice]) -> bytes:
    allowance = ctx.allowance
    assert allowance is not None, "testing a payee needs the runner's allowance"
    if knob is PaymentKnob.STALE:
        # a real payment, made for an invoice of another payee a moment ago
        other = make_invoice(
            SigningKey.generate(),
            amount=invoice.doc.amount,
            currency=invoice.doc.currency,
            now=ctx.now_s(),
            memo="another shop",
        )
        return make_payment(ctx.identity, invoice=other, allowance=allowance, head=ctx.head).raw
    good = make_payment(ctx.identity, invoice=invoice, allowance=allowance, head=ctx.head)
    if knob is PaymentKnob.FORGED:
        return with_payload(good.raw, good.doc.model_copy(update={"counter": good.doc.counter + 1}))
    return good.raw


async def _pay(ctx: Context, peer: Peer, payment: bytes, case: Case) -> None:
    """Noise message 3: the runner's static key and ``payment``, with the case's fault."""
    peer.channel.reveal(KeyPair.from_ed25519_seed(bytes(ctx.identity)))
    peer.payment_hash = document_hash(payment)
    await peer.send(
        MessageKind.PAYMENT,
        payment,
        malformed=case.fault is Fault.MALFORMED_CHUNK,
        cut=case.fault is Fault.CUT,
    )


def _check_receipt(
    ctx: Context,
    body: bytes,
    invoice: SignedDocument[Invoice],
    payment: bytes,
    problems: list[str],
) -> None:
    try:
        receipt = verify_as(body, Receipt, now=ctx.now_s())
    except ProtocolError as exc:
        problems.append(f"the receipt does not verify: {exc.code.name} {exc.message}".strip())
        return
    if receipt.doc.payee != invoice.doc.payee:
        problems.append("the receipt is signed by another key than the invoice")
    if receipt.doc.payment != document_hash(payment):
        problems.append("the receipt names another payment")
    if receipt.doc.verdict is not Verdict.ACCEPTED:
        problems.append(f"the receipt's verdict is {receipt.doc.verdict.name} ({receipt.doc.code})")
