"""Whole ledger steps for one unlocked wallet, for the demo and scripts: fund, sync, state.

Each function opens its own :class:`LedgerClient` for the call and closes it; the demo's
sync step is, with ``ledger`` from :func:`p2ppay.ledger.running_ledger`::

    await fund_wallet(ledger.url, ledger.admin_token, payer, deposit=50_00, allowance=20_00,
                      currency="EUR", now=now)
    await sync_wallet(ledger.url, payee, now=now_fn)          # the payee learns the issuer
    ... pay over the radio ...
    await sync_wallet(ledger.url, payee, now=now_fn)          # settled
    await sync_wallet(ledger.url, payer, now=now_fn)          # duplicate -> settled
    await wallet_statement(ledger.url, payer)                 # balance, reserve, claims
"""

from __future__ import annotations

from collections.abc import Callable

from p2ppay.api import schemas
from p2ppay.store import AllowanceRecord
from p2ppay.sync.client import AdminClient, LedgerClient
from p2ppay.sync.outbox import SyncReport, sync_outbox
from p2ppay.sync.wallet_ops import register_wallet, request_allowance
from p2ppay.wallet import Wallet

__all__ = ["fund_wallet", "sync_wallet", "wallet_statement"]


async def fund_wallet(
    url: str,
    admin_token: str,
    wallet: Wallet,
    *,
    deposit: int,
    allowance: int,
    currency: str,
    now: int,
) -> AllowanceRecord | None:
    """Register ``wallet``, deposit ``deposit`` (admin) and, if ``allowance`` > 0, get and
    import an allowance of that many minor units (``None`` when no allowance was asked)."""
    async with LedgerClient(url, wallet.identity.signing_key) as client:
        await register_wallet(wallet, client, url, now=now)
        if deposit:
            async with AdminClient(url, admin_token) as admin:
                await admin.deposit(wallet.public.public_key.hex(), deposit, currency)
        if allowance <= 0:
            return None
        _, record = await request_allowance(
            wallet, client, amount_minor=allowance, currency=currency, now=now
        )
        return record


async def sync_wallet(
    url: str,
    wallet: Wallet,
    *,
    now: Callable[[], int],
    progress: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """One sync of the wallet's outbox (see :func:`p2ppay.sync.sync_outbox`)."""
    async with LedgerClient(url, wallet.identity.signing_key) as client:
        return await sync_outbox(wallet.store, client, now=now, progress=progress)


async def wallet_statement(url: str, wallet: Wallet) -> schemas.StatementOut:
    """The wallet's balances, reserve, claims and allowances at the ledger."""
    async with LedgerClient(url, wallet.identity.signing_key) as client:
        return await client.statement()
