"""How a payer says yes or no to an invoice: a policy, or a person at a prompt.

Invariants:
- A policy sees the verified invoice and the short authentication string, never raw bytes.
- Declining returns a reason; the session turns it into a typed Abort to the payee.
- Auto-approval compares integer minor units in the same currency only; an invoice in
  another currency than the limit is declined, never converted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from protocol import Invoice, format_amount

__all__ = ["Approver", "AutoApprove", "Decision", "PromptApprove", "decline_all"]


@dataclass(frozen=True, kw_only=True)
class Decision:
    """Pay, or decline with a reason."""

    approve: bool
    reason: str = ""


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
        return Decision(approve=True)


async def decline_all(invoice: Invoice, sas: str) -> Decision:
    """Decline everything (a payer with no approval policy and no terminal)."""
    return Decision(approve=False, reason="no approval policy")


@dataclass(frozen=True, kw_only=True)
class PromptApprove:
    """Ask a person on the terminal; ``ask`` is ``input`` unless a test passes another."""

    ask: Callable[[str], str] = input

    async def __call__(self, invoice: Invoice, sas: str) -> Decision:
        amount = format_amount(invoice.amount, invoice.currency)
        question = (
            f"Pay {amount} {invoice.currency} to {invoice.payee.hex()[:16]}... "
            f"memo {invoice.memo!r}? Check that the payee shows code {sas}. [y/N] "
        )
        answer = await anyio.to_thread.run_sync(self.ask, question)
        if answer.strip().lower() in {"y", "yes"}:
            return Decision(approve=True)
        return Decision(approve=False, reason="declined by the payer")
