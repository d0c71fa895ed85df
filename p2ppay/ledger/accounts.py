"""Accounts and their money: balances, reserves, claims, deposits and withdrawals.

Invariants (the conservation rule of LEDGER.md):
- Money enters only by :func:`deposit` and leaves only by :func:`withdraw`; each writes a
  ``movements`` row with the amount. Every other change moves money between the three
  columns of ``balances`` (or between accounts) and sums to zero.
- A deposit first repays the account's claims (a debt left by a double spend), then adds
  the rest to the balance.
- Every function here runs inside the caller's transaction (``tx``) and changes rows in the
  global lock order (see :mod:`p2ppay.ledger.database`).
"""

from __future__ import annotations

from dataclasses import dataclass

from p2ppay.errors import AppErrorCode
from p2ppay.ledger.database import Tx
from p2ppay.ledger.errors import LedgerError
from p2ppay.wallet.identity import wallet_id_of

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
    "totals",
    "withdraw",
]


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


async def add_to_balances(tx: Tx, deltas: dict[tuple[int, str], tuple[int, int, int]]) -> None:
    """Add (balance, reserve, claims) deltas per (account id, currency), in lock order."""
    rows = [
        (account_id, currency, d_balance, d_reserve, d_claims)
        for (account_id, currency), (d_balance, d_reserve, d_claims) in sorted(deltas.items())
        if (d_balance, d_reserve, d_claims) != (0, 0, 0)
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
        "claims = claims + $5 WHERE account_id = $1 AND currency = $2",
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
        "SELECT balance, reserve, claims FROM balances WHERE account_id = $1 AND currency = $2"
        + tx.for_update,
        account_id,
        currency,
    )
    assert row is not None
    return Balance(currency=currency, balance=row[0], reserve=row[1], claims=row[2])


async def credit(tx: Tx, account_id: int, currency: str, amount: int) -> None:
    """Add money the account owns (deposit, released reserve): repay claims first."""
    current = await _locked_balance(tx, account_id, currency)
    repay = min(amount, -current.claims)
    await add_to_balances(tx, {(account_id, currency): (amount - repay, 0, repay)})


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
            f"balance {current.balance} < {amount} minor units of {currency}",
        )
    await add_to_balances(tx, {(account.id, currency): (-amount, 0, 0)})
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
            f"balance {current.balance} < {amount} minor units of {currency}",
        )
    await add_to_balances(tx, {(account.id, currency): (-amount, amount, 0)})


async def balances_of(tx: Tx, account_id: int) -> list[Balance]:
    """Every currency of an account."""
    rows = await tx.fetch(
        "SELECT currency, balance, reserve, claims FROM balances WHERE account_id = $1 "
        "ORDER BY currency",
        account_id,
    )
    return [Balance(currency=c, balance=b, reserve=r, claims=cl) for c, b, r, cl in rows]


async def totals(tx: Tx) -> dict[str, dict[str, int]]:
    """Per currency: sums of balances, reserves, claims, deposits and withdrawals."""
    result: dict[str, dict[str, int]] = {}

    def slot(currency: str) -> dict[str, int]:
        return result.setdefault(
            currency,
            {"balances": 0, "reserves": 0, "claims": 0, "deposits": 0, "withdrawals": 0},
        )

    for currency, b, r, c in await tx.fetch(
        "SELECT currency, SUM(balance), SUM(reserve), SUM(claims) FROM balances GROUP BY currency"
    ):
        entry = slot(currency)
        entry["balances"], entry["reserves"], entry["claims"] = int(b), int(r), int(c)
    for currency, kind, total in await tx.fetch(
        "SELECT currency, kind, SUM(amount) FROM movements GROUP BY currency, kind"
    ):
        slot(currency)["deposits" if kind == "deposit" else "withdrawals"] = int(total)
    return result
