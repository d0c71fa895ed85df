"""The ledger's typed error, and the HTTP status each of its codes answers with.

Invariants:
- Every refusal the service sends is a ``LedgerError`` whose ``code`` is an
  :class:`~p2ppay.errors.AppErrorCode` (2xxx) or, for a document that breaks a ``protocol``
  rule, a ``protocol`` :class:`~protocol.errors.ErrorCode`; the HTTP answer body is always
  ``{"error": NAME, "code": N, "message": TEXT}``.
- Bad input is a 4xx, never a 500; 503 means the database failed and the caller may retry.
"""

from __future__ import annotations

from p2ppay.errors import AppError, AppErrorCode

__all__ = ["LedgerError", "http_status"]

_C = AppErrorCode
_STATUS: dict[AppErrorCode, int] = {
    _C.LEDGER_BAD_REQUEST: 400,
    _C.LEDGER_UNAUTHENTICATED: 401,
    _C.LEDGER_REPLAY: 401,
    _C.LEDGER_STALE_REQUEST: 401,
    _C.LEDGER_FORBIDDEN: 403,
    _C.LEDGER_UNKNOWN_ACCOUNT: 404,
    _C.LEDGER_NOT_FOUND: 404,
    _C.LEDGER_INSUFFICIENT_FUNDS: 409,
    _C.LEDGER_WALLET_REVOKED: 409,
    _C.LEDGER_BATCH_TOO_LARGE: 413,
    _C.LEDGER_RATE_LIMITED: 429,
    _C.LEDGER_STORAGE: 503,
}


class LedgerError(AppError):
    """A refusal or failure of the ledger service; ``code`` says which."""


def http_status(code: AppErrorCode) -> int:
    """The HTTP status of a ledger error code (400 for any code not listed)."""
    return _STATUS.get(code, 400)
