"""The over-the-air conformance runner: play the other side against a device under test.

``p2ppay conformance --role payer|payee --adapter A`` (:mod:`p2ppay.cli.conformance_cmd`)
runs the cases of :mod:`.cases` with a peer built on the real protocol code (:mod:`.peer`,
:mod:`.as_payee`, :mod:`.as_payer`), and reports each case's verdict (:mod:`.report`).
README's "Conformance runner" section is the user's guide.
"""

from __future__ import annotations

from p2ppay.conformance.cases import CASES, Action, Case, Expect, Outcome, Role, cases_for
from p2ppay.conformance.context import Context, DeviceNotFound, Observed, Operator, Radio
from p2ppay.conformance.report import CaseResult, Report
from p2ppay.conformance.runner import (
    DEVICE_NOT_FOUND,
    instruction,
    run_cases,
    throwaway_allowance,
)

__all__ = [
    "CASES",
    "DEVICE_NOT_FOUND",
    "Action",
    "Case",
    "CaseResult",
    "Context",
    "DeviceNotFound",
    "Expect",
    "Observed",
    "Operator",
    "Outcome",
    "Radio",
    "Report",
    "Role",
    "cases_for",
    "instruction",
    "run_cases",
    "throwaway_allowance",
]
