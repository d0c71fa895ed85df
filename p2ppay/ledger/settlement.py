"""Settlement: verify bundles as their payee did, settle each payment exactly once, catch forks.

Per bundle, the answer is one of:
- ``settled``: this upload settled the payment: the payee's balance got the amount, paid from
  the allowance's reserve (what the reserve cannot cover becomes a claim on the payer);
- ``duplicate``: the payment was already settled (by either party, any earlier upload);
- ``rejected``: the bundle breaks a rule (its code says which) or its receipt is a refusal;
  nothing moved;
- ``fraud``: the payment forks its allowance's chain (another signed payment has the same
  counter). It is honoured like any other (the payee followed the offline rules), and the
  answer carries the :class:`~protocol.chain.FraudProof`; the payer's key is revoked.

Invariants:
- Exactly one settlement per payment hash, whoever uploads it, however often, in any order,
  from any number of ledger processes: each batch runs in one transaction that first locks
  the rows of every allowance it touches (in serial order), then reads what is settled, then
  writes; ``settlements.payment_hash`` is also UNIQUE.
- Money is conserved: a settlement of ``amount`` takes ``covered`` from the payer's reserve
  and ``claimed`` = ``amount - covered`` as a claim (negative) on the payer, and adds
  ``amount`` to the payee's balance.
- Bundles are verified (:func:`check_bundle`) before the transaction: CPU work holds no lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from p2ppay.errors import AppErrorCode
from p2ppay.ledger import accounts
from p2ppay.ledger.database import Tx
from protocol.bundle import verify_bundle
from protocol.chain import FraudProof
from protocol.documents import Payment, Verdict
from protocol.errors import ErrorCode, ProtocolError
from protocol.verify import MAX_CLOCK_SKEW, open_as

__all__ = ["Checked", "Outcome", "Status", "check_bundle", "settle"]


class Status(Enum):
    """The ledger's answer for one bundle."""

    SETTLED = "settled"
    """This upload settled the payment."""
    DUPLICATE = "duplicate"
    """The payment was settled before; nothing moved now."""
    REJECTED = "rejected"
    """The bundle breaks a rule or records a refusal; nothing moved."""
    FRAUD = "fraud"
    """The payment forks its allowance's chain; honoured, payer revoked, proof attached."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Checked:
    """A bundle that passed every rule its payee applied, with what settlement needs."""

    raw: bytes
    payment_raw: bytes
    payment_hash: bytes
    invoice_id: bytes
    payer: bytes
    payee: bytes
    serial: int
    counter: int
    amount: int
    currency: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """The answer for one bundle."""

    status: Status
    payment_hash: bytes | None = None
    invoice_id: bytes | None = None
    error: str | None = None
    code: int | None = None
    message: str | None = None
    proof: FraudProof | None = None


def _rejected(name: str, code: int, message: str, checked: Checked | None = None) -> Outcome:
    return Outcome(
        status=Status.REJECTED,
        payment_hash=None if checked is None else checked.payment_hash,
        invoice_id=None if checked is None else checked.invoice_id,
        error=name,
        code=code,
        message=message,
    )


def check_bundle(raw: bytes, *, issuer: bytes, now: int) -> Checked | Outcome:
    """Verify a bundle as its payee did, at the receipt's time, against our issuer key.

    Returns what settlement needs, or a ``rejected`` outcome with the rule's code.
    """
    try:
        bundle = verify_bundle(raw, trusted_issuers=(issuer,))
    except ProtocolError as exc:
        return _rejected(exc.code.name, int(exc.code), exc.message)
    payment, receipt = bundle.payment, bundle.receipt.doc
    allowance = payment.allowance
    assert allowance is not None
    checked = Checked(
        raw=raw,
        payment_raw=payment.raw,
        payment_hash=payment.hash,
        invoice_id=bundle.invoice.doc.id,
        payer=payment.doc.payer,
        payee=bundle.invoice.doc.payee,
        serial=allowance.doc.serial,
        counter=payment.doc.counter,
        amount=payment.doc.amount,
        currency=payment.doc.currency,
    )
    if receipt.verdict is not Verdict.ACCEPTED:
        refused = AppErrorCode.LEDGER_RECEIPT_REJECTED
        why = f"the payee refused it ({receipt.code})"
        return _rejected(refused.name, int(refused), why, checked)
    if receipt.time > now + MAX_CLOCK_SKEW:
        future = ErrorCode.DOC_NOT_YET_VALID
        return _rejected(future.name, int(future), "the receipt is dated in the future", checked)
    return checked


@dataclass
class _Chain:
    """An allowance's row, locked for this transaction, and what this batch changes."""

    id: int
    account_id: int
    currency: str
    reserve_left: int
    at_counter: dict[int, tuple[bytes, bytes]]
    """counter -> (payment hash, payment bytes) of the first payment settled there."""


def _in_list(start: int, count: int) -> str:
    return ", ".join(f"${i}" for i in range(start, start + count))


async def _lock_chains(tx: Tx, serials: list[int], counters: list[int]) -> dict[int, _Chain]:
    rows = await tx.fetch(
        "SELECT id, account_id, currency, reserve_left FROM allowances "
        f"WHERE id IN ({_in_list(1, len(serials))}) ORDER BY id" + tx.for_update,
        *serials,
    )
    chains = {
        int(r[0]): _Chain(id=r[0], account_id=r[1], currency=r[2], reserve_left=r[3], at_counter={})
        for r in rows
    }
    if chains:
        ids = sorted(chains)
        for allowance_id, counter, payment_hash, payment in await tx.fetch(
            "SELECT allowance_id, counter, payment_hash, payment FROM settlements "
            f"WHERE allowance_id IN ({_in_list(1, len(ids))}) "
            f"AND counter IN ({_in_list(len(ids) + 1, len(counters))}) ORDER BY seq",
            *ids,
            *counters,
        ):
            chains[int(allowance_id)].at_counter.setdefault(
                int(counter), (bytes(payment_hash), bytes(payment))
            )
    return chains


async def _settled_already(tx: Tx, hashes: list[bytes]) -> dict[bytes, bool]:
    """payment hash -> whether its settlement was a fraud, for those already settled."""
    if not hashes:
        return {}
    rows = await tx.fetch(
        f"SELECT payment_hash, fraud FROM settlements WHERE payment_hash IN "
        f"({_in_list(1, len(hashes))})",
        *hashes,
    )
    return {bytes(h): bool(f) for h, f in rows}


async def _proof_for(tx: Tx, payment_raw: bytes) -> FraudProof | None:
    row = await tx.fetchone(
        "SELECT first, second FROM fraud_proofs WHERE first = $1 OR second = $1 ORDER BY id",
        payment_raw,
    )
    return None if row is None else FraudProof(first=bytes(row[0]), second=bytes(row[1]))


def _fork_proof(first: bytes, second: bytes) -> FraudProof:
    return FraudProof.of(open_as(first, Payment), open_as(second, Payment))


async def settle(tx: Tx, items: list[Checked], *, now: int) -> list[Outcome]:
    """Settle verified bundles in order, inside ``tx``; one outcome per item, same order."""
    if not items:
        return []
    chains = await _lock_chains(
        tx, sorted({c.serial for c in items}), sorted({c.counter for c in items})
    )
    done = await _settled_already(tx, sorted({c.payment_hash for c in items}))
    payee_ids = await accounts.ensure_accounts(tx, {c.payee for c in items}, now=now)

    outcomes: list[Outcome] = []
    deltas: dict[tuple[int, str], tuple[int, int, int]] = {}
    settlement_rows: list[tuple[object, ...]] = []
    frauds: list[tuple[int, int, bytes, FraudProof]] = []
    touched: set[int] = set()
    found: dict[bytes, FraudProof] = {}

    def add(key: tuple[int, str], balance: int, reserve: int, claims: int) -> None:
        b, r, c = deltas.get(key, (0, 0, 0))
        deltas[key] = (b + balance, r + reserve, c + claims)

    for item in items:
        chain = chains.get(item.serial)
        if chain is None or chain.currency != item.currency:
            code = AppErrorCode.LEDGER_UNKNOWN_ALLOWANCE
            outcomes.append(_rejected(code.name, int(code), f"serial {item.serial}", item))
            continue
        if item.payment_hash in done:
            proof = None
            if done[item.payment_hash]:  # a repeat of a fraud is answered fraud, with its proof
                proof = found.get(item.payment_hash) or await _proof_for(tx, item.payment_raw)
            outcomes.append(
                Outcome(
                    status=Status.FRAUD if proof is not None else Status.DUPLICATE,
                    payment_hash=item.payment_hash,
                    invoice_id=item.invoice_id,
                    proof=proof,
                )
            )
            continue
        earlier = chain.at_counter.get(item.counter)
        proof = None
        if earlier is not None:
            proof = _fork_proof(earlier[1], item.payment_raw)
            frauds.append((chain.id, item.counter, item.payer, proof))
            found[item.payment_hash] = proof
        else:
            chain.at_counter[item.counter] = (item.payment_hash, item.payment_raw)
        covered = min(item.amount, chain.reserve_left)
        claimed = item.amount - covered
        chain.reserve_left -= covered
        touched.add(item.serial)
        add((chain.account_id, item.currency), 0, -covered, -claimed)
        add((payee_ids[item.payee], item.currency), item.amount, 0, 0)
        settlement_rows.append(
            (
                item.payment_hash,
                item.invoice_id,
                chain.id,
                item.counter,
                chain.account_id,
                payee_ids[item.payee],
                item.currency,
                item.amount,
                covered,
                claimed,
                int(proof is not None),
                item.payment_raw,
                item.raw,
                now,
            )
        )
        done[item.payment_hash] = proof is not None
        outcomes.append(
            Outcome(
                status=Status.FRAUD if proof is not None else Status.SETTLED,
                payment_hash=item.payment_hash,
                invoice_id=item.invoice_id,
                proof=proof,
            )
        )

    await tx.executemany(
        "INSERT INTO settlements (payment_hash, invoice_id, allowance_id, counter, "
        "payer_account, payee_account, currency, amount, covered, claimed, fraud, payment, "
        "bundle, settled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        settlement_rows,
    )
    await tx.executemany(
        "UPDATE allowances SET reserve_left = $1 WHERE id = $2",
        [(chains[serial].reserve_left, chains[serial].id) for serial in sorted(touched)],
    )
    await accounts.add_to_balances(tx, deltas)
    for allowance_id, counter, payer, proof in frauds:
        await _record_fraud(tx, allowance_id, counter, payer, proof, now=now)
    return outcomes


async def _record_fraud(
    tx: Tx, allowance_id: int, counter: int, payer: bytes, proof: FraudProof, *, now: int
) -> None:
    await tx.execute(
        "INSERT INTO fraud_proofs (allowance_id, counter, payer_key, first, second, found_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (first, second) DO NOTHING",
        allowance_id,
        counter,
        payer,
        proof.first,
        proof.second,
        now,
    )
    row = await tx.fetchone(
        "SELECT id FROM fraud_proofs WHERE first = $1 AND second = $2", proof.first, proof.second
    )
    assert row is not None
    await tx.execute(
        "INSERT INTO revocations (public_key, revoked_at, proof_id) VALUES ($1, $2, $3) "
        "ON CONFLICT (public_key) DO NOTHING",
        payer,
        now,
        row[0],
    )
