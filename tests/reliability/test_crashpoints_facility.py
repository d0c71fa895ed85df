"""The crash-point facility itself: off by default, exact names, fires only where named."""

from __future__ import annotations

import subprocess
import sys

import pytest

from p2ppay.roles.crashpoints import CRASH_AT_ENV, CRASH_EXIT_CODE, NEVER, CrashPlan, CrashPoint


def test_without_the_variable_no_point_fires() -> None:
    plan = CrashPlan.from_environment({})
    assert plan is NEVER
    for point in CrashPoint:
        plan.reach(point)  # returns


def test_a_misspelt_point_is_refused_when_the_plan_is_made() -> None:
    with pytest.raises(ValueError, match=r"payer\.before_persist_payment"):
        CrashPlan.from_environment({CRASH_AT_ENV: "payer.before_persist"})


def test_the_plan_fires_at_its_point_and_nowhere_else() -> None:
    hits: list[CrashPoint] = []
    plan = CrashPlan(at=CrashPoint.PAYEE_AFTER_SEND_RECEIPT, crash=hits.append)
    for point in CrashPoint:
        plan.reach(point)
    assert hits == [CrashPoint.PAYEE_AFTER_SEND_RECEIPT]


def test_every_point_is_named_by_its_role() -> None:
    assert {p.role for p in CrashPoint} == {"payer", "payee"}
    assert all(p.value.startswith(f"{p.role}.") for p in CrashPoint)


def test_the_product_plan_exits_the_process_with_its_code_skipping_cleanup() -> None:
    code = (
        "import atexit, sys; from p2ppay.roles.crashpoints import CrashPlan, CrashPoint; "
        "atexit.register(lambda: print('cleanup ran')); "
        "CrashPlan.from_environment().reach(CrashPoint.PAYER_AFTER_PERSIST_PAYMENT); "
        "print('survived')"
    )
    env = {CRASH_AT_ENV: CrashPoint.PAYER_AFTER_PERSIST_PAYMENT.value}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == CRASH_EXIT_CODE
    assert result.stdout == ""
