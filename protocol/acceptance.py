"""The payee's offline acceptance check: one pure function, time as an input.

:func:`check_payment` decides whether a payee may hand over goods for a payment while
offline. Its rules, in the order they are checked (each with its own ErrorCode):

1. the payment verifies (:func:`protocol.verify.verify_signed`): payer signature, the
   embedded allowance's issuer signature, allowance window at ``now`` ± ``skew``, payer =
   allowance wallet, cumulative spent within the allowance limit;
2. the allowance issuer is one of ``trusted_issuers`` (DOC_UNTRUSTED_ISSUER);
3. the invoice is this payee's (ACCEPT_PAYEE_MISMATCH) and not expired on the payee's own
   clock, with no skew (DOC_EXPIRED);
4. the payment names this invoice's hash, amount and currency (ACCEPT_INVOICE_MISMATCH,
   ACCEPT_AMOUNT_MISMATCH, ACCEPT_CURRENCY_MISMATCH);
5. the issuer is one the invoice accepts, if it lists any (ACCEPT_ISSUER_NOT_ACCEPTED);
6. the payer's wallet key is not revoked (ACCEPT_PAYER_REVOKED);
7. the payer's wallet key is not the payee's key (ACCEPT_SELF_PAYMENT): a wallet cannot pay
   itself, so self-dealing never reaches the ledger as an accepted payment;
8. against the last payment this payee saw on the same allowance chain, if any: the counter
   is higher (ACCEPT_COUNTER_NOT_INCREASING); at counter + 1 the ``prev`` hash is that
   payment's (ACCEPT_PREV_HASH_MISMATCH) and the total grew by exactly the amount, after a
   gap by at least the amount (ACCEPT_CUMULATIVE_MISMATCH).

Nothing here reads a clock, a store or the network; the caller passes what it knows.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from protocol.chain import ChainHead, chain_key, head_of
from protocol.cose import Kind
from protocol.documents import Allowance, Invoice, Payment
from protocol.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from protocol.keys import key_id
from protocol.verify import MAX_CLOCK_SKEW, SignedDocument, check_times, verify_signed

__all__ = ["AcceptedPayment", "check_payment"]


@dataclass(frozen=True, kw_only=True, slots=True)
class AcceptedPayment:
    """A payment that passed every offline rule."""

    payment: SignedDocument[Payment]
    allowance: SignedDocument[Allowance]
    head: ChainHead
    """The payer's chain head after this payment: store it as the new ``last_seen``."""


def check_payment(
    payment: bytes | SignedDocument[Payment],
    *,
    invoice: SignedDocument[Invoice],
    payee_key: bytes,
    trusted_issuers: Collection[bytes],
    revoked: Collection[bytes] = (),
    last_seen: ChainHead | None = None,
    now: int,
    skew: int = MAX_CLOCK_SKEW,
) -> AcceptedPayment:
    """Apply the offline acceptance rules (module docstring) and return the accepted payment.

    ``payment`` is the received bytes, or a payment already opened by
    :mod:`protocol.verify` (e.g. to look up ``last_seen`` by :func:`protocol.chain.chain_key`
    first); its signatures are then not checked again, but times and trust are.
    ``invoice`` is the payee's own signed invoice; ``revoked`` holds raw wallet keys;
    ``last_seen`` is the head of the payment's chain as this payee last saw it.
    Raises RemoteProtocolError with the code of the first rule broken.
    """
    opened = _verified(payment, trusted_issuers=trusted_issuers, now=now, skew=skew)
    allowance = opened.allowance
    assert allowance is not None
    doc, inv = opened.doc, invoice.doc
    if inv.payee != payee_key:
        raise RemoteProtocolError(ErrorCode.ACCEPT_PAYEE_MISMATCH)
    if now >= inv.expires:
        raise RemoteProtocolError(ErrorCode.DOC_EXPIRED, "the invoice expired")
    if doc.invoice != invoice.hash:
        raise RemoteProtocolError(ErrorCode.ACCEPT_INVOICE_MISMATCH)
    if doc.amount != inv.amount:
        raise RemoteProtocolError(ErrorCode.ACCEPT_AMOUNT_MISMATCH)
    if doc.currency != inv.currency:
        raise RemoteProtocolError(ErrorCode.ACCEPT_CURRENCY_MISMATCH)
    if inv.issuers is not None and key_id(allowance.doc.issuer) not in inv.issuers:
        raise RemoteProtocolError(ErrorCode.ACCEPT_ISSUER_NOT_ACCEPTED)
    if doc.payer in revoked:
        raise RemoteProtocolError(ErrorCode.ACCEPT_PAYER_REVOKED)
    if doc.payer == inv.payee:
        raise RemoteProtocolError(ErrorCode.ACCEPT_SELF_PAYMENT, "the payer is the payee")
    if last_seen is not None:
        _check_against_last_seen(opened, last_seen)
    return AcceptedPayment(payment=opened, allowance=allowance, head=head_of(opened))


def _verified(
    payment: bytes | SignedDocument[Payment],
    *,
    trusted_issuers: Collection[bytes],
    now: int,
    skew: int,
) -> SignedDocument[Payment]:
    if isinstance(payment, bytes):
        opened = verify_signed(
            payment, now=now, trusted_issuers=trusted_issuers, kind=Kind.PAYMENT, skew=skew
        )
        assert isinstance(opened.doc, Payment)
        return opened  # type: ignore[return-value]
    allowance = payment.allowance
    if allowance is None:
        raise LocalProtocolError(ErrorCode.COSE_WRONG_KIND, "pass a payment from protocol.verify")
    check_times(allowance.doc, now=now, skew=skew)
    if allowance.doc.issuer not in trusted_issuers:
        raise RemoteProtocolError(ErrorCode.DOC_UNTRUSTED_ISSUER)
    return payment


def _check_against_last_seen(payment: SignedDocument[Payment], last: ChainHead) -> None:
    if last.key != chain_key(payment):
        raise LocalProtocolError(ErrorCode.CHAIN_OTHER_ALLOWANCE, "last_seen of another chain")
    doc = payment.doc
    if doc.counter <= last.counter:
        raise RemoteProtocolError(
            ErrorCode.ACCEPT_COUNTER_NOT_INCREASING, f"{doc.counter} <= {last.counter}"
        )
    if doc.counter == last.counter + 1:
        if doc.prev != last.hash:
            raise RemoteProtocolError(ErrorCode.ACCEPT_PREV_HASH_MISMATCH)
        if doc.spent != last.spent + doc.amount:
            raise RemoteProtocolError(ErrorCode.ACCEPT_CUMULATIVE_MISMATCH)
    elif doc.spent < last.spent + doc.amount:
        raise RemoteProtocolError(ErrorCode.ACCEPT_CUMULATIVE_MISMATCH)
