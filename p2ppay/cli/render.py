"""Documents as plain JSON-able dicts, for ``--json`` output and for people.

Invariants: byte fields become lowercase hex; money appears both as decimal text
(``amount``) and as integer minor units (``amount_minor``), never as a float; an embedded
allowance is rendered as its own document. Nothing here verifies anything: callers pass
documents that :mod:`protocol` already checked.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from protocol import Allowance, Document, Invoice, Payment, Receipt, SignedDocument, format_amount
from protocol.documents import IssuerSet, RevocationList
from protocol.keys import key_id

__all__ = ["document_json", "summary_line"]

_MONEY_FIELDS = {"amount", "limit", "spent"}


def _value(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return [_value(v) for v in value]
    if isinstance(value, IntEnum):  # Verdict
        return value.name.lower()
    return value


def document_json(signed: SignedDocument[Document]) -> dict[str, Any]:
    """One document: kind, signer, key id, hash, and its fields."""
    doc = signed.doc
    fields: dict[str, Any] = {}
    currency = getattr(doc, "currency", None)
    for name in type(doc).model_fields:
        value = getattr(doc, name)
        if isinstance(doc, Payment) and name == "allowance":
            continue
        if name in _MONEY_FIELDS and isinstance(currency, str):
            fields[name] = format_amount(value, currency)
            fields[f"{name}_minor"] = value
        else:
            fields[name] = _value(value)
    result: dict[str, Any] = {
        "kind": signed.kind.name.lower(),
        "signer": signed.signer.hex(),
        "signer_kid": key_id(signed.signer).hex(),
        "hash": signed.hash.hex(),
        "fields": fields,
    }
    if signed.allowance is not None:
        result["allowance"] = document_json(signed.allowance)
    return result


def summary_line(signed: SignedDocument[Document]) -> str:
    """A one-line human description of a document."""
    doc = signed.doc
    if isinstance(doc, Invoice):
        amount = format_amount(doc.amount, doc.currency)
        return f"invoice {doc.id.hex()} {amount} {doc.currency} memo={doc.memo!r}"
    if isinstance(doc, Payment):
        amount = format_amount(doc.amount, doc.currency)
        return f"payment {amount} {doc.currency} counter={doc.counter} payer={doc.payer.hex()}"
    if isinstance(doc, Receipt):
        return f"receipt {doc.verdict.name.lower()} at {doc.time} for payment {doc.payment.hex()}"
    if isinstance(doc, Allowance):
        limit = format_amount(doc.limit, doc.currency)
        return f"allowance {limit} {doc.currency} serial={doc.serial} wallet={doc.wallet.hex()}"
    if isinstance(doc, IssuerSet):
        return f"issuer set of {len(doc.issuers)} keys issued {doc.issued}"
    if isinstance(doc, RevocationList):
        return f"revocation list version {doc.version} issued {doc.issued}"
    return f"abort code={doc.code} reason={doc.reason!r}"
