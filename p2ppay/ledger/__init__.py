"""The ledger: settles offline payments when either party gets online (see p2ppay/LEDGER.md).

Modules: ``database`` (SQLite / PostgreSQL behind one async interface), ``schema``
(migrations), ``accounts`` (balances, reserves, claims, deposits), ``allowances`` (issue,
release), ``settlement`` (verify, settle once, fraud proofs), ``issuer_key`` (the key
file), ``auth`` (wallet request signatures), ``service`` (the operations), ``schemas`` +
``api`` (HTTP, FastAPI), ``server`` (uvicorn).

For an in-process ledger (the demo's sync step, tests)::

    async with running_ledger() as ledger:      # temp SQLite, free loopback port
        ...  # ledger.url, ledger.admin_token

The HTTP stack (FastAPI, uvicorn) is imported only when a server or app is built, so the
sync client never imports this package (it speaks through :mod:`p2ppay.api`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from p2ppay.ledger.server import RunningLedger, running_ledger, serve
    from p2ppay.ledger.service import LedgerConfig, LedgerService

__all__ = ["LedgerConfig", "LedgerService", "RunningLedger", "running_ledger", "serve"]

_WHERE = {
    "LedgerConfig": "p2ppay.ledger.service",
    "LedgerService": "p2ppay.ledger.service",
    "RunningLedger": "p2ppay.ledger.server",
    "running_ledger": "p2ppay.ledger.server",
    "serve": "p2ppay.ledger.server",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(module), name)
