"""The conformance report: one result per case, a readable table, one JSON object.

Invariants:
- A case passes only if the DUT ended the session with the expected outcome and code and the
  runner found no specification violation on the way; a case that did not run (the DUT was
  never found) does not pass.
- ``passed`` is true only if every case ran and passed (the CLI's exit 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from p2ppay.conformance.cases import Case, Role
from p2ppay.conformance.context import Observed
from p2ppay.errors import AppErrorCode

__all__ = ["CaseResult", "Report"]


@dataclass(frozen=True, kw_only=True)
class CaseResult:
    """One case's verdict."""

    case: Case
    observed: Observed | None
    """None: the case did not run."""
    error: str | None = None
    """Why it did not run (a typed error name), if it did not."""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        observed, expect = self.observed, self.case.expect
        if observed is None or observed.problems:
            return False
        code = None if expect.code is None else int(expect.code)
        return observed.outcome == expect.outcome.value and observed.code == code

    def got(self) -> str:
        if self.observed is None:
            return "not run" if self.error is None else f"not run ({self.error})"
        return self.observed.detail or self.observed.outcome

    def to_json(self) -> dict[str, Any]:
        observed = self.observed
        return {
            "case": self.case.name,
            "passed": self.passed,
            "checks": self.case.checks,
            "expected": {
                "outcome": self.case.expect.outcome.value,
                "code": None if self.case.expect.code is None else int(self.case.expect.code),
            },
            "observed": None
            if observed is None
            else {"outcome": observed.outcome, "code": observed.code, "detail": observed.detail},
            "problems": [] if observed is None else list(observed.problems),
            "error": self.error,
            "seconds": round(self.seconds, 2),
        }


@dataclass(kw_only=True)
class Report:
    """A whole run."""

    role: Role
    adapter: str
    amount: str
    currency: str
    issuer: str | None = None
    """Testing a payee: the issuer key (hex) the DUT had to trust."""
    results: list[CaseResult] = field(default_factory=list)
    error: str | None = None
    """A typed error that stopped the run (DEVICE_NOT_FOUND...)."""

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.results) and all(r.passed for r in self.results)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "role": self.role.value,
            "adapter": self.adapter,
            "amount": self.amount,
            "currency": self.currency,
            "passed": self.passed,
            "passed_cases": sum(r.passed for r in self.results),
            "total_cases": len(self.results),
            "cases": [r.to_json() for r in self.results],
        }
        if self.issuer is not None:
            body["issuer"] = self.issuer
        if not self.passed:
            code = AppErrorCode.DEVICE_NOT_FOUND if self.error else AppErrorCode.CONFORMANCE_FAILED
            body["error"] = code.name
            body["code"] = int(code)
        return body

    def lines(self) -> list[str]:
        """The readable table (plain text; one row per case) and a summary line."""
        rows = [("case", "result", "expected", "observed")]
        for r in self.results:
            rows.append(
                (r.case.name, "PASS" if r.passed else "FAIL", r.case.expect.describe(), r.got())
            )
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        out = [
            f"conformance of a {self.role.value} device on {self.adapter} "
            f"({self.amount} {self.currency})"
        ]
        for row in rows:
            out.append(
                "  ".join(
                    cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)
                ).rstrip()
            )
        for r in self.results:
            for problem in r.observed.problems if r.observed else ():
                out.append(f"  {r.case.name}: {problem}")
        passed = sum(r.passed for r in self.results)
        verdict = "all cases passed" if self.passed else "NOT conforming"
        stop = f" (stopped: {self.error})" if self.error else ""
        out.append(f"{passed}/{len(self.results)} passed: {verdict}{stop}")
        return out
