"""No value a hostile payer can send crashes a payee or loses anything (issue 11, item 3).

The real payee role, its real SQLite store, Bumble's virtual radio; Mallory answers each
invoice with a payment (and the allowance it embeds, signed by a test issuer the payee
trusts) whose fields take boundary and out-of-range values, signed with her own real key so
the signature checks pass. An explicit table of boundary cases, malformed encodings and
messages, then Hypothesis over every field at once with an independent statement of the
acceptance rules as the oracle. After every session
:func:`~tests.reliability.payee_probe.check_after` checks the store file.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from p2ppay.wallet import open_wallet
from protocol import ErrorCode, Invoice, SignedDocument
from protocol.cbor import encode
from protocol.cose import Kind, sign1
from protocol.keys import document_hash, public_key
from protocol.money import MAX_AMOUNT
from protocol.session.messages import MessageKind, encode_refusal
from protocol.verify import MAX_CLOCK_SKEW
from tests.reliability.conftest import RunCount
from tests.reliability.mallory import ABSENT, forge_allowance, forge_payment, payload_bytes
from tests.reliability.payee_probe import (
    ISSUER,
    PAYEE_INVARIANTS,
    Probe,
    Sent,
    check_after,
    payee_home,
)
from tests.world import now_s

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MAX_INTEGER = 2**63 - 1
"""SPEC.md's bound on times, counters and serials, stated here again (not imported), so a
change to the code's bound shows up as a crash or a wrong verdict, not as a new expectation."""
AMOUNT = 10_00
"""Every invoice's amount."""
LIMIT = 100_00
"""The allowance limit when a case does not change it."""
FAR_FUTURE = 4_102_444_800
"""2100-01-01: a time inside the bounds, far outside any validity window."""

COUNTERS = (0, 1, 2, 2**53, MAX_INTEGER, 2**63, 2**64 - 1, 2**64, -1, -(2**64), -(2**64) - 1)
AMOUNTS = (0, 1, LIMIT, LIMIT + 1, MAX_AMOUNT, MAX_AMOUNT + 1, 2**63, 2**64, -1, -(2**64) - 1)
TIMES = (0, FAR_FUTURE, MAX_INTEGER - 1, MAX_INTEGER, 2**63, 2**64 - 1, 2**64, -1)
SERIALS = (0, 1, 2**53, MAX_INTEGER, 2**63, 2**64 - 1, 2**64, -1, -(2**64) - 1)

_serials = iter(range(10_000, 2**40))


def fresh_serial() -> int:
    """A serial no other case uses: each case starts its own chain unless it says otherwise."""
    return next(_serials)


def _int_code(value: int, *, low: int, high: int, over: str, under: str) -> str | None:
    """The refusal of an integer field outside ``low..high`` (None inside): past 64 bits CBOR
    needs a bignum tag, which the strict decoder refuses before any field is looked at."""
    if value >= 2**64 or value < -(2**64):
        return "CBOR_UNKNOWN_TAG"
    if value < low:
        return under
    return over if value > high else None


@dataclass(frozen=True, kw_only=True)
class Hostile:
    """A payment described by the fields that differ from an honest first payment."""

    payment: dict[str, object] = field(default_factory=dict)
    allowance: dict[str, object] = field(default_factory=dict)
    extra: dict[object, object] = field(default_factory=dict)
    """Keys added to the payment map."""

    def values(self, payer: SigningKey, invoice: SignedDocument[Invoice]) -> dict[str, object]:
        now = now_s()
        wallet = public_key(payer)
        allowance = {
            "issuer": ISSUER.verify_key.encode(),
            "wallet": wallet,
            "currency": "EUR",
            "limit": LIMIT,
            "not_before": now - 60,
            "not_after": now + 3600,
            "serial": fresh_serial(),
            **self.allowance,
        }
        return {
            "invoice": invoice.hash,
            "payer": wallet,
            "amount": invoice.doc.amount,
            "currency": "EUR",
            "counter": 1,
            "prev": ABSENT,
            "spent": invoice.doc.amount,
            "allowance": forge_allowance(ISSUER, **allowance),
            **self.payment,
        }

    def build(self, payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
        values = self.values(payer, invoice)
        return MessageKind.PAYMENT, forge_payment(payer, extra=self.extra, **values)


def pay(**fields: object) -> Hostile:
    return Hostile(payment=fields)


def grant(**fields: object) -> Hostile:
    return Hostile(allowance=fields)


Make = Callable[[SigningKey, SignedDocument[Invoice]], Sent]
HASH31, HASH33 = bytes(31), bytes(33)


def _field_cases() -> list[tuple[str, Make, str]]:
    """Boundary and out-of-range values, one field at a time."""
    cases: list[tuple[str, Hostile, str]] = [("honest", Hostile(), "completed")]
    for c in COUNTERS:
        prev = ABSENT if c == 1 else os.urandom(32)
        bad = _int_code(c, low=1, high=MAX_INTEGER, over="DOC_FIELD_VALUE", under="DOC_FIELD_VALUE")
        cases.append((f"counter={c}", pay(counter=c, prev=prev), bad or "completed"))
    for a in AMOUNTS:
        bad = _int_code(
            a, low=1, high=MAX_AMOUNT, over="MONEY_OVER_MAXIMUM", under="MONEY_NOT_POSITIVE"
        )
        # spent = amount over the allowance's limit is refused before the invoice is compared
        in_range = "PAYMENT_OVER_LIMIT" if a > LIMIT else "ACCEPT_AMOUNT_MISMATCH"
        cases.append((f"amount={a}", pay(amount=a, spent=a), bad or in_range))
        cases.append(
            (
                f"spent={a}",
                pay(spent=a),
                bad
                or (
                    "PAYMENT_CUMULATIVE_BELOW_AMOUNT"
                    if a < AMOUNT
                    else "PAYMENT_OVER_LIMIT"
                    if a > LIMIT
                    else "completed"
                ),
            )
        )
        cases.append(
            (
                f"limit={a}",
                grant(limit=a),
                bad or ("PAYMENT_OVER_LIMIT" if a < AMOUNT else "completed"),
            )
        )
    now = now_s()
    for t in TIMES:
        bad = _int_code(t, low=0, high=MAX_INTEGER, over="DOC_FIELD_VALUE", under="DOC_FIELD_VALUE")
        after = max(t + 1, now + 3600) if bad is None else now + 3600
        window = (
            "DOC_BAD_TIME_WINDOW"
            if t >= MAX_INTEGER
            else ("DOC_NOT_YET_VALID" if t > now + MAX_CLOCK_SKEW else "completed")
        )
        cases.append(
            (
                f"not_before={t}",
                grant(not_before=t, not_after=min(after, MAX_INTEGER)),
                bad or window,
            )
        )
        cases.append(
            (
                f"not_after={t}",
                grant(not_before=0, not_after=t),
                bad or ("DOC_BAD_TIME_WINDOW" if t == 0 else "completed"),
            )
        )
    for s in SERIALS:
        bad = _int_code(s, low=0, high=MAX_INTEGER, over="DOC_FIELD_VALUE", under="DOC_FIELD_VALUE")
        cases.append((f"serial={s}", grant(serial=s), bad or "completed"))
    cases += [
        ("counter=true", pay(counter=True), "DOC_FIELD_TYPE"),
        ("counter as text", pay(counter="1"), "DOC_FIELD_TYPE"),
        ("counter null", pay(counter=None), "DOC_FIELD_TYPE"),
        ("amount as float", pay(amount=1000.0), "CBOR_FLOAT"),
        (
            "allowance expired beyond the skew",
            grant(not_before=0, not_after=now - MAX_CLOCK_SKEW - 10),
            "DOC_EXPIRED",
        ),
        ("counter=1 with prev", pay(prev=os.urandom(32)), "DOC_CHAIN_START"),
        ("counter=2 without prev", pay(counter=2), "DOC_CHAIN_START"),
        ("prev of 31 bytes", pay(counter=2, prev=HASH31), "DOC_FIELD_VALUE"),
        ("prev of 33 bytes", pay(counter=2, prev=HASH33), "DOC_FIELD_VALUE"),
        ("prev empty", pay(counter=2, prev=b""), "DOC_FIELD_VALUE"),
        ("prev as text", pay(counter=2, prev="00" * 32), "DOC_FIELD_TYPE"),
        ("currency lowercase", pay(currency="eur"), "MONEY_UNKNOWN_CURRENCY"),
        ("currency unknown", pay(currency="XXX"), "MONEY_UNKNOWN_CURRENCY"),
        ("currency empty", pay(currency=""), "MONEY_UNKNOWN_CURRENCY"),
        ("currency of 1000 bytes", pay(currency="E" * 1000), "MONEY_UNKNOWN_CURRENCY"),
        ("currency as bytes", pay(currency=b"EUR"), "DOC_FIELD_TYPE"),
        ("allowance currency lowercase", grant(currency="eur"), "MONEY_UNKNOWN_CURRENCY"),
        (
            "allowance in USD, payment in EUR",
            grant(currency="USD"),
            "PAYMENT_CURRENCY_NOT_ALLOWANCE",
        ),
        (
            "payment and allowance in USD",
            Hostile(payment={"currency": "USD"}, allowance={"currency": "USD"}),
            "ACCEPT_CURRENCY_MISMATCH",
        ),
        ("extra payment key 10", Hostile(extra={10: 1}), "DOC_UNKNOWN_FIELD"),
        ("payment label not text", Hostile(extra={9: 1}), "DOC_FIELD_TYPE"),
        ("payment label with a line break", Hostile(extra={9: "Ana\nPAID"}), "DOC_FIELD_VALUE"),
        ("payment label of 33 characters", Hostile(extra={9: "A" * 33}), "DOC_FIELD_VALUE"),
        ("extra payment key 0", Hostile(extra={0: b""}), "DOC_UNKNOWN_FIELD"),
        ("text key", Hostile(extra={"x": 1}), "DOC_NOT_A_MAP"),
        ("payer key missing", pay(payer=ABSENT), "DOC_MISSING_FIELD"),
        ("allowance missing", pay(allowance=ABSENT), "DOC_MISSING_FIELD"),
        ("allowance field missing", grant(serial=ABSENT), "DOC_MISSING_FIELD"),
        ("invoice hash of 33 bytes", pay(invoice=HASH33), "DOC_FIELD_VALUE"),
        ("invoice hash of another invoice", pay(invoice=bytes(32)), "ACCEPT_INVOICE_MISMATCH"),
        ("payer key of 31 bytes", pay(payer=HASH31), "DOC_FIELD_VALUE"),
        ("allowance is not COSE", pay(allowance=b"\xa0"), "COSE_NOT_SIGN1"),
        ("allowance of another wallet", grant(wallet=bytes(32)), "PAYMENT_PAYER_NOT_WALLET"),
    ]
    return [(name, hostile.build, expect) for name, hostile, expect in cases]


def _raw_payment(payer: SigningKey, invoice: SignedDocument[Invoice], payload: bytes) -> Sent:
    return MessageKind.PAYMENT, sign1(payer, Kind.PAYMENT, payload)


def _items(payer: SigningKey, invoice: SignedDocument[Invoice]) -> list[tuple[bytes, bytes]]:
    """The honest payment's map as (encoded key, encoded value) pairs, ascending."""
    values = Hostile().values(payer, invoice)
    fields = {
        key: values[name]
        for name, key in (
            (n, k)
            for k, n in (
                (1, "invoice"),
                (2, "payer"),
                (3, "amount"),
                (4, "currency"),
                (5, "counter"),
                (7, "spent"),
                (8, "allowance"),
            )
        )
    }
    return [(cbor2.dumps(k), cbor2.dumps(v)) for k, v in sorted(fields.items())]


def _map(items: list[tuple[bytes, bytes]], *, indefinite: bool = False) -> bytes:
    body = b"".join(k + v for k, v in items)
    return (b"\xbf" + body + b"\xff") if indefinite else bytes([0xA0 + len(items)]) + body


def _encoding_cases() -> list[tuple[str, Make, str]]:
    """Payments whose bytes are not the deterministic encoding, and wrong documents."""

    def wide_counter(payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
        items = _items(payer, invoice)
        items[4] = (items[4][0], b"\x1b" + (1).to_bytes(8, "big"))
        return _raw_payment(payer, invoice, _map(items))

    def unsorted(payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
        return _raw_payment(payer, invoice, _map(list(reversed(_items(payer, invoice)))))

    def duplicate(payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
        items = _items(payer, invoice)
        return _raw_payment(payer, invoice, _map([*items, items[-1]]))

    def indefinite(payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
        return _raw_payment(payer, invoice, _map(_items(payer, invoice), indefinite=True))

    def trailing(payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
        return _raw_payment(payer, invoice, _map(_items(payer, invoice)) + b"\x00")

    def payload_not_map(payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
        return _raw_payment(payer, invoice, cbor2.dumps([1, 2, 3]))

    def truncated(payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
        return MessageKind.PAYMENT, Hostile().build(payer, invoice)[1][:-7]

    def not_cbor(payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
        return MessageKind.PAYMENT, b"\xff\xfe\xfd"

    def invoice_back(payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
        return MessageKind.PAYMENT, invoice.raw

    def allowance_as_payment(payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
        return MessageKind.PAYMENT, Hostile().values(payer, invoice)["allowance"]  # type: ignore[return-value]

    def payment_as_allowance(payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
        inner = Hostile().build(payer, invoice)[1]
        return pay(allowance=inner).build(payer, invoice)

    def signed_by_another(payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
        other = SigningKey(os.urandom(32))
        return MessageKind.PAYMENT, Hostile().build(other, invoice)[1]

    def kid_of_another(payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
        values = Hostile().values(payer, invoice)
        fields = {
            k: values[n]
            for n, k in (
                ("invoice", 1),
                ("payer", 2),
                ("amount", 3),
                ("currency", 4),
                ("counter", 5),
                ("spent", 7),
                ("allowance", 8),
            )
        }
        return _raw_payment(SigningKey(os.urandom(32)), invoice, payload_bytes(fields))

    return [
        ("counter in a non-shortest integer", wide_counter, "CBOR_NON_SHORTEST"),
        ("map keys out of order", unsorted, "CBOR_NOT_DETERMINISTIC"),
        ("duplicate map key", duplicate, "CBOR_DUPLICATE_KEY"),
        ("indefinite-length map", indefinite, "CBOR_INDEFINITE_LENGTH"),
        ("a byte after the payload", trailing, "CBOR_TRAILING_BYTES"),
        ("payload an array", payload_not_map, "DOC_NOT_A_MAP"),
        ("payment bytes truncated", truncated, "CBOR_MALFORMED"),
        ("payment not CBOR", not_cbor, "CBOR_MALFORMED"),
        ("the invoice sent back as the payment", invoice_back, "COSE_WRONG_KIND"),
        ("the allowance sent as the payment", allowance_as_payment, "COSE_WRONG_KIND"),
        ("a payment embedded as the allowance", payment_as_allowance, "COSE_WRONG_KIND"),
        (
            "a payment signed by a key other than the Noise peer's",
            signed_by_another,
            "HANDSHAKE_PEER_KEY_MISMATCH",
        ),
        (
            "a payment whose kid and signature are another key's",
            kid_of_another,
            "COSE_KID_MISMATCH",
        ),
    ]


def _message_cases() -> list[tuple[str, Make, str]]:
    """Message 4 that is not a payment: other envelope kinds, refusals and signed aborts."""

    def envelope(kind: int, body: object = b"") -> Make:
        return lambda payer, invoice: (None, encode([kind, body]))  # type: ignore[list-item]

    def refusal(code: int) -> Make:
        return lambda payer, invoice: (MessageKind.REFUSAL, encode_refusal(code))

    def abort(code: int, reason: str, more: dict[int, object] | None = None) -> Make:
        def make(payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
            fields = {
                1: public_key(payer),
                2: code,
                3: reason,
                4: now_s(),
                5: invoice.hash,
                **(more or {}),
            }
            return MessageKind.ABORT, sign1(payer, Kind.ABORT, payload_bytes(fields))

        return make

    declined = int(ErrorCode.SESSION_DECLINED)
    return [
        ("envelope kind RECEIPT from the payer", envelope(5), "SESSION_UNEXPECTED_MESSAGE"),
        ("envelope kind INVOICE from the payer", envelope(3), "SESSION_UNEXPECTED_MESSAGE"),
        ("envelope kind OFFER from the payer", envelope(1), "SESSION_UNEXPECTED_MESSAGE"),
        ("envelope kind 99", envelope(99), "SESSION_MALFORMED_MESSAGE"),
        ("envelope kind 2**64", envelope(2**64 - 1), "SESSION_MALFORMED_MESSAGE"),
        ("envelope body not bytes", envelope(4, "x"), "SESSION_MALFORMED_MESSAGE"),
        ("envelope not CBOR", lambda payer, invoice: (None, b"\xff"), "SESSION_MALFORMED_MESSAGE"),
        ("refusal SESSION_DECLINED", refusal(declined), "SESSION_DECLINED"),
        (
            "refusal with a code this build does not know (999)",
            refusal(999),
            "SESSION_PEER_ABORTED",
        ),
        ("refusal with code 2**63", refusal(2**63), "SESSION_MALFORMED_MESSAGE"),
        ("abort, reason of 128 bytes", abort(declined, "é" * 64), "SESSION_DECLINED"),
        ("abort, reason of 129 bytes", abort(declined, "é" * 64 + "x"), "DOC_FIELD_VALUE"),
        (
            "abort, reason of 2 kB (a message over the CBOR size limit)",
            abort(declined, "x" * 2000),
            "SESSION_MALFORMED_MESSAGE",
        ),
        ("abort, code 99", abort(99, ""), "DOC_FIELD_VALUE"),
        ("abort, code 1000", abort(1000, ""), "DOC_FIELD_VALUE"),
        (
            "abort, a code this build does not know (999)",
            abort(999, "newer"),
            "SESSION_PEER_ABORTED",
        ),
        ("abort, time 2**63", abort(declined, "", {4: 2**63}), "DOC_FIELD_VALUE"),
        ("abort, invoice hash of 31 bytes", abort(declined, "", {5: HASH31}), "DOC_FIELD_VALUE"),
        ("abort, extra key", abort(declined, "", {9: 0}), "DOC_UNKNOWN_FIELD"),
    ]


TABLE = [*_field_cases(), *_encoding_cases(), *_message_cases()]


@dataclass(kw_only=True)
class Chain:
    """One allowance chain the payee has accepted payments on: its head, as Mallory knows."""

    payer: SigningKey = field(default_factory=lambda: SigningKey(os.urandom(32)))
    serial: int = field(default_factory=fresh_serial)
    counter: int = 0
    head: bytes | None = None
    spent: int = 0

    def next(
        self, *, counter: int | None = None, prev: object = None, spent: int | None = None
    ) -> Make:
        """The next payment on this chain, with any of its chain fields replaced."""

        def make(payer: SigningKey, invoice: SignedDocument[Invoice]) -> Sent:
            c = self.counter + 1 if counter is None else counter
            p = (self.head if c > 1 else ABSENT) if prev is None else prev
            s = self.spent + invoice.doc.amount if spent is None else spent
            return Hostile(
                payment={"counter": c, "prev": p, "spent": s}, allowance={"serial": self.serial}
            ).build(payer, invoice)

        return make

    def accepted(self, sent: Sent) -> None:
        raw = sent[1]
        doc = cbor2.loads(cbor2.loads(raw).value[2])
        self.counter, self.head, self.spent = doc[5], document_hash(raw), doc[7]


def _chain_cases(chain: Chain) -> list[tuple[str, Make, str]]:
    """Along one chain, in order: what may follow the payments the payee has seen."""
    return [
        ("chain: first payment", chain.next(), "completed"),
        (
            "chain: the same counter again",
            chain.next(counter=1, prev=ABSENT),
            "ACCEPT_COUNTER_NOT_INCREASING",
        ),
        (
            "chain: next counter, unknown prev",
            chain.next(prev=os.urandom(32)),
            "ACCEPT_PREV_HASH_MISMATCH",
        ),
        (
            "chain: next counter, total too low",
            chain.next(spent=AMOUNT),
            "ACCEPT_CUMULATIVE_MISMATCH",
        ),
        (
            "chain: next counter, total too high",
            chain.next(spent=3 * AMOUNT),
            "ACCEPT_CUMULATIVE_MISMATCH",
        ),
        ("chain: next payment", chain.next(), "completed"),
        ("chain: counter 0", chain.next(counter=0, prev=bytes(32)), "DOC_FIELD_VALUE"),
        (
            "chain: a gap to 2**63-1, total hiding spending",
            chain.next(counter=MAX_INTEGER, prev=bytes(32), spent=AMOUNT),
            "ACCEPT_CUMULATIVE_MISMATCH",
        ),
        ("chain: a gap to 2**63-1", chain.next(counter=MAX_INTEGER, prev=bytes(32)), "completed"),
        ("chain: past the last counter (2**63)", chain.next(), "DOC_FIELD_VALUE"),
        (
            "chain: the last counter again",
            chain.next(counter=MAX_INTEGER, prev=bytes(32)),
            "ACCEPT_COUNTER_NOT_INCREASING",
        ),
    ]


@pytest.mark.reliability(
    "fuzz",
    "hostile payer over the air: a table of boundary and out-of-range values in every "
    "payment and allowance field, malformed and non-deterministic encodings, wrong kinds, "
    "other envelopes, refusals and aborts, and a chain walked to counter 2**63-1 and past "
    "(each signed with the payer's own keys)",
    expect="completed only when acceptable; else failed with the exact protocol code, told "
    "to the payer in a signed Abort; the payee's store unchanged by a refusal",
    invariants=PAYEE_INVARIANTS,
)
async def test_boundary_values_in_every_field_end_typed_and_lose_nothing(
    tmp_path: Path, runs: RunCount
) -> None:
    home = payee_home(tmp_path)
    seen: dict[str, str] = {}
    chain = Chain()
    cases: list[tuple[str, Make, str, Chain | None]] = [(n, m, e, None) for n, m, e in TABLE]
    cases += [(n, m, e, chain) for n, m, e in _chain_cases(chain)]
    with open_wallet(home, passphrase=None, now=now_s()) as wallet:
        probe = Probe(home, wallet)
        for name, make, _, on_chain in cases:
            payer = chain.payer if on_chain is not None else SigningKey(os.urandom(32))
            result = await probe.session(payer, functools.partial(make, payer))
            seen[name] = check_after(home, result, None)
            if on_chain is not None and seen[name] == "completed":
                on_chain.accepted(result.sent)
            runs.add()
    assert len(seen) == len(cases), "case names are unique"
    wrong = {n: (seen[n], e) for n, _, e, _ in cases if seen[n] != e}
    assert not wrong, "\n".join(f"{n}: got {g}, expected {e}" for n, (g, e) in wrong.items())


def _answer(**fields: object) -> bytes:
    """An answer map: the honest one (version 2, 4096, 244, [EUR], [1]) with ``fields``."""
    honest: dict[int, object] = {1: 2, 2: 4096, 3: 244, 4: ["EUR"], 5: [1]}
    keys = {"version": 1, "max_message": 2, "chunk": 3, "currencies": 4, "features": 5}
    return payload_bytes({**honest, **{keys[k]: v for k, v in fields.items()}})


ANSWERS: list[tuple[str, bytes | None, str]] = [
    ("answer: version 0", _answer(version=0), "NEGOTIATION_ANSWER_MISMATCH"),
    ("answer: version 2**63", _answer(version=2**63), "NEGOTIATION_ANSWER_MISMATCH"),
    ("answer: version 2**64", _answer(version=2**64), "NEGOTIATION_MALFORMED"),
    ("answer: version -1", _answer(version=-1), "NEGOTIATION_MALFORMED"),
    ("answer: chunk size 2**64-1", _answer(chunk=2**64 - 1), "NEGOTIATION_BAD_LIMITS"),
    ("answer: chunk size 19", _answer(chunk=19), "NEGOTIATION_BAD_LIMITS"),
    ("answer: message size 2**63", _answer(max_message=2**63), "NEGOTIATION_BAD_LIMITS"),
    ("answer: currency lowercase", _answer(currencies=["eur"]), "NEGOTIATION_MALFORMED"),
    ("answer: a currency not offered", _answer(currencies=["USD"]), "NEGOTIATION_ANSWER_MISMATCH"),
    (
        "answer: currencies mixing text and integers",
        _answer(currencies=[1, "EUR"]),
        "NEGOTIATION_MALFORMED",
    ),
    ("answer: 17 features", _answer(features=list(range(17))), "NEGOTIATION_MALFORMED"),
    ("answer: features descending", _answer(features=[1, 0]), "NEGOTIATION_MALFORMED"),
    ("answer: a feature 2**64-1", _answer(features=[2**64 - 1]), "NEGOTIATION_ANSWER_MISMATCH"),
    (
        "answer: an extra key",
        payload_bytes({1: 2, 2: 4096, 3: 244, 4: ["EUR"], 5: [1], 6: 0}),
        "NEGOTIATION_MALFORMED",
    ),
    ("answer: not a map", cbor2.dumps([2, 4096]), "NEGOTIATION_MALFORMED"),
    ("silence after the invoice", None, "SESSION_PAYMENT_TIMEOUT"),
]


@pytest.mark.reliability(
    "fuzz",
    "hostile payer over the air: boundary and malformed values in its answer to the offer "
    "(versions, sizes, currencies, features up to 2**64), and silence after the invoice",
    expect="failed with the exact NEGOTIATION_* or timeout code, told in a signed Abort; the "
    "payee's store unchanged",
    invariants=PAYEE_INVARIANTS,
)
async def test_hostile_answers_to_the_offer_end_typed(tmp_path: Path, runs: RunCount) -> None:
    home = payee_home(tmp_path)
    seen: dict[str, str] = {}
    with open_wallet(home, passphrase=None, now=now_s()) as wallet:
        probe = Probe(home, wallet)
        for name, answer, _ in ANSWERS:
            result = await probe.answer_session(SigningKey(os.urandom(32)), answer)
            seen[name] = check_after(home, result, None)
            runs.add()
    wrong = {n: (seen[n], e) for n, _, e in ANSWERS if seen[n] != e}
    assert not wrong, "\n".join(f"{n}: got {g}, expected {e}" for n, (g, e) in wrong.items())


# --- Hypothesis: several fields at once, an independent oracle ------------------------------

EXAMPLES = 150
BOUNDARY_INTS = sorted({*COUNTERS, *AMOUNTS, *TIMES, *SERIALS, AMOUNT - 1, AMOUNT + 1, 2 * AMOUNT})
INTS = st.one_of(
    st.sampled_from(BOUNDARY_INTS), st.integers(-(2**63), 2**64 - 1), st.integers(-(2**70), 2**70)
)
OTHERS = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=4),
    st.binary(max_size=40),
    st.floats(allow_nan=False),
)
ANY = st.one_of(INTS, INTS, INTS, OTHERS)


def _mostly(plausible: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """Plausible values half the time (so later rules are reached), anything otherwise."""
    return st.one_of(plausible, st.sampled_from(BOUNDARY_INTS), INTS, ANY)


CURRENCY = st.one_of(st.sampled_from(["EUR", "eur", "USD", "XXX", "", "EURO"]), ANY)
FIELDS: dict[str, st.SearchStrategy[object]] = {
    "counter": _mostly(st.integers(1, 4)),
    "prev": st.one_of(st.just(ABSENT), st.sampled_from([bytes(32), HASH31, HASH33, b""]), ANY),
    "amount": _mostly(st.just(AMOUNT)),
    "spent": _mostly(st.integers(AMOUNT - 1, 4 * AMOUNT)),
    "currency": CURRENCY,
    "allowance.limit": _mostly(st.integers(AMOUNT - 1, MAX_AMOUNT)),
    "allowance.not_before": _mostly(st.integers(0, FAR_FUTURE)),
    "allowance.not_after": _mostly(st.integers(0, MAX_INTEGER)),
    "allowance.serial": _mostly(st.integers(0, 3)),
    "allowance.currency": CURRENCY,
    "extra key": ANY,
}
"""What Hypothesis may change in an honest payment (``allowance.*``: its allowance's fields;
``extra key``: a key 10, unknown, added to the payment map)."""
CHANGES = st.sets(st.sampled_from(sorted(FIELDS)), max_size=3).flatmap(
    lambda names: st.fixed_dictionaries({name: FIELDS[name] for name in sorted(names)})
)


@dataclass(frozen=True, kw_only=True)
class Head:
    counter: int
    hash: bytes
    spent: int


def _uint(value: object, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def acceptable(
    v: dict[str, object],
    a: dict[str, object],
    extra: dict[object, object],
    *,
    now: int,
    seen: dict[int, Head],
) -> bool:
    """The payee's offline rules, stated again from SPEC.md and DESIGN.md (not from the code)."""
    if extra or a["currency"] != "EUR" or v["currency"] != "EUR":
        return False
    limit, nb, na, serial = a["limit"], a["not_before"], a["not_after"], a["serial"]
    if not (
        _uint(limit, 1, MAX_AMOUNT)
        and _uint(serial, 0, MAX_INTEGER)
        and _uint(nb, 0, MAX_INTEGER)
        and _uint(na, 0, MAX_INTEGER)
    ):
        return False
    assert isinstance(nb, int) and isinstance(na, int) and isinstance(limit, int)
    if na <= nb or nb > now + MAX_CLOCK_SKEW or na <= now - MAX_CLOCK_SKEW:
        return False
    counter, prev, amount, spent = v["counter"], v["prev"], v["amount"], v["spent"]
    if not (_uint(counter, 1, MAX_INTEGER) and amount == AMOUNT and type(amount) is int):
        return False
    if not (_uint(spent, AMOUNT, limit)):
        return False
    assert isinstance(counter, int) and isinstance(spent, int) and isinstance(serial, int)
    if (counter == 1) != (prev is ABSENT):
        return False
    if prev is not ABSENT and not (isinstance(prev, bytes) and len(prev) == 32):
        return False
    last = seen.get(serial)
    if last is None:
        return True
    if counter <= last.counter:
        return False
    if counter == last.counter + 1:
        return prev == last.hash and spent == last.spent + AMOUNT
    return spent >= last.spent + AMOUNT


@dataclass(kw_only=True)
class Fuzzing:
    probe: Probe
    seen: dict[int, Head] = field(default_factory=dict)
    ended: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def fuzzing(tmp_path: Path) -> Iterator[Fuzzing]:
    home = payee_home(tmp_path)
    with open_wallet(home, passphrase=None, now=now_s()) as wallet:
        state = Fuzzing(probe=Probe(home, wallet))
        yield state
    # Not vacuous: the examples reached both sides of the rules.
    assert state.ended.get("completed", 0) >= 1, state.ended
    assert sum(state.ended.values()) > state.ended.get("completed", 0), state.ended


@pytest.mark.reliability(
    "fuzz",
    # A plain string (no f-string): the report reads the row's name without importing this.
    "hostile payer over the air, Hypothesis (150 sessions): any value (boundary "
    "integers, huge and negative integers, null, booleans, text, bytes, floats) in up to "
    "three payment and allowance fields at once, extra keys, serials reused across sessions",
    expect="completed exactly when an independent statement of the offline rules accepts; "
    "else failed with a protocol code; the payee's store unchanged by a refusal",
    invariants=PAYEE_INVARIANTS,
)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(changes=CHANGES)
async def test_any_values_in_several_fields_end_as_the_rules_say(
    fuzzing: Fuzzing, runs: RunCount, changes: dict[str, object]
) -> None:
    payer = SigningKey(os.urandom(32))
    payment = {k: v for k, v in changes.items() if "." not in k and k != "extra key"}
    allowance = {k.split(".")[1]: v for k, v in changes.items() if k.startswith("allowance.")}
    extra: dict[object, object] = {10: changes["extra key"]} if "extra key" in changes else {}
    values: dict[str, object] = {}

    def make(invoice: SignedDocument[Invoice]) -> Sent:
        fields = dict(payment)
        counter = fields.get("counter", 1)
        fields.setdefault("prev", ABSENT if counter == 1 else bytes(32))
        fields.setdefault("spent", fields.get("amount", AMOUNT))
        hostile = Hostile(payment=fields, allowance=allowance, extra=extra)
        values.update(hostile.values(payer, invoice))
        forged = values["allowance"]
        assert isinstance(forged, bytes)
        values["grant"] = {**cbor2.loads(cbor2.loads(forged).value[2])}
        return hostile.build(payer, invoice)

    result = await fuzzing.probe.session(payer, make)
    ended = check_after(fuzzing.probe.home, result, None)
    granted = values["grant"]
    assert isinstance(granted, dict)
    names = {
        k: n
        for k, n in (
            (1, "issuer"),
            (2, "wallet"),
            (3, "currency"),
            (4, "limit"),
            (5, "not_before"),
            (6, "not_after"),
            (7, "serial"),
        )
    }
    grant_values = {name: granted.get(key, ABSENT) for key, name in names.items()}
    ok = acceptable(values, grant_values, extra, now=now_s(), seen=fuzzing.seen)
    assert (ended == "completed") == ok, (ended, changes)
    if ok:
        serial = grant_values["serial"]
        assert isinstance(serial, int)
        counter, spent = values["counter"], values["spent"]
        assert isinstance(counter, int) and isinstance(spent, int)
        sent_hash = document_hash(result.sent[1])
        fuzzing.seen[serial] = Head(counter=counter, hash=sent_hash, spent=spent)
    fuzzing.ended[ended] = fuzzing.ended.get(ended, 0) + 1
    runs.add()
