"""The p2ppay documents as frozen, strict pydantic models and their CBOR payload maps.

Five are exchanged offline; two (IssuerSet, RevocationList) the ledger publishes over HTTP.

Invariants:
- Each model maps to a CBOR map with small unsigned integer keys (its ``WIRE`` table);
  an optional field that is ``None`` is *absent* from the map, and ``null`` never appears
  in a payload, so each model has exactly one payload encoding.
- :func:`from_payload` is the only way bytes become a model: unknown keys, missing fields,
  wrong CBOR types and out-of-range values each raise their own ErrorCode.
- :func:`check_rules` holds every rule a document must satisfy on its own (money bounds,
  currency table, time windows, chain start, field lengths). It runs on documents we build
  (raising LocalProtocolError) and on documents we receive (RemoteProtocolError), so we
  never sign what we would reject.
- Times are integer Unix seconds; amounts integer minor units (see :mod:`protocol.money`).
"""

from __future__ import annotations

from enum import IntEnum, unique
from types import MappingProxyType
from typing import Annotated, ClassVar, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from protocol.cbor import Value
from protocol.cose import Kind
from protocol.errors import ErrorCode, ProtocolError, RemoteProtocolError
from protocol.keys import HASH_SIZE, KID_SIZE, PUBLIC_KEY_SIZE
from protocol.money import check_amount, check_currency

__all__ = [
    "ID_SIZE",
    "MAX_INTEGER",
    "MAX_ISSUERS",
    "MAX_LABEL_CHARS",
    "MAX_MEMO_BYTES",
    "MAX_REASON_BYTES",
    "NONCE_SIZE",
    "Abort",
    "Allowance",
    "Document",
    "MAX_LIST_ISSUERS",
    "MAX_REVOKED_KEYS",
    "Invoice",
    "IssuerSet",
    "Payment",
    "Receipt",
    "RevocationList",
    "Verdict",
    "check_label",
    "check_rules",
    "from_payload",
    "kind_of",
    "model_for",
    "to_payload",
]

ID_SIZE = 16
"""Bytes in an invoice id."""
NONCE_SIZE = 16
"""Bytes in an invoice nonce."""
MAX_MEMO_BYTES = 140
"""Longest invoice memo, in UTF-8 bytes."""
MAX_REASON_BYTES = 128
"""Longest abort reason, in UTF-8 bytes."""
MAX_ISSUERS = 16
"""Most issuer key ids an invoice may list."""
MAX_LABEL_CHARS = 32
"""Longest self-chosen label (invoice, payment), in Unicode code points."""
_LABEL_FORBIDDEN = frozenset(
    [
        *range(0x00, 0x20),
        *range(0x7F, 0xA0),
        0xAD,
        0x061C,
        0x180E,
        *range(0x200B, 0x2010),
        *range(0x2028, 0x202F),
        *range(0x2060, 0x2070),
        0xFEFF,
        *range(0xFFF9, 0xFFFC),
    ]
)
"""Code points a label may not hold: control characters (C0, DEL, C1), line and paragraph
separators, and the invisible ones that reorder or hide text (zero-width, bidirectional
embeddings and overrides, soft hyphen, interlinear annotation): a fixed list, so every
implementation refuses the same labels whatever its Unicode version."""

MAX_LIST_ISSUERS = 64
"""Most issuer keys a ledger's issuer set may hold."""
MAX_REVOKED_KEYS = 30_000
"""Most keys a revocation list may hold (34 bytes each: fits ``cbor.MAX_LIST_SIZE``)."""

MAX_INTEGER = 2**63 - 1
"""Largest time, counter or serial: every integer field fits a signed 64-bit database column
(SQLite INTEGER, PostgreSQL BIGINT), so no hostile value can fail a store (DOC_FIELD_VALUE)."""

PublicKey = Annotated[bytes, Field(min_length=PUBLIC_KEY_SIZE, max_length=PUBLIC_KEY_SIZE)]
Hash = Annotated[bytes, Field(min_length=HASH_SIZE, max_length=HASH_SIZE)]
Kid = Annotated[bytes, Field(min_length=KID_SIZE, max_length=KID_SIZE)]
Time = Annotated[int, Field(ge=0, le=MAX_INTEGER)]
Uint = Annotated[int, Field(ge=0, le=MAX_INTEGER)]


@unique
class Verdict(IntEnum):
    """The payee's decision on a payment, as carried in a receipt."""

    ACCEPTED = 1
    """The payee accepted the payment; the goods or service are due."""
    REJECTED = 2
    """The payee rejected the payment; the receipt's ``code`` says why."""


class _Doc(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    KIND: ClassVar[Kind]
    WIRE: ClassVar[tuple[tuple[int, str], ...]]
    """(CBOR key, field name) pairs, ascending by key."""
    SIGNER: ClassVar[str]
    """The field holding the public key that must sign this document."""

    @property
    def signer(self) -> bytes:
        """The raw public key that signs this document."""
        value = getattr(self, self.SIGNER)
        assert isinstance(value, bytes)
        return value


class Invoice(_Doc):
    """A payee's signed request: pay ``amount`` ``currency`` to ``payee`` before ``expires``."""

    KIND = Kind.INVOICE
    WIRE = (
        (1, "id"),
        (2, "payee"),
        (3, "amount"),
        (4, "currency"),
        (5, "memo"),
        (6, "created"),
        (7, "expires"),
        (8, "nonce"),
        (9, "issuers"),
        (10, "label"),
    )
    SIGNER = "payee"

    id: Annotated[bytes, Field(min_length=ID_SIZE, max_length=ID_SIZE)]
    payee: PublicKey
    amount: int
    currency: str
    memo: str
    created: Time
    expires: Time
    nonce: Annotated[bytes, Field(min_length=NONCE_SIZE, max_length=NONCE_SIZE)]
    issuers: tuple[Kid, ...] | None = None
    """Key ids of the issuers whose allowances the payee accepts; None = any it trusts."""
    label: str | None = None
    """The name the payee chose to show payers (self-asserted: a payer's contacts book
    names a key it knows better); absent when the payee chose none. See :func:`check_label`."""


class Allowance(_Doc):
    """An issuer's credential: ``wallet`` may spend up to ``limit`` offline in the window."""

    KIND = Kind.ALLOWANCE
    WIRE = (
        (1, "issuer"),
        (2, "wallet"),
        (3, "currency"),
        (4, "limit"),
        (5, "not_before"),
        (6, "not_after"),
        (7, "serial"),
    )
    SIGNER = "issuer"

    issuer: PublicKey
    wallet: PublicKey
    currency: str
    limit: int
    not_before: Time
    not_after: Time
    serial: Uint
    """Unique per issuer; (issuer, serial) names one payment chain."""


class Payment(_Doc):
    """A payer's signed payment of an invoice: link ``counter`` of its allowance's chain."""

    KIND = Kind.PAYMENT
    WIRE = (
        (1, "invoice"),
        (2, "payer"),
        (3, "amount"),
        (4, "currency"),
        (5, "counter"),
        (6, "prev"),
        (7, "spent"),
        (8, "allowance"),
        (9, "label"),
    )
    SIGNER = "payer"

    invoice: Hash
    """Hash of the invoice's COSE_Sign1 bytes."""
    payer: PublicKey
    amount: int
    currency: str
    counter: Annotated[int, Field(ge=1, le=MAX_INTEGER)]
    """1 for the first payment under the allowance, then +1 per payment."""
    prev: Hash | None = None
    """Hash of the payment at ``counter - 1``; absent exactly when counter is 1."""
    spent: int
    """Cumulative amount spent under the allowance, this payment included."""
    allowance: bytes
    """The allowance's exact COSE_Sign1 bytes."""
    label: str | None = None
    """The name the payer chose to show the payee it pays, sent only here: with the payment,
    once it decided to pay, never before (SESSIONS.md, "Identity hiding"). See
    :func:`check_label`."""


class Receipt(_Doc):
    """A payee's signed verdict on the payment whose hash it names."""

    KIND = Kind.RECEIPT
    WIRE = ((1, "payment"), (2, "payee"), (3, "verdict"), (4, "time"), (5, "code"))
    SIGNER = "payee"

    payment: Hash
    payee: PublicKey
    verdict: Verdict
    time: Time
    code: Annotated[int, Field(ge=100, le=999)] | None = None
    """The ErrorCode behind a rejection; absent when accepted."""


class Abort(_Doc):
    """A signed, typed reason why a session ended without a payment."""

    KIND = Kind.ABORT
    WIRE = ((1, "sender"), (2, "code"), (3, "reason"), (4, "time"), (5, "invoice"), (6, "payment"))
    SIGNER = "sender"

    sender: PublicKey
    code: Annotated[int, Field(ge=100, le=999)]
    """An ErrorCode value; a peer may send codes newer than ours, hence a plain int."""
    reason: str
    time: Time
    invoice: Hash | None = None
    """Hash of the session's invoice, once there is one: binds the abort to its session."""
    payment: Hash | None = None
    """Hash of the session's payment, once there is one (only together with ``invoice``)."""

    @property
    def error_code(self) -> ErrorCode | None:
        """The code as our ErrorCode, or None if this build does not know it."""
        try:
            return ErrorCode(self.code)
        except ValueError:
            return None


class IssuerSet(_Doc):
    """The ledger's signed set of allowance issuer keys a wallet trusts (SPEC section 4)."""

    KIND = Kind.ISSUER_SET
    WIRE = ((1, "ledger"), (2, "issued"), (3, "issuers"))
    SIGNER = "ledger"

    ledger: PublicKey
    issued: Time
    """When the ledger signed this set (its clock)."""
    issuers: tuple[PublicKey, ...]
    """The issuer keys, sorted ascending, unique, 1..MAX_LIST_ISSUERS."""


class RevocationList(_Doc):
    """The ledger's signed, append-only list of revoked wallet keys (SPEC section 4)."""

    KIND = Kind.REVOCATION_LIST
    WIRE = ((1, "ledger"), (2, "issued"), (3, "version"), (4, "keys"))
    SIGNER = "ledger"

    ledger: PublicKey
    issued: Time
    """When the ledger signed this list (its clock)."""
    version: Uint
    """Always the number of keys: a list with version N extends every list of version < N."""
    keys: tuple[PublicKey, ...]
    """Revoked wallet keys in the order they were revoked (only ever appended to)."""


Document: TypeAlias = Invoice | Payment | Receipt | Allowance | Abort | IssuerSet | RevocationList
"""Any p2ppay document model."""

_MODELS: MappingProxyType[Kind, type[Document]] = MappingProxyType(
    {m.KIND: m for m in (Invoice, Payment, Receipt, Allowance, Abort, IssuerSet, RevocationList)}
)
_ENUM_FIELDS: MappingProxyType[str, type[IntEnum]] = MappingProxyType({"verdict": Verdict})


def model_for(kind: Kind) -> type[Document]:
    """The model class of a document kind."""
    return _MODELS[kind]


def kind_of(doc: Document) -> Kind:
    """The kind of a document model."""
    return doc.KIND


def to_payload(doc: Document) -> dict[Value, Value]:
    """The payload map of ``doc`` (None fields absent, enums as plain integers)."""
    payload: dict[Value, Value] = {}
    for key, name in doc.WIRE:
        value = getattr(doc, name)
        if value is None:
            continue
        if isinstance(value, IntEnum):
            value = int(value)
        elif isinstance(value, tuple):
            value = list(value)
        payload[key] = value
    return payload


def from_payload(kind: Kind, payload: object) -> Document:
    """Build the model of ``kind`` from a decoded payload map, raising the precise code."""
    model = _MODELS[kind]
    if not isinstance(payload, dict):
        raise RemoteProtocolError(ErrorCode.DOC_NOT_A_MAP)
    names = dict(model.WIRE)
    fields: dict[str, object] = {}
    for key, raw in payload.items():
        if isinstance(key, bool) or not isinstance(key, int):
            raise RemoteProtocolError(ErrorCode.DOC_NOT_A_MAP, f"key {key!r} is not an integer")
        name = names.get(key)
        if name is None:
            raise RemoteProtocolError(ErrorCode.DOC_UNKNOWN_FIELD, f"key {key}")
        if raw is None:
            raise RemoteProtocolError(ErrorCode.DOC_FIELD_TYPE, f"{name} is null")
        enum = _ENUM_FIELDS.get(name)
        if enum is not None:
            fields[name] = _to_enum(enum, name, raw)
        else:
            fields[name] = tuple(raw) if isinstance(raw, list) else raw
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise _validation_error(exc) from None


def _to_enum(enum: type[IntEnum], name: str, value: object) -> IntEnum:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RemoteProtocolError(ErrorCode.DOC_FIELD_TYPE, f"{name} is not an integer")
    try:
        return enum(value)
    except ValueError:
        raise RemoteProtocolError(ErrorCode.DOC_FIELD_VALUE, f"{name}={value}") from None


def _validation_error(exc: ValidationError) -> RemoteProtocolError:
    """Map pydantic's first error to our code (missing / unknown / type / value)."""
    first = exc.errors()[0]
    kind = first["type"]
    where = ".".join(str(part) for part in first["loc"])
    if kind == "missing":
        return RemoteProtocolError(ErrorCode.DOC_MISSING_FIELD, where)
    if kind == "extra_forbidden":
        return RemoteProtocolError(ErrorCode.DOC_UNKNOWN_FIELD, where)
    if kind.endswith("_type") or kind in ("is_instance_of", "none_required", "enum"):
        return RemoteProtocolError(ErrorCode.DOC_FIELD_TYPE, where)
    return RemoteProtocolError(ErrorCode.DOC_FIELD_VALUE, f"{where}: {first['msg']}")


def check_rules(doc: Document, *, error: type[ProtocolError]) -> None:
    """Raise ``error`` with the precise code if ``doc`` breaks a rule it can break alone.

    Rules that need another document (a payment's allowance, the invoice) live in
    :mod:`protocol.verify` and :mod:`protocol.acceptance`.
    """
    if isinstance(doc, Invoice):
        check_currency(doc.currency, error=error)
        check_amount(doc.amount, error=error)
        _check_text(doc.memo, MAX_MEMO_BYTES, "memo", error)
        if doc.expires <= doc.created:
            raise error(ErrorCode.DOC_BAD_TIME_WINDOW, "expires <= created")
        if doc.issuers is not None and not (
            0 < len(doc.issuers) <= MAX_ISSUERS and len(set(doc.issuers)) == len(doc.issuers)
        ):
            raise error(ErrorCode.DOC_FIELD_VALUE, "issuers: 1..16 distinct key ids")
        if doc.label is not None:
            check_label(doc.label, error=error)
    elif isinstance(doc, Payment):
        check_currency(doc.currency, error=error)
        check_amount(doc.amount, error=error)
        check_amount(doc.spent, error=error)
        if doc.spent < doc.amount:
            raise error(ErrorCode.PAYMENT_CUMULATIVE_BELOW_AMOUNT)
        if (doc.counter == 1) != (doc.prev is None):
            raise error(ErrorCode.DOC_CHAIN_START, f"counter {doc.counter}")
        if doc.label is not None:
            check_label(doc.label, error=error)
    elif isinstance(doc, Allowance):
        check_currency(doc.currency, error=error)
        check_amount(doc.limit, error=error)
        if doc.not_after <= doc.not_before:
            raise error(ErrorCode.DOC_BAD_TIME_WINDOW, "not_after <= not_before")
    elif isinstance(doc, Receipt):
        if (doc.verdict is Verdict.REJECTED) != (doc.code is not None):
            raise error(ErrorCode.DOC_FIELD_VALUE, "code is present exactly when rejected")
    elif isinstance(doc, IssuerSet):
        if not 0 < len(doc.issuers) <= MAX_LIST_ISSUERS:
            raise error(ErrorCode.DOC_FIELD_VALUE, f"issuers: 1..{MAX_LIST_ISSUERS} keys")
        if any(a >= b for a, b in zip(doc.issuers, doc.issuers[1:], strict=False)):
            raise error(ErrorCode.TRUST_KEYS_NOT_CANONICAL, "issuers: sorted ascending, unique")
    elif isinstance(doc, RevocationList):
        if len(doc.keys) > MAX_REVOKED_KEYS:
            raise error(ErrorCode.DOC_FIELD_VALUE, f"keys: at most {MAX_REVOKED_KEYS}")
        if doc.version != len(doc.keys):
            raise error(
                ErrorCode.TRUST_VERSION_MISMATCH, f"version {doc.version}, {len(doc.keys)} keys"
            )
        if len(set(doc.keys)) != len(doc.keys):
            raise error(ErrorCode.TRUST_KEYS_NOT_CANONICAL, "keys: a key is listed twice")
    else:
        _check_text(doc.reason, MAX_REASON_BYTES, "reason", error)
        if doc.payment is not None and doc.invoice is None:
            raise error(ErrorCode.DOC_FIELD_VALUE, "an abort naming a payment names its invoice")


def check_label(label: str, *, error: type[ProtocolError]) -> None:
    """A self-chosen label: 1..MAX_LABEL_CHARS code points, none of them a control or
    invisible character (``_LABEL_FORBIDDEN``), no white space at either end; else
    ``DOC_FIELD_VALUE``. What a person reads is what was signed: nothing hidden, reordered
    or spilling onto another line."""
    if not 1 <= len(label) <= MAX_LABEL_CHARS:
        raise error(ErrorCode.DOC_FIELD_VALUE, f"label: 1 to {MAX_LABEL_CHARS} characters")
    if any(ord(c) in _LABEL_FORBIDDEN or 0xD800 <= ord(c) <= 0xDFFF for c in label):
        raise error(ErrorCode.DOC_FIELD_VALUE, "label: a control or invisible character")
    if label != label.strip():
        raise error(ErrorCode.DOC_FIELD_VALUE, "label: white space at an end")


def _check_text(text: str, limit: int, name: str, error: type[ProtocolError]) -> None:
    try:
        size = len(text.encode())
    except UnicodeEncodeError:  # a lone surrogate (from argv, say): no UTF-8 exists for it
        raise error(ErrorCode.DOC_FIELD_VALUE, f"{name} is not valid Unicode text") from None
    if size > limit:
        raise error(ErrorCode.DOC_FIELD_VALUE, f"{name} longer than {limit} bytes")
