"""The JSON bodies of the ledger API (pydantic models; the OpenAPI document is built from them).

Conventions: keys, hashes and invoice ids are lowercase hex; signed documents and bundles
are standard base64; amounts are integer minor units (``*_minor``) and, in statements, also
decimal text in the currency's exponent. Every refusal is an :class:`ErrorBody`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from protocol.bundle import MAX_BUNDLE_SIZE
from protocol.money import MAX_AMOUNT

__all__ = [
    "AbortResultOut",
    "AccountOut",
    "AllowanceOut",
    "AllowanceRequest",
    "BalanceOut",
    "EquivocationOut",
    "ErrorBody",
    "IssuedAllowanceOut",
    "MoneyRequest",
    "ProofOut",
    "ProofsOut",
    "PublishedProofOut",
    "ReleaseHeldRequest",
    "RevokeRequest",
    "ResultOut",
    "RevocationsOut",
    "TrustOut",
    "StatementOut",
    "SyncOut",
    "SyncRequest",
    "TotalsOut",
    "TotalsRow",
    "UpdateOut",
]

MAX_BATCH = 200
_B64_BUNDLE = (MAX_BUNDLE_SIZE + 2) // 3 * 4

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
Minor = Annotated[int, Field(ge=1, le=MAX_AMOUNT, description="integer minor units")]
Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorBody(BaseModel):
    """A refusal: the stable code name, its number, and a sentence for a person."""

    error: str
    code: int
    message: str


class AccountOut(BaseModel):
    """A wallet's account."""

    wallet: Hex32
    wallet_id: str
    created: bool


class BalanceOut(BaseModel):
    """One currency of an account (claims are a debt, zero or negative)."""

    currency: str
    balance: str
    reserve: str
    claims: str
    held: str = Field(description="credit for payments not backed yet; never spendable")
    balance_minor: int
    reserve_minor: int
    claims_minor: int
    held_minor: int


class AllowanceOut(BaseModel):
    """An allowance the ledger issued to this wallet."""

    serial: int
    currency: str
    limit_minor: int
    reserve_left_minor: int
    not_after: int
    released: bool


class StatementOut(BaseModel):
    """A wallet's balances and allowances."""

    wallet: Hex32
    wallet_id: str
    balances: list[BalanceOut]
    allowances: list[AllowanceOut]


class AllowanceRequest(_In):
    """Ask for an offline allowance: ``amount_minor`` moves from the balance to the reserve."""

    currency: Currency
    amount_minor: Minor
    valid_for: Annotated[int, Field(ge=60, le=10**9)] | None = None


class IssuedAllowanceOut(BaseModel):
    """A signed allowance (base64 COSE_Sign1) and its terms."""

    allowance: str
    serial: int
    issuer: Hex32
    currency: str
    amount_minor: int
    not_before: int
    not_after: int


class SyncRequest(_In):
    """Bundles to settle (base64) and payment hashes whose settlement the caller asks about."""

    bundles: Annotated[
        list[Annotated[str, Field(max_length=_B64_BUNDLE)]], Field(max_length=MAX_BATCH)
    ] = []
    query: Annotated[list[Hex32], Field(max_length=MAX_BATCH)] = []
    aborts: Annotated[
        list[Annotated[str, Field(max_length=4096)]], Field(max_length=MAX_BATCH)
    ] = []
    """Aborts (base64 COSE_Sign1) the caller received: kept, checked for equivocation."""


class ProofOut(BaseModel):
    """A fraud proof: two payments (base64 COSE_Sign1) with one allowance and counter."""

    first: str
    second: str


class EquivocationOut(BaseModel):
    """A payee's two receipts (base64 COSE_Sign1) for one payment: accepted and rejected."""

    accepted: str
    rejected: str


class PublishedProofOut(BaseModel):
    """A fraud proof as published: the payer it revokes, both payments, and its wire form."""

    payer: Hex32
    first: str
    second: str
    cbor: str = Field(description="base64 of the CBOR array [first, second] (SPEC section 8)")


class ProofsOut(BaseModel):
    """Every fraud proof behind the revocation list, and every receipt equivocation."""

    fraud: list[PublishedProofOut]
    equivocations: list[EquivocationOut]


class ResultOut(BaseModel):
    """The answer for one bundle, in request order."""

    index: int
    status: Literal["settled", "duplicate", "rejected", "fraud"]
    payment_hash: Hex32 | None = None
    invoice_id: str | None = None
    error: str | None = None
    code: int | None = None
    message: str | None = None
    proof: ProofOut | None = None
    equivocation: EquivocationOut | None = None


class UpdateOut(BaseModel):
    """A settlement the caller took part in."""

    payment_hash: Hex32
    invoice_id: str
    role: Literal["payer", "payee"]
    status: Literal["settled", "fraud"]
    amount_minor: int
    currency: str


class RevocationsOut(BaseModel):
    """Wallet keys revoked for double spending; ``version`` grows with each key."""

    version: int
    keys: list[Hex32]


class TrustOut(BaseModel):
    """The ledger's trust lists, signed by its ledger key (SPEC 4.1): base64 COSE_Sign1."""

    ledger_key: Hex32
    """The ledger key (hex): what ``register`` pins; wallets compare it with their pin."""
    issuer_set: str
    """An IssuerSet (base64 COSE_Sign1)."""
    revocation_list: str
    """A RevocationList (base64 COSE_Sign1)."""


class AbortResultOut(BaseModel):
    """The answer for one uploaded abort, in request order."""

    index: int
    status: Literal["kept", "rejected"]
    error: str | None = None
    code: int | None = None
    equivocation: EquivocationOut | None = None


class SyncOut(BaseModel):
    """The sync answer: per-bundle results, the caller's updates, issuer keys, revocations,
    and per-abort results."""

    results: list[ResultOut]
    updates: list[UpdateOut]
    issuers: list[Hex32]
    revocations: RevocationsOut
    aborts: list[AbortResultOut] = []
    trust: TrustOut | None = None
    """The signed lists. ``issuers`` and ``revocations`` above are the same content,
    unsigned, for reading; a wallet stores only what ``trust`` carries."""


class MoneyRequest(_In):
    """An admin deposit or withdrawal for a wallet (its id ``W-...`` or hex public key)."""

    wallet: Annotated[str, Field(min_length=1, max_length=100)]
    amount_minor: Minor
    currency: Currency


class ReleaseHeldRequest(_In):
    """An admin decision: pay a wallet's held credit out of the operator guarantee account."""

    wallet: Annotated[str, Field(min_length=1, max_length=100)]
    amount_minor: Minor
    currency: Currency
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class RevokeRequest(_In):
    """An admin revocation of a wallet (its id ``W-...`` or hex public key)."""

    wallet: Annotated[str, Field(min_length=1, max_length=100)]
    reason: Annotated[str, Field(min_length=1, max_length=500)] = "revoked by the operator"


class TotalsRow(BaseModel):
    """Sums over all accounts for one currency (minor units)."""

    balances: int
    reserves: int
    claims: int
    held: int
    deposits: int
    withdrawals: int


class TotalsOut(BaseModel):
    """Per-currency sums. Conservation: balances + reserves + claims + held = deposits -
    withdrawals; backing: held = -claims, so balances + reserves = deposits - withdrawals."""

    currencies: dict[str, TotalsRow]
