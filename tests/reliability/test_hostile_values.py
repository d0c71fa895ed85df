"""No value a hostile payer can send crashes a payee or loses anything (issue 11, item 3).

The real payee role, its real SQLite store, Bumble's virtual radio; Mallory answers each
invoice with a payment (and the allowance it embeds, signed by a test issuer the payee
trusts) whose fields take boundary and out-of-range values, signed with her own real key so
the signature checks pass. An explicit table of boundary cases, then Hypothesis over every
field at once with an independent statement of the acceptance rules as the oracle. After
every session :func:`~tests.reliability.payee_probe.check_after` checks the store file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from p2ppay.wallet import open_wallet
from protocol import Invoice, SignedDocument
from protocol.cose import Kind, sign1
from protocol.documents import MAX_INTEGER, MAX_REASON_BYTES
from protocol.keys import document_hash, public_key
from protocol.money import MAX_AMOUNT
from protocol.session.messages import MessageKind
from protocol.verify import MAX_CLOCK_SKEW
from tests.app.world import now_s
from tests.reliability.conftest import RunCount
from tests.reliability.mallory import ABSENT, forge_allowance, forge_payment, raw_sign
from tests.reliability.payee_probe import (
    ISSUER,
    PAYEE_INVARIANTS,
    Probe,
    Sent,
    check_after,
    payee_home,
)

pytestmark = pytest.mark.anyio

AMOUNT = 10_00
"""Every invoice's amount (except where a case sets its own)."""
LIMIT = 100_00
"""The allowance limit when a case does not change it."""
FAR_FUTURE = 4_102_444_800
"""2100-01-01: a time inside the bounds, far outside any validity window."""

COUNTERS = (0, 1, 2**53, MAX_INTEGER, 2**63, 2**64 - 1, 2**64, -1)
AMOUNTS = (0, 1, MAX_AMOUNT, MAX_AMOUNT + 1, -1, -(2**64), 2**64)
TIMES = (0, FAR_FUTURE, MAX_INTEGER, 2**63, 2**64, -1)
SERIALS = (0, 1, 2**53, MAX_INTEGER, 2**63, 2**64 - 1, 2**64, -1)

_serials = iter(range(10_000, 2**40))


def fresh_serial() -> int:
    """A serial no other case uses: each case starts its own chain unless it says otherwise."""
    return next(_serials)


@dataclass(frozen=True, kw_only=True)
class Hostile:
    """A payment described by the fields that differ from an honest first payment."""

    payment: dict[str, object] = field(default_factory=dict)
    allowance: dict[str, object] = field(default_factory=dict)
    extra: dict[object, object] = field(default_factory=dict)
    """Keys added to the payment map."""

    def build(self, payer: SigningKey, invoice: SignedDocument[Invoice]) -> bytes:
        now = now_s()
        wallet = public_key(payer)
        allowance = {"issuer": ISSUER.verify_key.encode(), "wallet": wallet, "currency": "EUR",
                     "limit": LIMIT, "not_before": now - 60, "not_after": now + 3600,
                     "serial": fresh_serial(), **self.allowance}  # fmt: skip
        values = {"invoice": invoice.hash, "payer": wallet, "amount": invoice.doc.amount,
                  "currency": "EUR", "counter": 1, "prev": ABSENT,
                  "spent": invoice.doc.amount, "allowance": forge_allowance(ISSUER, **allowance),
                  **self.payment}  # fmt: skip
        return forge_payment(payer, extra=self.extra, **values)


def pay(**fields: object) -> Hostile:
    return Hostile(payment=fields)


def grant(**fields: object) -> Hostile:
    return Hostile(allowance=fields)


HASH31, HASH33 = bytes(31), bytes(33)

# (case id, what Mallory sends, the payee's ending: "completed" or the refusal code)
TABLE: list[tuple[str, Hostile, str]] = [
    ("honest", Hostile(), "completed"),
    # counters
    *[(f"counter={c}", pay(counter=c, prev=os.urandom(32) if c != 1 else ABSENT,
                           **({} if c != 1 else {})),
       "completed" if 1 <= c <= MAX_INTEGER else
       ("CBOR_UNKNOWN_TAG" if c >= 2**64 or c < -(2**64) else "DOC_FIELD_VALUE"))
      for c in COUNTERS],  # fmt: skip
    ("counter=bool", pay(counter=True), "DOC_FIELD_TYPE"),
    ("counter=text", pay(counter="1"), "DOC_FIELD_TYPE"),
    # amounts and cumulative totals
    *[(f"amount={a}", pay(amount=a, spent=max(a, 1)),
       "CBOR_UNKNOWN_TAG" if a >= 2**64 else "MONEY_NOT_POSITIVE" if a <= 0 else
       "MONEY_OVER_MAXIMUM" if a > MAX_AMOUNT else
       # spent = amount above the allowance limit is refused before the invoice is compared
       "PAYMENT_OVER_LIMIT" if a > LIMIT else "ACCEPT_AMOUNT_MISMATCH")
      for a in AMOUNTS],  # fmt: skip
    ("spent=amount-1", pay(spent=AMOUNT - 1), "PAYMENT_CUMULATIVE_BELOW_AMOUNT"),
    ("spent=0", pay(spent=0), "MONEY_NOT_POSITIVE"),
    ("spent=-1", pay(spent=-1), "MONEY_NOT_POSITIVE"),
    ("spent=limit", pay(spent=LIMIT), "completed"),
    ("spent=limit+1", pay(spent=LIMIT + 1), "PAYMENT_OVER_LIMIT"),
    ("spent=MAX_AMOUNT+1", pay(spent=MAX_AMOUNT + 1), "MONEY_OVER_MAXIMUM"),
    ("spent=2**63", pay(spent=2**63), "MONEY_OVER_MAXIMUM"),
    ("spent=2**64", pay(spent=2**64), "CBOR_UNKNOWN_TAG"),
    # the chain start
    ("counter=1 with prev", pay(prev=os.urandom(32)), "DOC_CHAIN_START"),
    ("counter=2 without prev", pay(counter=2), "DOC_CHAIN_START"),
    ("prev of 31 bytes", pay(counter=2, prev=HASH31), "DOC_FIELD_VALUE"),
    ("prev of 33 bytes", pay(counter=2, prev=HASH33), "DOC_FIELD_VALUE"),
    ("prev empty", pay(counter=2, prev=b""), "DOC_FIELD_VALUE"),
    ("prev as text", pay(counter=2, prev="00" * 32), "DOC_FIELD_TYPE"),
    # currencies
    ("currency lowercase", pay(currency="eur"), "MONEY_UNKNOWN_CURRENCY"),
    ("currency unknown", pay(currency="XXX"), "MONEY_UNKNOWN_CURRENCY"),
    ("currency empty", pay(currency=""), "MONEY_UNKNOWN_CURRENCY"),
    ("currency 1 kB", pay(currency="E" * 1000), "MONEY_UNKNOWN_CURRENCY"),
    ("allowance currency lowercase", grant(currency="eur"), "MONEY_UNKNOWN_CURRENCY"),
    ("allowance in USD, payment in EUR", grant(currency="USD"),
     "PAYMENT_CURRENCY_NOT_ALLOWANCE"),
    # the allowance's limit, window and serial
    *[(f"limit={v}", grant(limit=v),
       "CBOR_UNKNOWN_TAG" if v >= 2**64 else "MONEY_NOT_POSITIVE" if v <= 0 else
       "MONEY_OVER_MAXIMUM" if v > MAX_AMOUNT else
       "PAYMENT_OVER_LIMIT" if v < AMOUNT else "completed")
      for v in AMOUNTS],  # fmt: skip
    *[(f"not_before={t}", grant(not_before=t, not_after=max(t + 1, now_s() + 3600)),
       "CBOR_UNKNOWN_TAG" if t >= 2**64 else "DOC_FIELD_VALUE" if not 0 <= t < 2**63 - 1 else
       ("completed" if t <= now_s() else "DOC_NOT_YET_VALID"))
      for t in TIMES],  # fmt: skip
    *[(f"not_after={t}", grant(not_before=0, not_after=t),
       "CBOR_UNKNOWN_TAG" if t >= 2**64 else "DOC_FIELD_VALUE" if not 0 <= t <= MAX_INTEGER
       else ("DOC_BAD_TIME_WINDOW" if t == 0 else "completed"))
      for t in TIMES],  # fmt: skip
    ("allowance expired beyond the skew",
     grant(not_before=0, not_after=now_s() - MAX_CLOCK_SKEW - 10), "DOC_EXPIRED"),
    *[(f"serial={s}", grant(serial=s),
       "completed" if 0 <= s <= MAX_INTEGER else
       ("CBOR_UNKNOWN_TAG" if s >= 2**64 else "DOC_FIELD_VALUE"))
      for s in SERIALS],  # fmt: skip
    # the map itself
    ("extra payment key 9", Hostile(extra={9: 1}), "DOC_UNKNOWN_FIELD"),
    ("extra payment key 0", Hostile(extra={0: b""}), "DOC_UNKNOWN_FIELD"),
    ("text key", Hostile(extra={"x": 1}), "DOC_NOT_A_MAP"),
    ("payer key missing", pay(payer=ABSENT), "DOC_MISSING_FIELD"),
    ("allowance missing", pay(allowance=ABSENT), "DOC_MISSING_FIELD"),
    ("allowance key missing", grant(serial=ABSENT), "DOC_MISSING_FIELD"),
    ("invoice hash of 33 bytes", pay(invoice=HASH33), "DOC_FIELD_VALUE"),
    ("payer key of 31 bytes", pay(payer=HASH31), "DOC_FIELD_VALUE"),
    ("allowance is not COSE", pay(allowance=b"\xa0"), "COSE_NOT_SIGN1"),
    ("allowance of another wallet", grant(wallet=bytes(32)), "PAYMENT_PAYER_NOT_WALLET"),
]


def _payer() -> SigningKey:
    return SigningKey(os.urandom(32))


def _in_envelope(make: Callable[[SigningKey, SignedDocument[Invoice]], bytes],
                 payer: SigningKey) -> Callable[[SignedDocument[Invoice]], Sent]:  # fmt: skip
    return lambda invoice: (MessageKind.PAYMENT, make(payer, invoice))


@pytest.mark.reliability(
    "fuzz",
    "hostile payer over the air: a table of boundary and out-of-range values in every "
    "payment and allowance field (counters, amounts, totals, times, serials, prev hashes, "
    "currencies, missing and extra keys), signed with its own keys",
    expect="completed only when acceptable; else failed with the exact protocol code, told "
    "to the payer in a signed Abort; the payee's store unchanged by a refusal",
    invariants=PAYEE_INVARIANTS,
)
async def test_boundary_values_in_every_field_end_typed_and_lose_nothing(
    tmp_path: Path, runs: RunCount
) -> None:
    home = payee_home(tmp_path)
    seen: dict[str, str] = {}
    with open_wallet(home, passphrase=None, now=now_s()) as wallet:
        probe = Probe(home, wallet)
        for name, hostile, expect in TABLE:
            payer = _payer()
            result = await probe.session(payer, _in_envelope(hostile.build, payer))
            seen[name] = check_after(home, result, None)
            runs.add()
    wrong = {n: (seen[n], e) for n, _, e in TABLE if seen[n] != e}
    assert not wrong, "\n".join(f"{n}: got {g}, expected {e}" for n, (g, e) in wrong.items())
