"""Sign and verify p2ppay documents: bytes in, typed and checked documents out.

Invariants:
- :func:`open_document` returns a document only if its bytes are deterministic CBOR, its
  COSE_Sign1 structure and header are exactly ours, its payload is a valid model of the
  kind the header names, its ``kid`` is the key id of the signer key the payload names, the
  signature verifies under that key, and every rule the document can break on its own
  holds. A payment's embedded allowance passes the same checks, and the two agree (payer =
  wallet, same currency, cumulative within the limit). No clock is read.
- :func:`verify_signed` adds the checks that depend on time (validity windows, with
  :data:`MAX_CLOCK_SKEW` tolerance) and, given trusted issuer keys, the allowance issuer.
- :func:`sign` runs the very same rules (as LocalProtocolError) before signing, so we never
  emit a document a peer following this code would reject.
- Failures raise :class:`~protocol.errors.RemoteProtocolError` with the ErrorCode of the
  first rule broken, in the order above.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Generic, TypeVar

from nacl.signing import SigningKey

from protocol import cbor
from protocol.cose import LIST_KINDS, Kind, parse_sign1, sign1
from protocol.documents import (
    Abort,
    Allowance,
    Document,
    Invoice,
    IssuerSet,
    Payment,
    Receipt,
    RevocationList,
    check_rules,
    from_payload,
    to_payload,
)
from protocol.errors import ErrorCode, LocalProtocolError, ProtocolError, RemoteProtocolError
from protocol.keys import document_hash, key_id, public_key

__all__ = [
    "MAX_CLOCK_SKEW",
    "SignedDocument",
    "check_times",
    "open_as",
    "open_document",
    "sign",
    "verify_as",
    "verify_document",
    "verify_signed",
]

MAX_CLOCK_SKEW = 300
"""Seconds two offline clocks may disagree by; validity windows are widened by this."""

D_co = TypeVar("D_co", bound=Document, covariant=True)
D = TypeVar("D", bound=Document)


@dataclass(frozen=True, kw_only=True, slots=True)
class SignedDocument(Generic[D_co]):
    """A document together with the exact bytes that were signed and verified."""

    raw: bytes
    """The COSE_Sign1 bytes; store and forward these, never a re-encoding."""
    doc: D_co
    """The typed payload."""
    hash: bytes
    """SHA-256 of ``raw``: what invoices, payments and chains refer to."""
    allowance: SignedDocument[Allowance] | None = None
    """For a payment: its embedded allowance, verified. None for other kinds."""

    @property
    def kind(self) -> Kind:
        """The document kind."""
        return self.doc.KIND

    @property
    def signer(self) -> bytes:
        """The raw public key that signed it."""
        return self.doc.signer


def sign(
    signing_key: SigningKey,
    doc: D,
    *,
    allowance: SignedDocument[Allowance] | None = None,
) -> SignedDocument[D]:
    """Check ``doc`` by the receiving side's rules and sign it with ``signing_key``.

    ``signing_key`` must be the key the document names as its signer. For a payment, pass
    the already verified ``allowance`` whose bytes it embeds to skip verifying it again.
    Raises LocalProtocolError with the code a receiver would have raised.
    """
    if doc.signer != public_key(signing_key):
        raise LocalProtocolError(ErrorCode.COSE_KID_MISMATCH, "not the key the document names")
    payload = to_payload(doc)
    try:
        # The receiver's own parser: catches what a model_copy() or a subclass slipped past
        # pydantic, so what we sign is exactly what we would accept.
        from_payload(doc.KIND, payload)
    except RemoteProtocolError as exc:
        raise LocalProtocolError(exc.code, exc.message) from exc
    check_rules(doc, error=LocalProtocolError)
    embedded = None
    if isinstance(doc, Payment):
        if allowance is None or allowance.raw != doc.allowance:
            try:
                allowance = open_as(doc.allowance, Allowance)
            except RemoteProtocolError as exc:
                raise LocalProtocolError(exc.code, f"embedded allowance: {exc.message}") from exc
        _check_payment_allowance(doc, allowance.doc, error=LocalProtocolError)
        embedded = allowance
    raw = sign1(signing_key, doc.KIND, cbor.encode(payload))
    return SignedDocument(raw=raw, doc=doc, hash=document_hash(raw), allowance=embedded)


def open_document(data: bytes, *, kind: Kind | None = None) -> SignedDocument[Document]:
    """Decode and check a document, except for time and issuer trust (see module doc).

    ``kind`` requires that kind (COSE_WRONG_KIND otherwise). Use this where time does not
    apply, e.g. a ledger checking an old payment or a fraud proof.
    """
    # Only a caller asking for a ledger trust list gets its larger size bound (SPEC §1).
    max_size = cbor.MAX_LIST_SIZE if kind in LIST_KINDS else cbor.MAX_SIZE
    envelope = parse_sign1(data, max_size=max_size)
    if kind is not None and envelope.kind is not kind:
        raise RemoteProtocolError(
            ErrorCode.COSE_WRONG_KIND, f"{envelope.kind.name} where {kind.name} was required"
        )
    doc = from_payload(envelope.kind, cbor.decode(envelope.payload, max_size=max_size))
    if envelope.kid != key_id(doc.signer):
        raise RemoteProtocolError(ErrorCode.COSE_KID_MISMATCH)
    envelope.verify(doc.signer)
    check_rules(doc, error=RemoteProtocolError)
    embedded = None
    if isinstance(doc, Payment):
        embedded = open_as(doc.allowance, Allowance)
        _check_payment_allowance(doc, embedded.doc, error=RemoteProtocolError)
    return SignedDocument(raw=data, doc=doc, hash=document_hash(data), allowance=embedded)


def open_as(data: bytes, cls: type[D]) -> SignedDocument[D]:
    """:func:`open_document` requiring the kind of model class ``cls``, typed as such."""
    opened = open_document(data, kind=cls.KIND)
    assert isinstance(opened.doc, cls)
    return opened  # type: ignore[return-value]


def verify_signed(
    data: bytes,
    *,
    now: int,
    trusted_issuers: Collection[bytes] | None = None,
    kind: Kind | None = None,
    skew: int = MAX_CLOCK_SKEW,
) -> SignedDocument[Document]:
    """:func:`open_document`, then validity times at ``now`` and, if given, issuer trust.

    ``trusted_issuers`` is a collection of raw issuer public keys; an allowance (alone or in
    a payment) signed by any other key raises DOC_UNTRUSTED_ISSUER.
    """
    opened = open_document(data, kind=kind)
    check_times(opened.doc, now=now, skew=skew)
    allowance = opened.doc if isinstance(opened.doc, Allowance) else None
    if opened.allowance is not None:
        allowance = opened.allowance.doc
        check_times(allowance, now=now, skew=skew)
    if (
        allowance is not None
        and trusted_issuers is not None
        and allowance.issuer not in trusted_issuers
    ):
        raise RemoteProtocolError(ErrorCode.DOC_UNTRUSTED_ISSUER)
    return opened


def verify_as(
    data: bytes,
    cls: type[D],
    *,
    now: int,
    trusted_issuers: Collection[bytes] | None = None,
    skew: int = MAX_CLOCK_SKEW,
) -> SignedDocument[D]:
    """:func:`verify_signed` requiring the kind of model class ``cls``, typed as such."""
    opened = verify_signed(data, now=now, trusted_issuers=trusted_issuers, kind=cls.KIND, skew=skew)
    assert isinstance(opened.doc, cls)
    return opened  # type: ignore[return-value]


def verify_document(
    data: bytes, *, now: int, trusted_issuers: Collection[bytes] | None = None
) -> Document:
    """Decode, check and verify any document at time ``now`` (Unix seconds); return it.

    Raises :class:`~protocol.errors.ProtocolError` (RemoteProtocolError) with its code.
    """
    return verify_signed(data, now=now, trusted_issuers=trusted_issuers).doc


def check_times(doc: Document, *, now: int, skew: int = MAX_CLOCK_SKEW) -> None:
    """Raise DOC_NOT_YET_VALID / DOC_EXPIRED if ``doc``'s own times exclude ``now``.

    Windows are half-open, [start, end), widened by ``skew`` on both sides. A payment has
    no time of its own; its allowance's window is checked by :func:`verify_signed`.
    """
    if isinstance(doc, Invoice):
        start, end = doc.created, doc.expires
    elif isinstance(doc, Allowance):
        start, end = doc.not_before, doc.not_after
    elif isinstance(doc, Receipt | Abort):
        start, end = doc.time, None
    elif isinstance(doc, IssuerSet | RevocationList):
        start, end = doc.issued, None
    else:
        return
    if start > now + skew:
        raise RemoteProtocolError(ErrorCode.DOC_NOT_YET_VALID, f"starts at {start}, now {now}")
    if end is not None and end <= now - skew:
        raise RemoteProtocolError(ErrorCode.DOC_EXPIRED, f"ended at {end}, now {now}")


def _check_payment_allowance(
    payment: Payment, allowance: Allowance, *, error: type[ProtocolError]
) -> None:
    if payment.payer != allowance.wallet:
        raise error(ErrorCode.PAYMENT_PAYER_NOT_WALLET)
    if payment.currency != allowance.currency:
        raise error(ErrorCode.PAYMENT_CURRENCY_NOT_ALLOWANCE)
    if payment.spent > allowance.limit:
        raise error(
            ErrorCode.PAYMENT_OVER_LIMIT, f"spent {payment.spent} > limit {allowance.limit}"
        )
