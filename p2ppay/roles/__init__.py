"""The payer and payee roles: sessions driven over links, every step answered from the store."""

from __future__ import annotations

from p2ppay.roles.approval import (
    Approver,
    AutoApprovalLimits,
    AutoApprove,
    CappedAutoApprove,
    Decision,
    PromptApprove,
    decline_all,
)
from p2ppay.roles.outcome import SessionOutcome, code_name
from p2ppay.roles.payee import PayeeRole
from p2ppay.roles.payer import PayerRole
from p2ppay.roles.selection import PayerChoice, choose_payer

__all__ = [
    "Approver",
    "AutoApprovalLimits",
    "AutoApprove",
    "CappedAutoApprove",
    "Decision",
    "PayeeRole",
    "PayerChoice",
    "PayerRole",
    "PromptApprove",
    "SessionOutcome",
    "choose_payer",
    "code_name",
    "decline_all",
]
