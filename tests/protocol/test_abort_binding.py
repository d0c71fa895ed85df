"""An Abort names the session it ends (its invoice, and its payment once there is one).

The attack: a payee running modified software aborts a session whose payment it received,
with an Abort it signed for another invoice or payment (one from an earlier session), so the
payer records a refusal that proves nothing about this payment while the payee settles it.
The rule: the Abort's hashes must be this session's, or the session fails with
SESSION_DOCUMENT_MISMATCH; an honest Abort after a payment names both hashes, and the payer
gets its exact signed bytes to show the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

from protocol.documents import Abort, Invoice, Payment
from protocol.errors import ErrorCode
from protocol.risk import RiskLimits, RiskPolicy
from protocol.session import Failed, PayeeSession
from protocol.verify import open_as
from tests.protocol.session_kit import PayeeApp, PayerApp, make_invoice, run

TIGHT = RiskPolicy(
    limits=MappingProxyType({"EUR": RiskLimits(per_payment=1, per_payer_day=1, stale_list=1)})
)


def _failed(events: Sequence[object]) -> Failed:
    (failed,) = [e for e in events if isinstance(e, Failed)]
    return failed


def test_an_abort_after_the_payment_names_its_invoice_and_payment() -> None:
    payer_app, payee_app = PayerApp(), PayeeApp(risk=TIGHT)  # the payee refuses on its limits
    invoice = make_invoice()
    run(payer_app.session(), payee_app.session(invoice), payer_app, payee_app)
    failed = _failed(payer_app.events)
    assert failed.by_peer and failed.code == ErrorCode.RISK_OVER_PAYMENT_LIMIT
    assert failed.abort is not None
    abort = open_as(failed.abort, Abort).doc
    (payment,) = payer_app.payments.values()
    assert abort.invoice == open_as(invoice, Invoice).hash
    assert abort.payment == open_as(payment, Payment).hash


class _ReplayingPayee(PayeeSession):
    """A payee that signs its Abort with another session's hashes (its own real key)."""

    def _session_hashes(self) -> tuple[bytes | None, bytes | None]:
        _, payment = super()._session_hashes()
        other = open_as(make_invoice(number=99), Invoice).hash
        return other, payment


def test_an_abort_naming_another_invoice_is_refused_as_a_mismatch() -> None:
    payer_app, payee_app = PayerApp(), PayeeApp(risk=TIGHT)
    invoice = make_invoice()
    honest = payee_app.session(invoice)
    hostile = _ReplayingPayee(identity=payee_app.identity, invoice=invoice, policy=honest._policy)
    run(payer_app.session(), hostile, payer_app, payee_app)
    failed = _failed(payer_app.events)
    assert failed.code == ErrorCode.SESSION_DOCUMENT_MISMATCH
    assert not failed.by_peer and failed.abort is None  # nothing to keep as the payee's word
