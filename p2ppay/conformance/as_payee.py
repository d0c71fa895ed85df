"""The runner as a payee (BLE central), testing a payer device.

One session: connect, write the opening (the offer), read the answer, send the invoice the
case names (with the case's fault on its chunks), then see what the payer does. A payment is
checked like a payee would (signature, allowance, payer = Noise peer, invoice, amount) and
receipted; the payer must then hang up (SESSIONS.md 3.5). A cut case cuts the receipt
mid-message, resumes the same invoice in a new session and requires the identical payment.
"""

from __future__ import annotations

import os

from p2ppay.conformance.cases import Action, Case, Fault, InvoiceKnob, Outcome
from p2ppay.conformance.context import Context, Observed, observed_from
from p2ppay.conformance.forge import raw_sign, with_payload
from p2ppay.conformance.peer import Heard, HeardKind, Peer
from protocol.acceptance import check_payment
from protocol.builders import make_invoice, make_receipt
from protocol.documents import ID_SIZE, NONCE_SIZE, Invoice, Payment, Verdict
from protocol.errors import ProtocolError
from protocol.framing import MAX_CHUNK_SIZE, MIN_CHUNK_SIZE
from protocol.keys import document_hash, public_key
from protocol.money import MAX_AMOUNT
from protocol.negotiation import Answer, Capabilities, Offer, check_answer
from protocol.noise import KeyPair
from protocol.session.messages import MessageKind
from protocol.verify import SignedDocument, open_as, verify_as

__all__ = ["UNKNOWN_CURRENCY", "run_payer_case"]

UNKNOWN_CURRENCY = "XTS"
"""ISO 4217's code for testing: in no currency table."""

STALE_AGE = 7200
"""Seconds before now the stale invoice was created (it lived 300 s)."""

MAX_MESSAGE = 4096


async def run_payer_case(ctx: Context, case: Case) -> Observed:
    """Run ``case`` against a payer DUT; see the module docstring."""
    problems: list[str] = []
    invoice = _invoice(ctx, case.invoice)
    currency = UNKNOWN_CURRENCY if case.invoice is InvoiceKnob.UNKNOWN_CURRENCY else ctx.currency
    await ctx.operator(case, case.action)
    peer, heard = await _open(ctx, invoice, currency, case, problems)
    wait = ctx.human_wait if case.action in (Action.APPROVE, Action.DECLINE) else ctx.patience
    if heard is None:
        heard = await peer.hear(wait)
    if not heard.is_message(MessageKind.PAYMENT):
        await peer.link.aclose()
        return observed_from(heard, problems)
    assert heard.message is not None
    payment = _check_payment(ctx, peer, heard.message.body, invoice, problems)
    if payment is None:
        await peer.link.aclose()
        return Observed(
            outcome=Outcome.OTHER, detail="the payment does not verify", problems=tuple(problems)
        )
    if case.fault is Fault.CUT:
        await _send_receipt(ctx, peer, payment, cut=True)
        await ctx.operator(case, Action.RESUME)
        peer, heard = await _open(ctx, invoice, currency, case, problems, resumed=True)
        if heard is None:
            heard = await peer.hear(ctx.patience)
        if not heard.is_message(MessageKind.PAYMENT):
            await peer.link.aclose()
            problems.append(f"resumed session: {heard.describe()} where the same payment was due")
            return observed_from(heard, problems)
        assert heard.message is not None
        if heard.message.body != payment.raw:
            problems.append(
                "the resumed session carried another payment than the first one "
                "(SESSIONS.md 3.6: exactly the same bytes, no second counter)"
            )
    await _send_receipt(ctx, peer, payment, cut=False)
    after = await peer.hang_up_within(ctx.patience)
    await peer.link.aclose()
    if after.kind is not HeardKind.CLOSED:
        problems.append(f"after the receipt the payer did not hang up: {after.describe()}")
    return Observed(
        outcome=Outcome.COMPLETED,
        detail=f"payment counter {payment.doc.counter}",
        problems=tuple(problems),
    )


async def _open(
    ctx: Context,
    invoice: bytes,
    currency: str,
    case: Case,
    problems: list[str],
    *,
    resumed: bool = False,
) -> tuple[Peer, Heard | None]:
    """Connect, offer, read the answer, send the invoice. Returns the runner's end and, if the
    session ended before the invoice could go, what the DUT did instead."""
    link = await ctx.radio.connect()
    small = case.fault is Fault.CUT  # many chunks per message, so a cut lands mid-message
    chunk_size = MIN_CHUNK_SIZE if small else link.max_chunk
    peer = Peer.opener(
        link,
        KeyPair.from_ed25519_seed(bytes(ctx.identity)),
        chunk_size=chunk_size,
        clock=ctx.clock,
    )
    offer = Offer.from_capabilities(
        Capabilities(
            max_message_size=MAX_MESSAGE, max_chunk_size=chunk_size, currencies=(currency,)
        ),
        tag=link.peer.tag,
    )
    await peer.send(MessageKind.OFFER, offer.encode())
    heard = await peer.hear(ctx.patience)
    if not heard.is_message(MessageKind.ANSWER):
        return peer, heard
    assert heard.message is not None
    try:
        answer = check_answer(offer, Answer.decode(heard.message.body))
    except ProtocolError as exc:
        await link.aclose()
        return peer, Heard(kind=HeardKind.BROKEN, code=int(exc.code), detail=exc.message)
    _check_answer(offer, answer, link.peer.att_mtu, problems, resumed=resumed)
    peer.channel.apply(answer)
    peer.invoice_hash = document_hash(invoice)
    await peer.send(MessageKind.INVOICE, invoice, malformed=case.fault is Fault.MALFORMED_CHUNK)
    return peer, None


def _check_answer(
    offer: Offer, answer: Answer, att_mtu: int, problems: list[str], *, resumed: bool
) -> None:
    expected = min(offer.chunk_size, att_mtu - 3, MAX_CHUNK_SIZE)
    if answer.chunk_size != expected:
        problems.append(
            f"answer chunk size {answer.chunk_size}, specified "
            f"min(offer {offer.chunk_size}, ATT_MTU {att_mtu} - 3, 512) = {expected}"
        )
    if answer.currencies != offer.currencies:
        problems.append(
            f"answer currencies {list(answer.currencies)}: a payer answers every "
            f"offered currency {list(offer.currencies)} (SESSIONS.md 1.1)"
        )
    if resumed and 1 not in answer.features:
        problems.append("the answer drops RESUMPTION (feature 1): it cannot resume")


def _invoice(ctx: Context, knob: InvoiceKnob) -> bytes:
    """The signed invoice bytes for ``knob`` (fresh id and nonce per case)."""
    now = ctx.now_s()
    key = ctx.identity
    if knob is InvoiceKnob.UNKNOWN_CURRENCY:
        doc = Invoice(
            id=os.urandom(ID_SIZE),
            payee=public_key(key),
            amount=ctx.amount,
            currency=UNKNOWN_CURRENCY,
            memo="conformance",
            created=now,
            expires=now + 300,
            nonce=os.urandom(NONCE_SIZE),
        )
        return raw_sign(key, doc)
    amount = MAX_AMOUNT if knob is InvoiceKnob.UNPAYABLE else ctx.amount
    created = now - STALE_AGE if knob is InvoiceKnob.STALE else now
    good = make_invoice(
        key, amount=amount, currency=ctx.currency, now=created, memo="conformance", ttl=300
    )
    if knob is InvoiceKnob.FORGED:
        return with_payload(good.raw, _with_amount(good.doc, good.doc.amount + 1))
    return good.raw


def _with_amount(doc: Invoice, amount: int) -> Invoice:
    return doc.model_copy(update={"amount": amount})


def _check_payment(
    ctx: Context, peer: Peer, body: bytes, invoice: bytes, problems: list[str]
) -> SignedDocument[Payment] | None:
    """The payment verified as a payee would, trusting the allowance's own issuer."""
    now = ctx.now_s()
    try:
        opened = open_as(body, Payment)
        peer.check_peer_key(opened.doc.payer)
        assert opened.allowance is not None
        accepted = check_payment(
            body,
            invoice=verify_as(invoice, Invoice, now=now),
            payee_key=public_key(ctx.identity),
            trusted_issuers=(opened.allowance.doc.issuer,),
            now=now,
        )
    except ProtocolError as exc:
        problems.append(
            f"the payment is refused by the acceptance rules: {exc.code.name} {exc.message}".strip()
        )
        return None
    peer.payment_hash = accepted.payment.hash
    return accepted.payment


async def _send_receipt(
    ctx: Context, peer: Peer, payment: SignedDocument[Payment], *, cut: bool
) -> None:
    receipt = make_receipt(
        ctx.identity, payment_hash=payment.hash, verdict=Verdict.ACCEPTED, now=ctx.now_s()
    )
    await peer.send(MessageKind.RECEIPT, receipt.raw, cut=cut)
