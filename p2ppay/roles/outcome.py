"""How one payment session ended, as the CLI and scripts see it.

Invariants: ``status`` is read back from the store after the session ended (what is
durable), never from memory alone, so what the user is told matches what a restart shows.
Error codes are given by name: protocol codes (1xx-9xx) from :class:`protocol.ErrorCode`,
app codes (1000+) from :class:`p2ppay.errors.AppErrorCode`. A code the peer sent that this
build does not know (a newer peer, or a hostile one) is reported as ``SESSION_PEER_ABORTED``
with the peer's number in the reason, so ``error`` is always a name scripts can match; the
session log keeps the number itself.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from p2ppay.errors import AppError, AppErrorCode
from p2ppay.roles.driver import LinkLost, Outcome
from p2ppay.store import SessionStatus, Store
from protocol import ErrorCode, format_amount
from protocol.session import Completed, Failed

__all__ = ["SessionOutcome", "code_name", "end_session", "fail_on_store_error", "outcome_of"]


def code_name(code: int) -> str:
    """The stable name of a protocol or app error code (``UNKNOWN_<n>`` if neither knows it)."""
    for enum in (ErrorCode, AppErrorCode):
        try:
            return enum(code).name
        except ValueError:
            continue
    return f"UNKNOWN_{code}"


@dataclass(frozen=True, kw_only=True)
class SessionOutcome:
    """The result of one session, for people and scripts."""

    role: str
    status: str
    """``completed``, ``resumable`` (paid, receipt missing), ``refused`` (paid, and the payee
    refused it with a signed Abort: nothing to resume) or ``failed``."""
    session_id: str
    invoice_id: str | None
    amount: str | None
    currency: str | None
    memo: str | None
    error: str | None
    reason: str
    tag: str
    sas: str | None

    @property
    def completed(self) -> bool:
        """True when both sides hold the receipt."""
        return self.status == SessionStatus.COMPLETED.value

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {
            "status": self.status,
            "role": self.role,
            "session_id": self.session_id,
            "invoice_id": self.invoice_id,
            "amount": self.amount,
            "currency": self.currency,
            "memo": self.memo,
            "error": self.error,
            "reason": self.reason,
            "tag": self.tag,
            "sas": self.sas,
        }


def outcome_of(
    store: Store, session_id: str, outcome: Outcome, *, tag: str, sas: str | None
) -> SessionOutcome:
    """Read the ended session back from the store."""
    record = store.sessions.get(session_id)
    invoice = None
    if record.invoice_id is not None:
        invoice = store.payments.invoice(record.invoice_id)
    error: str | None = None
    reason = ""
    if isinstance(outcome, Failed):
        error, reason = _failure(outcome)
    elif isinstance(outcome, LinkLost) and record.state is not SessionStatus.COMPLETED:
        error, reason = AppErrorCode.LINK_LOST.name, outcome.reason
    elif isinstance(outcome, LinkLost):
        # The payee's receipt was on disk before the link went: the payment is complete.
        reason = f"link lost after completion: {outcome.reason}"
    else:
        assert isinstance(outcome, Completed)
    return SessionOutcome(
        role=record.role.value,
        status=record.state.value,
        session_id=session_id,
        invoice_id=None if record.invoice_id is None else record.invoice_id.hex(),
        amount=None if invoice is None else format_amount(invoice.amount_minor, invoice.currency),
        currency=None if invoice is None else invoice.currency,
        memo=None if invoice is None else invoice.memo,
        error=error,
        reason=reason,
        tag=tag,
        sas=sas,
    )


def _failure(outcome: Failed) -> tuple[str, str]:
    """(error name, reason) of a failed session; see the module docstring for unknown codes."""
    if not _known(outcome.code):
        return ErrorCode.SESSION_PEER_ABORTED.name, f"peer code {outcome.code}: {outcome.reason}"
    return code_name(outcome.code), outcome.reason


def _known(code: int) -> bool:
    return not code_name(code).startswith("UNKNOWN_")


def end_session(
    store: Store, session_id: str, outcome: Outcome, *, now: int, tag: str, sas: str | None
) -> SessionOutcome:
    """Log how a session ended (a lost link or a failure: ``sessions.fail`` decides, from
    what is on disk, between failed, resumable and completed) and read it back."""
    if isinstance(outcome, LinkLost):
        store.sessions.fail(
            session_id, now=now, error_code=AppErrorCode.LINK_LOST, detail=outcome.reason
        )
    elif isinstance(outcome, Failed):
        store.sessions.fail(session_id, now=now, error_code=outcome.code, detail=outcome.reason)
    return outcome_of(store, session_id, outcome, tag=tag, sas=sas)


def fail_on_store_error(store: Store, session_id: str, error: AppError, *, now: int) -> None:
    """Log a session the store stopped (disk full, locked...), if the store still takes it.

    Nothing was sent for the refused step, so the session's end follows what is on disk.
    """
    with contextlib.suppress(AppError):
        store.sessions.fail(session_id, now=now, error_code=error.code, detail=error.message)
