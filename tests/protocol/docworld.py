"""A deterministic little world for document tests: fixed keys, a clock, ready documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nacl.signing import SigningKey

from protocol import cbor
from protocol.builders import make_allowance, make_invoice, make_payment, make_receipt
from protocol.chain import ChainHead
from protocol.cose import Kind, sign1
from protocol.documents import Allowance, Document, Invoice, Payment, Receipt, Verdict
from protocol.keys import public_key, signing_key_from_seed
from protocol.verify import SignedDocument

NOW = 1_800_000_000
"""A fixed 'now' (2027-01-15) for every document test."""


def seed(label: str) -> bytes:
    """A fixed 32-byte seed named by ``label`` (readable in the vectors)."""
    return label.encode().ljust(32, b".")[:32]


@dataclass(frozen=True, kw_only=True)
class World:
    """Keys of an issuer, a payer and a payee, and helpers to make their documents."""

    issuer: SigningKey = field(default_factory=lambda: signing_key_from_seed(seed("issuer")))
    payer: SigningKey = field(default_factory=lambda: signing_key_from_seed(seed("payer")))
    payee: SigningKey = field(default_factory=lambda: signing_key_from_seed(seed("payee")))

    @property
    def trusted(self) -> frozenset[bytes]:
        return frozenset({public_key(self.issuer)})

    def allowance(self, *, limit: int = 100_00, serial: int = 7) -> SignedDocument[Allowance]:
        return make_allowance(
            self.issuer,
            wallet=public_key(self.payer),
            currency="EUR",
            limit=limit,
            not_before=NOW - 3600,
            not_after=NOW + 30 * 86400,
            serial=serial,
        )

    def invoice(self, *, amount: int = 12_50, n: int = 0) -> SignedDocument[Invoice]:
        return make_invoice(
            self.payee,
            amount=amount,
            currency="EUR",
            now=NOW,
            memo="coffee",
            invoice_id=bytes([n]) * 16,
            nonce=bytes([0xA0 + n]) * 16,
        )

    def payment(
        self,
        *,
        invoice: SignedDocument[Invoice] | None = None,
        allowance: SignedDocument[Allowance] | None = None,
        head: ChainHead | None = None,
    ) -> SignedDocument[Payment]:
        return make_payment(
            self.payer,
            invoice=invoice or self.invoice(),
            allowance=allowance or self.allowance(),
            head=head,
        )

    def receipt(self, payment: SignedDocument[Payment]) -> SignedDocument[Receipt]:
        return make_receipt(
            self.payee, payment_hash=payment.hash, verdict=Verdict.ACCEPTED, now=NOW
        )


def resign(key: SigningKey, kind: Kind, payload: dict[int, object]) -> bytes:
    """Sign an arbitrary payload map as ``kind``, bypassing every document rule."""
    return sign1(key, kind, cbor.encode(payload))  # type: ignore[arg-type]


def doc_json(doc: Document) -> dict[str, Any]:
    """A document's fields as JSON, in wire order: bytes as hex, a verdict by name."""
    out: dict[str, Any] = {}
    for _, name in doc.WIRE:
        value = getattr(doc, name)
        if isinstance(value, bytes):
            value = value.hex()
        elif isinstance(value, tuple):
            value = [v.hex() for v in value]
        elif isinstance(value, Verdict):
            value = value.name.lower()
        out[name] = value
    return out
