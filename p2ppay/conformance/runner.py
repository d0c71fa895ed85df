"""Run the conformance cases against a device under test and collect the report.

The runner plays the other side of every case over a real Link (see :mod:`.context` for
its keys and money, :mod:`.cases` for the cases). Cases run in order, one session each (two
for a cut case); the operator is told what to do on the DUT before each session.

Invariants:
- Nothing the DUT does raises out of a case: it becomes the case's observation. A link that
  breaks while the runner is still sending counts as the DUT hanging up.
- A DUT that never shows up stops the run with ``DEVICE_NOT_FOUND``; the cases after it are
  reported as not run (they do not pass).
"""

from __future__ import annotations

import time

from nacl.signing import SigningKey

from gatt.errors import GattError
from p2ppay.conformance.as_payee import run_payer_case
from p2ppay.conformance.as_payer import run_payee_case
from p2ppay.conformance.cases import Action, Case, Outcome, Role
from p2ppay.conformance.context import Context, DeviceNotFound, Observed
from p2ppay.conformance.report import CaseResult, Report
from p2ppay.errors import AppErrorCode
from protocol.builders import make_allowance
from protocol.documents import Allowance
from protocol.keys import public_key
from protocol.money import format_amount
from protocol.verify import SignedDocument

__all__ = ["DEVICE_NOT_FOUND", "instruction", "run_cases", "throwaway_allowance"]

DEVICE_NOT_FOUND = AppErrorCode.DEVICE_NOT_FOUND.name

ALLOWANCE_TTL = 24 * 3600
"""Seconds the runner's throwaway allowance is valid."""


def throwaway_allowance(
    issuer: SigningKey, identity: SigningKey, *, currency: str, amount: int, now: int, serial: int
) -> SignedDocument[Allowance]:
    """An allowance for the runner's throwaway key, enough for every case's payments."""
    return make_allowance(
        issuer,
        wallet=public_key(identity),
        currency=currency,
        limit=amount * 10,
        not_before=now - 60,
        not_after=now + ALLOWANCE_TTL,
        serial=serial,
    )


def instruction(role: Role, action: Action, *, amount: int, currency: str) -> str:
    """What the operator does on the DUT, in words (ours in parentheses)."""
    money = f"{format_amount(amount, currency)} {currency}"
    if role is Role.PAYER:
        return {
            Action.ADVERTISE: "keep the device advertising as a payer (ours: `p2ppay pay`); "
            "nothing to approve: it must refuse this invoice by itself",
            Action.APPROVE: f"keep the device advertising as a payer and APPROVE {money} "
            "when it asks",
            Action.DECLINE: "keep the device advertising as a payer and DECLINE the invoice "
            "when it asks (a wallet that cannot pay it declines by itself)",
            Action.RESUME: "the link was cut on purpose: keep the device advertising; it must "
            "re-send the same payment without asking",
        }.get(action, action.value)
    return {
        Action.REQUEST: f"start a payment request of {money} on the device "
        f"(ours: `p2ppay request {format_amount(amount, currency)} {currency}`)",
        Action.RESUME: "the link was cut on purpose: resume the same request on the device "
        "(ours: `p2ppay resume INVOICE_ID`; a device that retries by itself needs nothing)",
    }.get(action, action.value)


async def run_cases(ctx: Context, role: Role, cases: tuple[Case, ...], report: Report) -> Report:
    """Run ``cases`` in order against the DUT; fill and return ``report``."""
    script = run_payer_case if role is Role.PAYER else run_payee_case
    for index, case in enumerate(cases):
        started = time.monotonic()
        try:
            observed = await script(ctx, case)
        except DeviceNotFound as exc:
            report.error = DEVICE_NOT_FOUND
            report.results.append(
                CaseResult(case=case, observed=None, error=f"{DEVICE_NOT_FOUND}: {exc}")
            )
            report.results.extend(
                CaseResult(case=rest, observed=None) for rest in cases[index + 1 :]
            )
            break
        except GattError as exc:
            observed = Observed(
                outcome=Outcome.HANG_UP.value,
                detail=f"hang-up while the runner was sending ({type(exc).__name__})",
            )
        report.results.append(
            CaseResult(case=case, observed=observed, seconds=time.monotonic() - started)
        )
    return report
