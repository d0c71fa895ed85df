"""Payments between ledger-funded wallets, syncs, and the checks the ledger must pass.

- :func:`ledger_world`: a payer funded by the ledger (deposit, then an allowance it grants)
  and a payee that trusts the ledger's issuer key; both real homes, synced once.
- :func:`sync_both`: the payee, then the payer, upload their outbox.
- :func:`check_ledger`: backing (held = -claims and balances + reserves = deposits -
  withdrawals), the payee credited exactly the sum it was paid, the payer's reserve down by
  exactly that, and every paid invoice ``settled`` in both stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from p2ppay.store.settlement import Settlement, settlement_of
from p2ppay.sync import AdminClient, sync_outbox
from tests.ledger.world import LedgerAt, Party, fund, new_party, now_s, trust_ledger
from tests.reliability.harness import World
from tests.world import Homes

__all__ = ["DEPOSIT", "RESERVE", "Ledgered", "check_ledger", "ledger_world", "sync_both"]

DEPOSIT = 100_00
RESERVE = 50_00


@dataclass(frozen=True, kw_only=True)
class Ledgered:
    """A world whose payer's allowance comes from ``ledger``."""

    world: World
    payer: Party
    payee: Party
    ledger: LedgerAt


async def ledger_world(root: Path, ledger: LedgerAt) -> Ledgered:
    payer, payee = new_party(root, "payer"), new_party(root, "payee")
    await fund(ledger, payer, deposit=DEPOSIT, allowance=RESERVE)
    await trust_ledger(ledger, payee)
    homes = Homes(issuer=payer.home, payer=payer.home, payee=payee.home, issuer_key=b"")
    return Ledgered(world=World(homes=homes), payer=payer, payee=payee, ledger=ledger)


async def sync_both(w: Ledgered) -> None:
    for party in (w.payee, w.payer):
        async with party.client(w.ledger) as client:
            with party.open() as wallet:
                await sync_outbox(wallet.store, client, now=now_s)


async def check_ledger(w: Ledgered, paid: dict[bytes, int]) -> None:
    async with AdminClient(w.ledger.url, w.ledger.admin_token) as admin:
        eur = (await admin.totals()).currencies["EUR"]
    # Backing: every claim is someone's held credit; spendable money = deposits - withdrawals.
    assert eur.held == -eur.claims, eur
    assert eur.balances + eur.reserves == eur.deposits - eur.withdrawals, eur
    async with w.payee.client(w.ledger) as client:
        payee = {b.currency: b for b in (await client.statement()).balances}
    async with w.payer.client(w.ledger) as client:
        payer = {b.currency: b for b in (await client.statement()).balances}
    total = sum(paid.values())
    assert payee["EUR"].balance_minor == total, "the payee must be credited exactly once"
    assert payer["EUR"].reserve_minor == RESERVE - total
    assert payer["EUR"].balance_minor == DEPOSIT - RESERVE
    assert eur.claims == 0
    for party in (w.payer, w.payee):
        with party.open() as wallet:
            for invoice_id in paid:
                assert settlement_of(wallet.store, invoice_id) is Settlement.SETTLED
