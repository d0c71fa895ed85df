"""The payee's offline risk limits (SPEC 7.1): per payment, per payer and day, stale list.

The invariant a payee cares about: offline, between two syncs, it never hands over more on
trust than its limits, and the payer hears which limit it met (an ABORT with the code) before
any receipt exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

import pytest

from protocol.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from protocol.risk import DAY, RiskLimits, RiskPolicy, check_risk, default_limits
from protocol.session import Failed
from tests.protocol.session_kit import NOW_S, PayeeApp, PayerApp, make_invoice, run

NOW = 1_760_000_000
EUR = RiskPolicy(
    limits=MappingProxyType(
        {"EUR": RiskLimits(per_payment=50_00, per_payer_day=80_00, stale_list=10_00)}
    ),
    max_list_age=3600,
)


def _code(
    *, amount: int, list_fetched_at: int | None = NOW - 60, received_from_payer: int = 0
) -> ErrorCode | None:
    try:
        check_risk(
            amount=amount,
            currency="EUR",
            policy=EUR,
            list_fetched_at=list_fetched_at,
            received_from_payer=received_from_payer,
            now=NOW,
        )
    except RemoteProtocolError as exc:
        return exc.code
    return None


def test_a_payment_within_every_limit_passes() -> None:
    assert _code(amount=50_00) is None


def test_one_payment_above_the_per_payment_limit_is_refused() -> None:
    assert _code(amount=50_01) is ErrorCode.RISK_OVER_PAYMENT_LIMIT


def test_a_stale_or_missing_list_lowers_the_limit() -> None:
    assert _code(amount=10_01, list_fetched_at=NOW - 3601) is ErrorCode.RISK_OVER_STALE_LIST_LIMIT
    assert _code(amount=10_01, list_fetched_at=None) is ErrorCode.RISK_OVER_STALE_LIST_LIMIT
    assert _code(amount=10_00, list_fetched_at=None) is None
    assert _code(amount=10_01, list_fetched_at=NOW - 3600) is None


def test_a_payer_over_its_daily_limit_is_refused() -> None:
    assert _code(amount=30_00, received_from_payer=50_00) is None
    assert _code(amount=30_01, received_from_payer=50_00) is ErrorCode.RISK_OVER_PAYER_DAY_LIMIT


def test_the_per_payment_limit_is_checked_first() -> None:
    code = _code(amount=90_00, list_fetched_at=None, received_from_payer=80_00)
    assert code is ErrorCode.RISK_OVER_PAYMENT_LIMIT


def test_defaults_scale_with_the_currency() -> None:
    assert default_limits("EUR") == RiskLimits(
        per_payment=150_00, per_payer_day=300_00, stale_list=30_00
    )
    assert default_limits("JPY").per_payment == 15_000
    assert default_limits("KWD").per_payment == 150_000
    assert RiskPolicy().for_currency("USD") == default_limits("USD")


@pytest.mark.parametrize("bad", [0, -1, 10**15 + 1, True])
def test_a_limit_out_of_range_is_refused_when_the_policy_is_built(bad: int) -> None:
    with pytest.raises(LocalProtocolError):
        RiskLimits(per_payment=bad, per_payer_day=1, stale_list=1)


def test_a_policy_for_an_unknown_currency_is_refused() -> None:
    limits = RiskLimits(per_payment=1, per_payer_day=1, stale_list=1)
    with pytest.raises(LocalProtocolError):
        RiskPolicy(limits=MappingProxyType({"XXX": limits}))


def _failed(events: Sequence[object]) -> Failed:
    ends = [e for e in events if isinstance(e, Failed)]
    assert len(ends) == 1, events
    return ends[0]


@pytest.mark.parametrize(
    ("amount", "fetched_at", "code"),
    [
        (50_01, NOW_S, ErrorCode.RISK_OVER_PAYMENT_LIMIT),
        (10_01, NOW_S - DAY, ErrorCode.RISK_OVER_STALE_LIST_LIMIT),
        (10_01, None, ErrorCode.RISK_OVER_STALE_LIST_LIMIT),
    ],
)
def test_the_session_refuses_before_any_receipt_and_the_payer_hears_the_code(
    amount: int, fetched_at: int | None, code: ErrorCode
) -> None:
    payer_app, payee_app = PayerApp(), PayeeApp(risk=EUR, list_fetched_at=fetched_at)
    payer, payee = payer_app.session(), payee_app.session(make_invoice(amount=amount))
    run(payer, payee, payer_app, payee_app)
    assert _failed(payee_app.events).code == code
    assert _failed(payer_app.events).code == code
    assert payee_app.payments == {} and payee_app.receipts == {}


def test_a_payer_that_reached_its_daily_limit_is_refused_on_the_next_invoice() -> None:
    payer_app, payee_app = PayerApp(), PayeeApp(risk=EUR)
    for number, amount in ((1, 45_00), (2, 35_00)):  # 80.00 in all: at the limit
        payer = payer_app.session()
        payee = payee_app.session(make_invoice(amount=amount, number=number))
        run(payer, payee, payer_app, payee_app)
    assert len(payee_app.receipts) == 2
    payer, payee = payer_app.session(), payee_app.session(make_invoice(amount=1, number=3))
    run(payer, payee, payer_app, payee_app)
    assert _failed(payee_app.events).code == ErrorCode.RISK_OVER_PAYER_DAY_LIMIT
    assert len(payee_app.receipts) == 2
