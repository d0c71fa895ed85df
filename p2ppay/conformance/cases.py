"""The conformance cases, as data: what the runner does to the device under test (DUT), what
the operator is told to do on it, and what the specification says the DUT must answer.

Two suites, one per role of the DUT. With ``Role.PAYER`` the runner is a payee (the BLE
central that finds and connects to the DUT); with ``Role.PAYEE`` it is a payer (the BLE
peripheral the DUT connects to). A case only names *knobs* (which invoice, which answer,
which payment, which fault on the wire); the two scripts (:mod:`.as_payee`,
:mod:`.as_payer`) turn knobs into bytes with the real protocol code.

Invariants:
- Every expected code is the one ``protocol/SESSIONS.md`` and ``protocol/SPEC.md`` specify
  for that situation, including the identity-hiding rule (SESSIONS.md 1.1): a payer sends
  codes that depend on its wallet or clock as ``SESSION_DECLINED`` in an unsigned REFUSAL,
  and codes about the payee's own bytes unchanged.
- Case names are stable identifiers (they appear in the JSON report and in ``--case``).
- The happy path comes first: later cases may use what it established (the runner's chain).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum, unique

from protocol.errors import ErrorCode

__all__ = [
    "CASES",
    "Action",
    "AnswerKnob",
    "Case",
    "Expect",
    "Fault",
    "InvoiceKnob",
    "Outcome",
    "PaymentKnob",
    "Role",
    "cases_for",
]


@unique
class Role(StrEnum):
    """The role of the device under test."""

    PAYER = "payer"
    PAYEE = "payee"


@unique
class Outcome(StrEnum):
    """How a session with the DUT ended, as the runner saw it."""

    COMPLETED = "completed"
    """The payment went through: payment and receipt verified, the right side hung up."""
    REFUSAL = "refusal"
    """The DUT (a payer) sent an unsigned REFUSAL with a code."""
    ABORT = "abort"
    """The DUT sent a signed ABORT (signature, sender and session hashes checked)."""
    HANG_UP = "hang-up"
    """The DUT closed the link without sending anything more."""
    SILENT = "silent"
    """The DUT neither answered nor hung up in time."""
    OTHER = "other"
    """Anything else: an unexpected message, or bytes that break the protocol."""


@unique
class Action(StrEnum):
    """What the operator does on the DUT for a case (told before the session starts)."""

    ADVERTISE = "advertise"
    """Payer DUT: be advertising as a payer; nothing to approve (it refuses by itself)."""
    APPROVE = "approve"
    """Payer DUT: advertise and approve the invoice when asked."""
    DECLINE = "decline"
    """Payer DUT: advertise and decline the invoice when asked."""
    REQUEST = "request"
    """Payee DUT: start a payment request of the runner's amount and currency."""
    RESUME = "resume"
    """Payee DUT: resume the same request after the lost link (a DUT may do it by itself)."""


@unique
class InvoiceKnob(StrEnum):
    """The invoice the runner sends a payer DUT."""

    GOOD = "good"
    UNPAYABLE = "unpayable"
    """More than any allowance holds (a wallet that cannot pay must decline by itself)."""
    UNKNOWN_CURRENCY = "unknown-currency"
    """In XTS, a code in no currency table (offered as such; signed, otherwise valid)."""
    FORGED = "forged"
    """The payee's signature over other bytes: the amount was changed after signing."""
    STALE = "stale"
    """Signed, but created two hours ago and expired an hour and 55 minutes ago."""


@unique
class AnswerKnob(StrEnum):
    """The answer the runner (as payer) gives a payee DUT's offer."""

    GOOD = "good"
    FOREIGN_CURRENCY = "foreign-currency"
    """Names XTS, a currency the offer did not contain."""


@unique
class PaymentKnob(StrEnum):
    """What the runner (as payer) sends after a payee DUT's invoice."""

    GOOD = "good"
    REFUSE = "refuse"
    """A REFUSAL with SESSION_DECLINED, as a payer whose person said no."""
    FORGED = "forged"
    """A payment whose payer signature is over other bytes (the amount was changed)."""
    STALE = "stale"
    """A valid payment made earlier for another invoice, sent in place of one for this."""


@unique
class Fault(StrEnum):
    """What the runner does to the chunks of its next message."""

    NONE = "none"
    MALFORMED_CHUNK = "malformed-chunk"
    """The second chunk (the first if there is one) has a reserved header bit set."""
    CUT = "cut"
    """The link is cut after about half the chunks of the message, then the same invoice is
    resumed in a new session (SESSIONS.md 3.6)."""


@dataclass(frozen=True, kw_only=True)
class Expect:
    """What the specification requires of the DUT."""

    outcome: Outcome
    code: ErrorCode | None = None

    def describe(self) -> str:
        return self.outcome.value if self.code is None else f"{self.outcome} {_code(self.code)}"


def _code(code: int) -> str:
    try:
        return f"{int(code)} {ErrorCode(code).name}"
    except ValueError:
        return str(int(code))


@dataclass(frozen=True, kw_only=True)
class Case:
    """One conformance case."""

    name: str
    """Stable identifier."""
    role: Role
    """The DUT's role."""
    checks: str
    """One sentence: the behaviour under test (README's table shows it)."""
    action: Action
    """What the operator does on the DUT before the session."""
    expect: Expect
    invoice: InvoiceKnob = InvoiceKnob.GOOD
    answer: AnswerKnob = AnswerKnob.GOOD
    payment: PaymentKnob = PaymentKnob.GOOD
    fault: Fault = Fault.NONE


_DECLINED = ErrorCode.SESSION_DECLINED

CASES: tuple[Case, ...] = (
    # --- the DUT is a payer; the runner is a payee (central) ------------------------------
    Case(
        name="happy-path",
        role=Role.PAYER,
        action=Action.APPROVE,
        checks="answers the offer at the device's MTU (chunk size min(offer, ATT_MTU-3)) with "
        "every offered currency, pays the invoice with a valid payment and hangs up after "
        "the receipt",
        expect=Expect(outcome=Outcome.COMPLETED),
    ),
    Case(
        name="decline",
        role=Role.PAYER,
        action=Action.DECLINE,
        invoice=InvoiceKnob.UNPAYABLE,
        checks="an invoice the person declines (or the wallet cannot pay) is refused before "
        "any payment with an unsigned REFUSAL SESSION_DECLINED",
        expect=Expect(outcome=Outcome.REFUSAL, code=_DECLINED),
    ),
    Case(
        name="unknown-currency",
        role=Role.PAYER,
        action=Action.ADVERTISE,
        invoice=InvoiceKnob.UNKNOWN_CURRENCY,
        checks="an offer of only XTS is answered with XTS (the payer hides what it holds); the "
        "XTS invoice is refused with REFUSAL MONEY_UNKNOWN_CURRENCY (the payee's own bytes)",
        expect=Expect(outcome=Outcome.REFUSAL, code=ErrorCode.MONEY_UNKNOWN_CURRENCY),
    ),
    Case(
        name="cut-and-resume",
        role=Role.PAYER,
        action=Action.APPROVE,
        fault=Fault.CUT,
        checks="the receipt is cut mid-message at 20-byte chunks; resumed with the same "
        "invoice, the payer re-sends the identical payment without asking and completes",
        expect=Expect(outcome=Outcome.COMPLETED),
    ),
    Case(
        name="malformed-chunk",
        role=Role.PAYER,
        action=Action.ADVERTISE,
        fault=Fault.MALFORMED_CHUNK,
        checks="a chunk of the invoice message with a reserved header bit set "
        "(FRAME_BAD_HEADER) ends the session: the payer cannot write then, so it hangs up",
        expect=Expect(outcome=Outcome.HANG_UP),
    ),
    Case(
        name="forged-signature",
        role=Role.PAYER,
        action=Action.ADVERTISE,
        invoice=InvoiceKnob.FORGED,
        checks="an invoice whose signature does not verify is refused with REFUSAL "
        "COSE_BAD_SIGNATURE (a code about the payee's bytes passes unchanged)",
        expect=Expect(outcome=Outcome.REFUSAL, code=ErrorCode.COSE_BAD_SIGNATURE),
    ),
    Case(
        name="stale-invoice",
        role=Role.PAYER,
        action=Action.ADVERTISE,
        invoice=InvoiceKnob.STALE,
        checks="an expired invoice is refused as REFUSAL SESSION_DECLINED (DOC_EXPIRED depends "
        "on the payer's clock, so it is not told)",
        expect=Expect(outcome=Outcome.REFUSAL, code=_DECLINED),
    ),
    # --- the DUT is a payee; the runner is a payer (peripheral) ---------------------------
    Case(
        name="happy-path",
        role=Role.PAYEE,
        action=Action.REQUEST,
        checks="offers chunk size min(ATT_MTU-3, 510) and the advertised tag, sends a valid "
        "invoice for the requested amount, accepts a valid payment with an accepted receipt",
        expect=Expect(outcome=Outcome.COMPLETED),
    ),
    Case(
        name="decline",
        role=Role.PAYEE,
        action=Action.REQUEST,
        payment=PaymentKnob.REFUSE,
        checks="a payer's REFUSAL SESSION_DECLINED ends the session: the payee sends nothing "
        "more and hangs up",
        expect=Expect(outcome=Outcome.HANG_UP),
    ),
    Case(
        name="unknown-currency",
        role=Role.PAYEE,
        action=Action.REQUEST,
        answer=AnswerKnob.FOREIGN_CURRENCY,
        checks="an answer naming a currency the offer did not contain is refused with a signed "
        "ABORT NEGOTIATION_ANSWER_MISMATCH",
        expect=Expect(outcome=Outcome.ABORT, code=ErrorCode.NEGOTIATION_ANSWER_MISMATCH),
    ),
    Case(
        name="cut-and-resume",
        role=Role.PAYEE,
        action=Action.REQUEST,
        fault=Fault.CUT,
        checks="the payment is cut mid-message at 20-byte chunks; the payee resumes with the "
        "same signed invoice bytes and receipts the identical payment",
        expect=Expect(outcome=Outcome.COMPLETED),
    ),
    Case(
        name="malformed-chunk",
        role=Role.PAYEE,
        action=Action.REQUEST,
        fault=Fault.MALFORMED_CHUNK,
        checks="a chunk of the payment message with a reserved header bit set "
        "(FRAME_BAD_HEADER) ends the session: the payee cannot write then, so it hangs up",
        expect=Expect(outcome=Outcome.HANG_UP),
    ),
    Case(
        name="forged-signature",
        role=Role.PAYEE,
        action=Action.REQUEST,
        payment=PaymentKnob.FORGED,
        checks="a payment whose signature does not verify is refused with a signed ABORT "
        "COSE_BAD_SIGNATURE naming the invoice",
        expect=Expect(outcome=Outcome.ABORT, code=ErrorCode.COSE_BAD_SIGNATURE),
    ),
    Case(
        name="stale-payment",
        role=Role.PAYEE,
        action=Action.REQUEST,
        payment=PaymentKnob.STALE,
        checks="a valid payment made for another invoice is refused with a signed ABORT "
        "ACCEPT_INVOICE_MISMATCH naming the invoice",
        expect=Expect(outcome=Outcome.ABORT, code=ErrorCode.ACCEPT_INVOICE_MISMATCH),
    ),
)


def cases_for(role: Role, names: tuple[str, ...] = ()) -> tuple[Case, ...]:
    """The cases for a DUT in ``role``, in order; only ``names`` if given (KeyError if one is
    not a case of that role)."""
    suite = tuple(c for c in CASES if c.role is role)
    if not names:
        return suite
    known = {c.name for c in suite}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(", ".join(unknown))
    return tuple(c for c in suite if c.name in names)
