"""How a payer says yes or no to an invoice: a policy, or a person at a prompt.

Invariants:
- A policy sees the verified invoice and the short authentication string, never raw bytes.
- Declining returns a reason; the session turns it into a typed refusal to the payee (the
  reason itself stays on this device).
- Auto-approval compares integer minor units in the same currency only; an invoice in
  another currency than the limit is declined, never converted.
- :class:`CappedAutoApprove` (what ``pay --auto-approve-up-to`` uses) approves at most
  ``count`` payments, each at most ``per_payment`` and together at most ``total``, to the
  listed payees only (any payee if none is listed), like a contactless card's offline
  limits. An approval counts as soon as it is given (a payment that then fails still used
  it: the limits are never exceeded, at worst under-used). Past a limit it hands the
  invoice to ``fallback`` (a person at the terminal) or declines. Every automatic approval
  is logged with the payee's key and the short authentication string.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from p2ppay.wallet.contacts import counterparty
from protocol import Invoice, format_amount

__all__ = [
    "Approver",
    "AutoApprovalLimits",
    "AutoApprove",
    "CappedAutoApprove",
    "Decision",
    "PromptApprove",
    "decline_all",
]


@dataclass(frozen=True, kw_only=True)
class Decision:
    """Pay, or decline with a reason."""

    approve: bool
    reason: str = ""
    automatic: bool = False
    """True if a policy approved without asking anyone."""


Approver = Callable[[Invoice, str], Awaitable[Decision]]
"""Decides on an invoice, given the short authentication string both screens show."""


@dataclass(frozen=True, kw_only=True)
class AutoApprove:
    """Approve invoices up to ``limit`` minor units of ``currency``; decline the rest."""

    limit: int
    currency: str

    async def __call__(self, invoice: Invoice, sas: str) -> Decision:
        if invoice.currency != self.currency:
            return Decision(approve=False, reason=f"auto-approval covers {self.currency} only")
        if invoice.amount > self.limit:
            limit = format_amount(self.limit, self.currency)
            return Decision(approve=False, reason=f"over the auto-approval limit of {limit}")
        return Decision(approve=True, automatic=True)


@dataclass(frozen=True, kw_only=True)
class AutoApprovalLimits:
    """What a payer approves without asking, in one run."""

    currency: str
    """The allowance's currency; invoices in another one are never auto-approved."""
    per_payment: int
    """Largest amount of one payment, in minor units."""
    total: int
    """Largest sum of all automatic payments, in minor units (at least ``per_payment``)."""
    count: int = 1
    """Most automatic payments."""
    payees: frozenset[bytes] = frozenset()
    """Raw payee keys that may be paid automatically; empty: any payee."""

    def __post_init__(self) -> None:
        if self.per_payment <= 0 or self.count <= 0 or self.total < self.per_payment:
            raise ValueError(
                "auto-approval limits: amounts and count must be positive, "
                "and the total at least one payment"
            )


@dataclass(kw_only=True)
class CappedAutoApprove:
    """Approve within :class:`AutoApprovalLimits`; past them ask ``fallback``, or decline."""

    limits: AutoApprovalLimits
    fallback: Approver | None = None
    """Who decides past the limits (a person at the terminal); None: decline."""
    log: Callable[[str], None] = lambda _: None
    """Where each automatic approval (payee, amount, SAS) and each refusal is written."""
    approved: int = 0
    """Automatic approvals given so far in this run."""
    spent: int = 0
    """Their sum, in minor units."""

    def _refusal(self, invoice: Invoice) -> str | None:
        limits = self.limits
        if invoice.currency != limits.currency:
            return f"auto-approval covers {limits.currency} only"
        if limits.payees and invoice.payee not in limits.payees:
            return "payee not among those auto-approval may pay"
        if invoice.amount > limits.per_payment:
            limit = format_amount(limits.per_payment, limits.currency)
            return f"over the auto-approval limit of {limit} per payment"
        if self.approved >= limits.count:
            return f"auto-approval already used {self.approved} of {limits.count} payment(s)"
        if self.spent + invoice.amount > limits.total:
            total = format_amount(limits.total, limits.currency)
            return f"over the auto-approval total of {total}"
        return None

    async def __call__(self, invoice: Invoice, sas: str) -> Decision:
        why = self._refusal(invoice)
        amount = format_amount(invoice.amount, invoice.currency)
        if why is None:
            self.approved += 1
            self.spent += invoice.amount
            named = "" if invoice.label is None else f' "{invoice.label}" (self-named)'
            self.log(
                f"auto-approved {amount} {invoice.currency} to payee {invoice.payee.hex()}"
                f"{named} (short authentication string {sas}; "
                f"{self.approved} of {self.limits.count} automatic payment(s))"
            )
            return Decision(approve=True, automatic=True)
        if self.fallback is not None:
            self.log(f"not auto-approved ({why}): asking")
            return await self.fallback(invoice, sas)
        self.log(f"not auto-approved ({why}): declined")
        return Decision(approve=False, reason=why)


async def decline_all(invoice: Invoice, sas: str) -> Decision:
    """Decline everything (a payer with no approval policy and no terminal)."""
    return Decision(approve=False, reason="no approval policy")


@dataclass(frozen=True, kw_only=True)
class PromptApprove:
    """Ask a person: ``ask(question)`` returns their answer; it must be cancellable (the
    payer's role withdraws the question when the payee or the link goes away, and Ctrl-C
    must not wait for Enter). ``name_of`` names the payee from the contacts book; without a
    name there, the label the payee signed in its invoice is shown marked ``(self-named)``."""

    ask: Callable[[str], Awaitable[str]]
    name_of: Callable[[bytes], str | None] = lambda _: None

    async def __call__(self, invoice: Invoice, sas: str) -> Decision:
        amount = format_amount(invoice.amount, invoice.currency)
        name = self.name_of(invoice.payee)
        payee = counterparty(invoice.payee, label=invoice.label, name=name)
        if name is None and invoice.label is None:
            payee = f"payee {payee}"
        question = (
            f"Pay {amount} {invoice.currency} to {payee}, memo {invoice.memo!r}? "
            f"Check that the payee shows code {sas}. [y/N] "
        )
        answer = await self.ask(question)
        if answer.strip().lower() in {"y", "yes"}:
            return Decision(approve=True)
        return Decision(approve=False, reason="declined by the payer")
