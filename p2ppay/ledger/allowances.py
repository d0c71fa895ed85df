"""Offline allowances: issue them against a reserve, and release what expired unspent.

Invariants:
- Issuing moves exactly the allowance's limit from the balance to the reserve, in the same
  transaction that records the allowance; the allowance's serial is its row id, so serials
  are unique per issuer even with several ledger processes on one database.
- An allowance is signed by :func:`protocol.builders.make_allowance`, so it passes every
  rule a payee applies. A revoked wallet gets no new allowance.
- Once ``not_after + grace`` has passed, what the allowance did not pay (``reserve_left``)
  goes back to the owner's balance (repaying claims first), once. A bundle that arrives
  later is still honoured, as a claim on the payer (see :mod:`p2ppay.ledger.settlement`).
"""

from __future__ import annotations

from dataclasses import dataclass

from nacl.signing import SigningKey

from p2ppay.errors import AppErrorCode
from p2ppay.ledger import accounts
from p2ppay.ledger.database import Tx
from p2ppay.ledger.errors import LedgerError
from protocol.builders import make_allowance
from protocol.errors import ProtocolError
from protocol.money import check_amount, check_currency

__all__ = ["IssuedAllowance", "issue_allowance", "release_expired"]


@dataclass(frozen=True, kw_only=True)
class IssuedAllowance:
    """An allowance just issued."""

    serial: int
    signed: bytes
    currency: str
    limit: int
    not_before: int
    not_after: int


async def issue_allowance(
    tx: Tx,
    issuer: SigningKey,
    account: accounts.Account,
    *,
    currency: str,
    amount: int,
    now: int,
    valid_for: int,
) -> IssuedAllowance:
    """Reserve ``amount`` and sign an allowance for it (see module invariants)."""
    try:
        check_currency(currency, error=ProtocolError)
        check_amount(amount, error=ProtocolError)
    except ProtocolError as exc:
        raise LedgerError(AppErrorCode.LEDGER_BAD_REQUEST, exc.code.name) from exc
    revoked = await tx.fetchone(
        "SELECT 1 FROM revocations WHERE public_key = $1 "
        "UNION SELECT 1 FROM key_revocations WHERE public_key = $1",
        account.public_key,
    )
    if revoked is not None:
        raise LedgerError(AppErrorCode.LEDGER_WALLET_REVOKED, "this wallet key is revoked")
    await accounts.reserve(tx, account, currency, amount)
    not_after = now + valid_for
    row = await tx.fetchone(
        "INSERT INTO allowances (account_id, currency, limit_minor, reserve_left, not_before, "
        "not_after, released, signed, created_at) VALUES ($1, $2, $3, $3, $4, $5, 0, $6, $4) "
        "RETURNING id",
        account.id,
        currency,
        amount,
        now,
        not_after,
        b"",
    )
    assert row is not None
    serial = int(row[0])
    signed = make_allowance(
        issuer,
        wallet=account.public_key,
        currency=currency,
        limit=amount,
        not_before=now,
        not_after=not_after,
        serial=serial,
    ).raw
    await tx.execute("UPDATE allowances SET signed = $1 WHERE id = $2", signed, serial)
    return IssuedAllowance(
        serial=serial,
        signed=signed,
        currency=currency,
        limit=amount,
        not_before=now,
        not_after=not_after,
    )


async def release_expired(tx: Tx, *, now: int, grace: int, limit: int = 100) -> int:
    """Return the unspent reserve of allowances past ``not_after + grace``; how many."""
    # SKIP LOCKED: an allowance another transaction holds (settling on it, or releasing it)
    # is left for a later call, so releasing never waits and never joins a lock cycle.
    skip = " SKIP LOCKED" if tx.for_update else ""
    rows = await tx.fetch(
        "SELECT id, account_id, currency, reserve_left FROM allowances "
        "WHERE released = 0 AND not_after + $1 <= $2 ORDER BY id LIMIT $3" + tx.for_update + skip,
        grace,
        now,
        limit,
    )
    for allowance_id, account_id, currency, left in rows:
        await tx.execute(
            "UPDATE allowances SET released = 1, reserve_left = 0 WHERE id = $1", allowance_id
        )
        if left:
            await accounts.add_to_balances(tx, {(account_id, currency): (0, -left, 0, 0)})
            await accounts.credit(tx, account_id, currency, left)
    return len(rows)
