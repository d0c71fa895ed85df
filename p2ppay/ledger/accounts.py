"""Accounts and their money: balances, reserves, claims, held credit, deposits, withdrawals.

Invariants (the conservation and backing rules of LEDGER.md):
- Money enters only by :func:`deposit` and leaves only by :func:`withdraw`; each writes a
  ``movements`` row with the amount. Every other change moves money between the four
  columns of ``balances`` (or between accounts) and sums to zero.
- Every unit of ``claims`` (a payer's debt) is one unit of ``held`` credit of exactly one
  creditor, recorded in ``debts``: ``sum(held) == -sum(claims)``. Hence spendable money
  ``sum(balance) + sum(reserve)`` always equals deposits minus withdrawals: held credit is
  never spendable, withdrawable or usable for an allowance.
- Money the account receives as its own (a deposit, a released reserve, released held
  credit) first repays its claims (:func:`credit`); each repaid unit releases the oldest
  open debt's held credit into that creditor's money (which in turn repays its claims).
- The operator guarantee account (:data:`GUARANTEE_KEY`, funded by a real deposit) may take
  over a creditor's held credit and pay it out of its balance (:func:`release_held`); it
  then holds the debt itself, so the rules above still hold.
- Every function here runs inside the caller's transaction (``tx``) and changes rows in the
  global lock order (see :mod:`p2ppay.ledger.database`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from p2ppay.api.ids import wallet_id_of
from p2ppay.errors import AppErrorCode
from p2ppay.ledger.database import Tx
from p2ppay.ledger.errors import LedgerError
from protocol.money import format_amount

__all__ = [
    "Account",
    "Balance",
    "account_by_key",
    "add_to_balances",
    "deposit",
    "ensure_account",
    "find_account",
    "ensure_accounts",
    "balances_of",
    "GUARANTEE_KEY",
    "GUARANTEE_NAME",
    "release_held",
    "totals",
    "withdraw",
]

GUARANTEE_NAME = "guarantee"
"""How admin calls name the operator guarantee account (instead of a wallet id)."""
GUARANTEE_KEY = hashlib.sha256(b"p2ppay-ledger-operator-guarantee-v1").digest()
"""The guarantee account's key: a hash, so no one holds a signing key for it."""


@dataclass(frozen=True, kw_only=True)
class Account:
    """A wallet's account."""

    id: int
    public_key: bytes
    wallet_id: str


@dataclass(frozen=True, kw_only=True)
class Balance:
    """One currency of one account, in minor units."""

    currency: str
    balance: int
    reserve: int
    claims: int
    held: int = 0


async def ensure_account(tx: Tx, public_key: bytes, *, now: int) -> tuple[Account, bool]:
    """The account of ``public_key``, created if new; ``(account, created)``."""
    created = await tx.execute(
        "INSERT INTO accounts (public_key, wallet_id, created_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (public_key) DO NOTHING",
        public_key,
        wallet_id_of(public_key),
        now,
    )
    account = await account_by_key(tx, public_key)
    assert account is not None
    return account, created > 0


async def ensure_accounts(tx: Tx, keys: set[bytes], *, now: int) -> dict[bytes, int]:
    """Account ids for many keys, creating the missing accounts."""
    ordered = sorted(keys)
    await tx.executemany(
        "INSERT INTO accounts (public_key, wallet_id, created_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (public_key) DO NOTHING",
        [(key, wallet_id_of(key), now) for key in ordered],
    )
    ids: dict[bytes, int] = {}
    for key in ordered:
        row = await tx.fetchone("SELECT id FROM accounts WHERE public_key = $1", key)
        assert row is not None
        ids[key] = int(row[0])
    return ids


async def account_by_key(tx: Tx, public_key: bytes) -> Account | None:
    """The account of a wallet key, if it has one."""
    row = await tx.fetchone(
        "SELECT id, public_key, wallet_id FROM accounts WHERE public_key = $1", public_key
    )
    return None if row is None else Account(id=row[0], public_key=bytes(row[1]), wallet_id=row[2])


async def find_account(tx: Tx, wallet: str, *, now: int) -> Account:
    """The account named by a wallet id (``W-...``) or a hex public key.

    A hex key opens the account if it is new (funding may precede registration); a wallet id
    must already be registered (``LEDGER_UNKNOWN_ACCOUNT``): the key cannot be derived from it.
    """
    text = wallet.strip()
    if text.lower() == GUARANTEE_NAME:
        account, _ = await ensure_account(tx, GUARANTEE_KEY, now=now)
        return account
    if text.upper().startswith("W-"):
        row = await tx.fetchone(
            "SELECT id, public_key, wallet_id FROM accounts WHERE wallet_id = $1", text.upper()
        )
        if row is None:
            raise LedgerError(AppErrorCode.LEDGER_UNKNOWN_ACCOUNT, f"no account {text}")
        return Account(id=row[0], public_key=bytes(row[1]), wallet_id=row[2])
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise LedgerError(
            AppErrorCode.LEDGER_BAD_REQUEST, "wallet: a wallet id (W-...) or 64 hex digits"
        )
    account, _ = await ensure_account(tx, key, now=now)
    return account


Deltas = dict[tuple[int, str], tuple[int, int, int, int]]
"""(account id, currency) -> (balance, reserve, claims, held) changes."""


async def add_to_balances(tx: Tx, deltas: Deltas) -> None:
    """Add (balance, reserve, claims, held) deltas per (account id, currency), in lock order."""
    rows = [
        (account_id, currency, *delta)
        for (account_id, currency), delta in sorted(deltas.items())
        if delta != (0, 0, 0, 0)
    ]
    # Create missing rows first, then add: a CHECK applies to the row as inserted, so the
    # deltas cannot ride in the INSERT.
    await tx.executemany(
        "INSERT INTO balances (account_id, currency) VALUES ($1, $2) "
        "ON CONFLICT (account_id, currency) DO NOTHING",
        [row[:2] for row in rows],
    )
    await tx.executemany(
        "UPDATE balances SET balance = balance + $3, reserve = reserve + $4, "
        "claims = claims + $5, held = held + $6 WHERE account_id = $1 AND currency = $2",
        rows,
    )


async def _locked_balance(tx: Tx, account_id: int, currency: str) -> Balance:
    await tx.execute(
        "INSERT INTO balances (account_id, currency) VALUES ($1, $2) "
        "ON CONFLICT (account_id, currency) DO NOTHING",
        account_id,
        currency,
    )
    row = await tx.fetchone(
        "SELECT balance, reserve, claims, held FROM balances "
        "WHERE account_id = $1 AND currency = $2" + tx.for_update,
        account_id,
        currency,
    )
    assert row is not None
    return Balance(currency=currency, balance=row[0], reserve=row[1], claims=row[2], held=row[3])


async def credit(tx: Tx, account_id: int, currency: str, amount: int) -> None:
    """Add money the account owns (deposit, released reserve, released held credit).

    Claims are repaid first; each repaid unit releases the held credit of the oldest open
    debt, which is then credited to its creditor the same way (a work list, not recursion:
    every step shrinks the open debts, so it ends).
    """
    work = [(account_id, amount)]
    while work:
        who, money = work.pop(0)
        current = await _locked_balance(tx, who, currency)
        repay = min(money, -current.claims)
        await add_to_balances(tx, {(who, currency): (money - repay, 0, repay, 0)})
        for creditor, released in await _close_debts(tx, who, currency, repay):
            await add_to_balances(tx, {(creditor, currency): (0, 0, 0, -released)})
            work.append((creditor, released))


async def _close_debts(tx: Tx, debtor: int, currency: str, amount: int) -> list[tuple[int, int]]:
    """Mark ``amount`` of ``debtor``'s open debts repaid, oldest first; (creditor, amount)."""
    released: list[tuple[int, int]] = []
    left = amount
    while left > 0:
        rows = await tx.fetch(
            "SELECT id, creditor_account, open_amount FROM debts WHERE debtor_account = $1 "
            "AND currency = $2 AND open_amount > 0 ORDER BY id LIMIT 50" + tx.for_update,
            debtor,
            currency,
        )
        if not rows:
            break  # a claim from before schema 2 (no debts were recorded): repaid to no one
        for debt_id, creditor, open_amount in rows:
            take = min(left, int(open_amount))
            await tx.execute(
                "UPDATE debts SET open_amount = open_amount - $1 WHERE id = $2", take, debt_id
            )
            released.append((int(creditor), take))
            left -= take
            if left == 0:
                break
    return released


async def add_debt(
    tx: Tx,
    *,
    debtor: int,
    creditor: int,
    currency: str,
    amount: int,
    payment_hash: bytes,
    now: int,
) -> None:
    """Record that ``debtor`` owes ``creditor`` ``amount`` (the caller moves claims/held)."""
    await tx.execute(
        "INSERT INTO debts (debtor_account, creditor_account, currency, amount, open_amount, "
        "payment_hash, created_at) VALUES ($1, $2, $3, $4, $4, $5, $6)",
        debtor,
        creditor,
        currency,
        amount,
        payment_hash,
        now,
    )


async def release_held(
    tx: Tx, account: Account, currency: str, amount: int, *, reason: str, now: int
) -> None:
    """Pay ``amount`` of ``account``'s held credit out of the guarantee account's balance.

    The guarantee account takes over the debts (oldest first), so it is repaid when the
    payer repays. Refused if the account holds less (``LEDGER_BAD_REQUEST``) or the
    guarantee's balance is short (``LEDGER_INSUFFICIENT_FUNDS``). Logged in
    ``held_releases``.
    """
    guarantee, _ = await ensure_account(tx, GUARANTEE_KEY, now=now)
    if guarantee.id == account.id:
        raise LedgerError(AppErrorCode.LEDGER_BAD_REQUEST, "the guarantee account itself")
    first, second = sorted((guarantee.id, account.id))
    await _locked_balance(tx, first, currency)
    await _locked_balance(tx, second, currency)
    fund = await _locked_balance(tx, guarantee.id, currency)
    mine = await _locked_balance(tx, account.id, currency)
    if mine.held < amount:
        raise LedgerError(
            AppErrorCode.LEDGER_BAD_REQUEST, f"{account.wallet_id} holds {mine.held} < {amount}"
        )
    if fund.balance < amount:
        raise LedgerError(
            AppErrorCode.LEDGER_INSUFFICIENT_FUNDS,
            f"the guarantee account holds {_money(fund.balance, currency)}, "
            f"less than {_money(amount, currency)}",
        )
    left = amount
    rows = await tx.fetch(
        "SELECT id, debtor_account, open_amount, payment_hash FROM debts "
        "WHERE creditor_account = $1 AND currency = $2 AND open_amount > 0 ORDER BY id"
        + tx.for_update,
        account.id,
        currency,
    )
    for debt_id, debtor, open_amount, payment_hash in rows:
        if left == 0:
            break
        take = min(left, int(open_amount))
        await tx.execute(
            "UPDATE debts SET open_amount = open_amount - $1 WHERE id = $2", take, debt_id
        )
        await add_debt(
            tx,
            debtor=int(debtor),
            creditor=guarantee.id,
            currency=currency,
            amount=take,
            payment_hash=bytes(payment_hash),
            now=now,
        )
        left -= take
    assert left == 0, "held credit without open debts"
    await add_to_balances(
        tx,
        {
            (guarantee.id, currency): (-amount, 0, 0, amount),
            (account.id, currency): (0, 0, 0, -amount),
        },
    )
    await credit(tx, account.id, currency, amount)
    await tx.execute(
        "INSERT INTO held_releases (account_id, currency, amount, reason, at) "
        "VALUES ($1, $2, $3, $4, $5)",
        account.id,
        currency,
        amount,
        reason,
        now,
    )


async def deposit(tx: Tx, account: Account, currency: str, amount: int, *, now: int) -> None:
    """Money enters the ledger: claims are repaid first, the rest goes to the balance."""
    await credit(tx, account.id, currency, amount)
    await tx.execute(
        "INSERT INTO movements (account_id, currency, kind, amount, at) "
        "VALUES ($1, $2, 'deposit', $3, $4)",
        account.id,
        currency,
        amount,
        now,
    )


async def withdraw(tx: Tx, account: Account, currency: str, amount: int, *, now: int) -> None:
    """Money leaves the ledger from the balance (``LEDGER_INSUFFICIENT_FUNDS`` if short)."""
    current = await _locked_balance(tx, account.id, currency)
    if current.balance < amount:
        raise LedgerError(
            AppErrorCode.LEDGER_INSUFFICIENT_FUNDS,
            f"the balance is {_money(current.balance, currency)}, "
            f"less than {_money(amount, currency)}",
        )
    await add_to_balances(tx, {(account.id, currency): (-amount, 0, 0, 0)})
    await tx.execute(
        "INSERT INTO movements (account_id, currency, kind, amount, at) "
        "VALUES ($1, $2, 'withdrawal', $3, $4)",
        account.id,
        currency,
        amount,
        now,
    )


async def reserve(tx: Tx, account: Account, currency: str, amount: int) -> None:
    """Move ``amount`` from the balance to the offline reserve (or refuse if short)."""
    current = await _locked_balance(tx, account.id, currency)
    if current.balance < amount:
        raise LedgerError(
            AppErrorCode.LEDGER_INSUFFICIENT_FUNDS,
            f"the balance is {_money(current.balance, currency)}, "
            f"less than {_money(amount, currency)}",
        )
    await add_to_balances(tx, {(account.id, currency): (-amount, amount, 0, 0)})


async def balances_of(tx: Tx, account_id: int) -> list[Balance]:
    """Every currency of an account."""
    rows = await tx.fetch(
        "SELECT currency, balance, reserve, claims, held FROM balances WHERE account_id = $1 "
        "ORDER BY currency",
        account_id,
    )
    return [Balance(currency=c, balance=b, reserve=r, claims=cl, held=h) for c, b, r, cl, h in rows]


async def totals(tx: Tx) -> dict[str, dict[str, int]]:
    """Per currency: sums of balances, reserves, claims, held, deposits and withdrawals."""
    result: dict[str, dict[str, int]] = {}

    def slot(currency: str) -> dict[str, int]:
        return result.setdefault(
            currency,
            {
                "balances": 0,
                "reserves": 0,
                "claims": 0,
                "held": 0,
                "deposits": 0,
                "withdrawals": 0,
            },
        )

    for currency, b, r, c, h in await tx.fetch(
        "SELECT currency, SUM(balance), SUM(reserve), SUM(claims), SUM(held) FROM balances "
        "GROUP BY currency"
    ):
        entry = slot(currency)
        entry["balances"], entry["reserves"], entry["claims"] = int(b), int(r), int(c)
        entry["held"] = int(h)
    for currency, kind, total in await tx.fetch(
        "SELECT currency, kind, SUM(amount) FROM movements GROUP BY currency, kind"
    ):
        slot(currency)["deposits" if kind == "deposit" else "withdrawals"] = int(total)
    return result


def _money(minor: int, currency: str) -> str:
    """Money in a message a person reads: ``151.00 EUR``, never minor units."""
    return f"{format_amount(minor, currency)} {currency}"
