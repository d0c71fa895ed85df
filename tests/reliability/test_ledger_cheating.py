"""RELIABILITY.md rows for a participant running modified software against the ledger.

Each row runs the end-to-end attack of ``tests/ledger`` (real keys, a real ledger over HTTP
on loopback, SQLite here; the ledger suite also runs each on PostgreSQL) and inherits its
assertions: the refusal code, and that spendable money stays backed
(``balances + reserves = deposits - withdrawals``, ``held = -claims``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ledger import test_admission as admission
from tests.ledger import test_cheating as cheating
from tests.ledger import test_equivocation as equivocation
from tests.ledger import test_hostile_bundles as hostile

pytestmark = pytest.mark.anyio

BACKED = ("ledger_conservation",)


def _db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"


@pytest.mark.reliability(
    "attack",
    "cheating wallet signs 20 payments to itself at counters 1..20 (spent = amount = 50.00, "
    "invented prev)",
    expect="each rejected ACCEPT_SELF_PAYMENT; nothing moves",
    invariants=BACKED,
)
async def test_self_payments(tmp_path: Path) -> None:
    await cheating.test_twenty_self_payments_are_refused_offline_code_and_move_nothing(
        _db(tmp_path)
    )


@pytest.mark.reliability(
    "attack",
    "cheating wallet signs 20 payments of its whole 50.00 allowance to 20 sybil wallets "
    "(counters 1..20, invented prev)",
    expect="1 settled from the reserve, 19 fraud with proofs that verify alone, payer revoked; "
    "the rest held, never spendable (50.00 in, 50.00 spendable)",
    invariants=BACKED,
)
async def test_sybil_payments(tmp_path: Path) -> None:
    await cheating.test_twenty_payments_to_sybils_with_invented_prev_pay_out_only_the_reserve(
        _db(tmp_path)
    )


@pytest.mark.reliability(
    "attack",
    "an honest payment to a sybil uploaded after the allowance was released (and after the "
    "released money went into a new allowance)",
    expect="paid from the payer's balance, else held as a claim: never paid twice",
    invariants=BACKED,
)
async def test_payment_after_release(tmp_path: Path) -> None:
    await cheating.test_an_honest_payment_uploaded_after_release_is_not_paid_twice(
        _db(tmp_path / "a")
    )
    await cheating.test_a_late_payment_after_a_new_allowance_is_held_not_doubled(
        _db(tmp_path / "b")
    )


@pytest.mark.reliability(
    "attack",
    "two payments with overlapping reserve intervals (counter 1 to an honest payee, counter 2 "
    "with an invented prev to a sybil), uploaded in either order",
    expect="fraud with a proof, payer revoked; the honest payee credited once (balance or held)",
    invariants=BACKED,
)
@pytest.mark.parametrize("honest_first", [True, False])
async def test_overlapping_intervals(tmp_path: Path, honest_first: bool) -> None:
    await (
        cheating.test_overlapping_intervals_in_any_order_are_fraud_and_credit_the_honest_payee_once(
            _db(tmp_path), tmp_path, honest_first
        )
    )


@pytest.mark.reliability(
    "attack",
    "payments with counters 2^63 and 2^64-1 (signed with the payer's real key) in a batch",
    expect="each rejected DOC_FIELD_VALUE on its own; the rest of the batch settles; no 5xx",
    invariants=BACKED,
)
@pytest.mark.parametrize("counter", [2**63, 2**64 - 1])
async def test_hostile_counters(tmp_path: Path, counter: int) -> None:
    await hostile.test_a_counter_no_column_holds_is_refused_alone_and_the_batch_settles(
        _db(tmp_path), counter
    )


@pytest.mark.reliability(
    "attack",
    "payee signs a rejected receipt for the payer and uploads an accepted one",
    expect="settled, flagged with both receipts; the payer's rejected record becomes settled",
    invariants=BACKED,
)
async def test_receipt_equivocation(tmp_path: Path) -> None:
    await equivocation.test_a_payee_signing_both_verdicts_is_flagged_and_settled_wins(
        _db(tmp_path), tmp_path
    )


@pytest.mark.reliability(
    "attack",
    "200 bundles from an unregistered key; a replayed sync request; a bad bundle sent again",
    expect="LEDGER_UNKNOWN_ACCOUNT / LEDGER_REPLAY before any bundle signature is checked; "
    "a remembered refusal is not verified again",
)
async def test_free_verification(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from p2ppay.ledger import settlement, verifier
    from p2ppay.ledger.settlement import Checked, Outcome

    seen: list[bytes] = []
    real = settlement.check_bundle  # the function verifier calls by its own name

    def counting(raw: bytes, *, issuer: bytes, now: int) -> Checked | Outcome:
        seen.append(raw)
        return real(raw, issuer=issuer, now=now)

    monkeypatch.setattr(verifier, "check_bundle", counting)
    await admission.test_an_unregistered_caller_is_refused_before_any_bundle_is_verified(
        tmp_path / "a", seen
    )
    seen.clear()
    await admission.test_a_replayed_request_is_refused_before_any_bundle_is_verified(
        tmp_path / "b", seen
    )
    seen.clear()
    await admission.test_refusals_are_remembered_by_bundle_hash(tmp_path / "c", seen)
