"""Session settings: per-phase timeouts and the local link limits, as plain values."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.errors import ErrorCode, LocalProtocolError

__all__ = ["Timeouts"]


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    """How long each wait may last, in milliseconds."""

    offer_ms: int = 2_000
    """Payer: from the session's start (the central's START, ``PayerSession.start``) to
    the whole offer."""
    handshake_ms: int = 10_000
    """Payee: from sending its offer to the payer's answer."""
    invoice_ms: int = 2_000
    """Payer: from sending its answer to the whole invoice (an honest payee sends it at
    once; a central that stays silent here must not hold the payer)."""
    approval_ms: int = 120_000
    """Payer: from InvoiceReceived to approve()/decline()."""
    payment_ms: int = 150_000
    """Payee: from sending the invoice to the payment (covers the payer's approval)."""
    receipt_ms: int = 15_000
    """Payer: from sending the payment to the receipt."""
    reassembly_ms: int = 5_000
    """Either side: from the first to the last chunk of one message."""

    def __post_init__(self) -> None:
        values = (
            self.offer_ms,
            self.handshake_ms,
            self.invoice_ms,
            self.approval_ms,
            self.payment_ms,
            self.receipt_ms,
            self.reassembly_ms,
        )
        if min(values) <= 0:
            raise LocalProtocolError(ErrorCode.SESSION_API_MISUSE, "timeouts must be positive")
