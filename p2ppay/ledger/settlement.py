"""Settlement: verify bundles as their payee did, settle each payment once, catch cheaters.

Per bundle, the answer is one of:
- ``settled``: this upload settled the payment: the payee got the amount, paid from
  the allowance's reserve, then the payer's balance, the rest as held credit (see below);
- ``duplicate``: the payment was already settled (by either party, any earlier upload);
- ``rejected``: the bundle breaks a rule (its code says which) or its receipt is a refusal;
  nothing moved;
- ``fraud``: the payment and a settled payment of its allowance are an inconsistent pair
  (:func:`protocol.chain.conflict`: same counter, overlapping reserve intervals, intervals out
  of counter order, or a wrong ``prev``/total at consecutive counters). It is honoured like
  any other (the payee followed the offline rules), and the answer carries the
  :class:`~protocol.chain.FraudProof`; the payer's key is revoked.

Invariants:
- Exactly one settlement per payment hash, whoever uploads it, however often, in any order,
  from any number of ledger processes: each batch runs in one transaction that first locks
  the rows of every allowance it touches (in serial order), then reads what is settled, then
  writes; ``settlements.payment_hash`` is also UNIQUE.
- Spendable money stays backed: a payment is paid from its allowance's reserve only for the
  part of its reserve interval ``(spent - amount, spent]`` that no settled payment of the
  allowance claimed (so the reserve never pays more than the limit, in any arrival order),
  then from the payer's balance; the rest ``claimed`` is a claim (negative) on the payer and
  **held** credit of the payee (never spendable), recorded as a debt.
- Bundles are verified (:func:`check_bundle`) before the transaction: CPU work holds no lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum

from p2ppay.errors import AppErrorCode
from p2ppay.ledger import accounts
from p2ppay.ledger.database import Tx
from p2ppay.ledger.trustlists import append_revocation
from protocol.bundle import decode_bundle, verify_bundle
from protocol.chain import FraudProof, Link, Links
from protocol.documents import Abort, Payment, Receipt, Verdict
from protocol.errors import ErrorCode, ProtocolError, RemoteProtocolError
from protocol.verify import MAX_CLOCK_SKEW, open_as, open_document

__all__ = [
    "Checked",
    "Equivocation",
    "FraudProof",
    "Outcome",
    "Status",
    "check_bundle",
    "record_verdicts",
    "settle",
]


class Status(Enum):
    """The ledger's answer for one bundle."""

    SETTLED = "settled"
    """This upload settled the payment."""
    DUPLICATE = "duplicate"
    """The payment was settled before; nothing moved now."""
    REJECTED = "rejected"
    """The bundle breaks a rule or records a refusal; nothing moved."""
    FRAUD = "fraud"
    """An inconsistent pair with a settled payment; honoured, payer revoked, proof attached."""


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
    spent: int
    prev: bytes | None
    receipt_raw: bytes = b""
    """The receipt's exact bytes (kept: every receipt the ledger is shown is recorded)."""
    verdict: int = int(Verdict.ACCEPTED)

    @property
    def link(self) -> Link:
        """The payment as a link of its chain."""
        return Link(
            counter=self.counter,
            prev=self.prev,
            spent=self.spent,
            amount=self.amount,
            hash=self.payment_hash,
        )


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
    seen: Checked | None = None
    """For a bundle refused for its receipt's verdict: what it showed (recorded)."""
    equivocation: Equivocation | None = None
    """The payee signed both verdicts for this payment: the two receipts."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Equivocation:
    """A payee's "accepted" receipt for a payment, and its refusal of the same payment: a
    "rejected" receipt, or an Abort it signed naming that payment."""

    accepted: bytes
    rejected: bytes

    def verify(self) -> bytes:
        """Check it on its own; return the payee's key (``FRAUD_PROOF_INVALID`` if not)."""
        try:
            yes = open_as(self.accepted, Receipt)
            no = open_document(self.rejected)
        except ProtocolError as exc:
            raise RemoteProtocolError(ErrorCode.FRAUD_PROOF_INVALID, str(exc)) from exc
        if isinstance(no.doc, Receipt):
            refuses = no.doc.verdict is Verdict.REJECTED and no.doc.payment == yes.doc.payment
        elif isinstance(no.doc, Abort):
            refuses = no.doc.payment == yes.doc.payment
        else:
            refuses = False
        if not (yes.doc.verdict is Verdict.ACCEPTED and refuses and no.signer == yes.doc.payee):
            raise RemoteProtocolError(ErrorCode.FRAUD_PROOF_INVALID, "not one payee's two verdicts")
        return yes.doc.payee


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
        spent=payment.doc.spent,
        prev=payment.doc.prev,
        receipt_raw=bundle.receipt.raw,
        verdict=int(receipt.verdict),
    )
    if receipt.verdict is not Verdict.ACCEPTED:
        refused = AppErrorCode.LEDGER_RECEIPT_REJECTED
        why = f"the payee refused it ({receipt.code})"
        outcome = _rejected(refused.name, int(refused), why, checked)
        return replace(outcome, seen=checked)
    if receipt.time > now + MAX_CLOCK_SKEW:
        future = ErrorCode.DOC_NOT_YET_VALID
        return _rejected(future.name, int(future), "the receipt is dated in the future", checked)
    return checked


@dataclass
class _Chain:
    """An allowance's row, locked for this transaction, and its settled links."""

    id: int
    account_id: int
    currency: str
    reserve_left: int
    links: Links


def _in_list(start: int, count: int) -> str:
    return ", ".join(f"${i}" for i in range(start, start + count))


_LINK_COLUMNS = "counter, spent, amount, payment_hash, prev, seq"


async def _load_links(tx: Tx, chain: _Chain, items: list[Checked]) -> None:
    """The settled links of ``chain`` the batch's ``items`` can conflict with or overlap.

    Those are: every link at a counter within the batch's counter range widened by one, the
    nearest link below and above that range, and every link whose interval meets the batch's
    span of intervals. If the settled links are consistent, a conflict of an item with any
    settled link shows with one of these (:class:`~protocol.chain.Links`); the overlap part
    gives exactly what :meth:`~protocol.chain.Links.fresh` needs. Loading only these keeps a
    long chain's batch cheap. ``spent = 0`` marks a row settled before schema 2 recorded
    totals: it claims no interval.
    """
    low_c = min(c.counter for c in items) - 1
    high_c = max(c.counter for c in items) + 1
    low_s = min(c.spent - c.amount for c in items)
    high_s = max(c.spent for c in items)
    rows = await tx.fetch(
        f"SELECT {_LINK_COLUMNS} FROM settlements WHERE allowance_id = $1 AND spent > 0 "
        "AND counter BETWEEN $2 AND $3 "
        f"UNION SELECT * FROM (SELECT {_LINK_COLUMNS} FROM settlements WHERE allowance_id = $1 "
        "AND spent > 0 AND counter < $2 ORDER BY counter DESC LIMIT 1) AS below "
        f"UNION SELECT * FROM (SELECT {_LINK_COLUMNS} FROM settlements WHERE allowance_id = $1 "
        "AND spent > 0 AND counter > $3 ORDER BY counter LIMIT 1) AS above "
        f"UNION SELECT {_LINK_COLUMNS} FROM settlements WHERE allowance_id = $1 AND spent > $4 "
        "AND spent - amount < $5 "
        "ORDER BY seq",
        chain.id,
        low_c,
        high_c,
        low_s,
        high_s,
    )
    for counter, spent, amount, payment_hash, prev, _ in rows:
        chain.links.add(
            Link(
                counter=int(counter),
                prev=None if prev is None else bytes(prev),
                spent=int(spent),
                amount=int(amount),
                hash=bytes(payment_hash),
            )
        )


async def _lock_chains(tx: Tx, serials: list[int], items: list[Checked]) -> dict[int, _Chain]:
    rows = await tx.fetch(
        "SELECT id, account_id, currency, reserve_left FROM allowances "
        f"WHERE id IN ({_in_list(1, len(serials))}) ORDER BY id" + tx.for_update,
        *serials,
    )
    chains = {
        int(r[0]): _Chain(id=r[0], account_id=r[1], currency=r[2], reserve_left=r[3], links=Links())
        for r in rows
    }
    for chain in chains.values():
        mine = [c for c in items if c.serial == chain.id]
        await _load_links(tx, chain, mine)
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


async def _payment_bytes(tx: Tx, payment_hash: bytes, batch: dict[bytes, bytes]) -> bytes:
    if payment_hash in batch:
        return batch[payment_hash]
    row = await tx.fetchone("SELECT payment FROM settlements WHERE payment_hash = $1", payment_hash)
    assert row is not None, "a settled link has its payment"
    return bytes(row[0])


async def _lock_balances(tx: Tx, keys: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """Lock the balance rows a batch may change, in the global order; their balances."""
    ordered = sorted(keys)
    await tx.executemany(
        "INSERT INTO balances (account_id, currency) VALUES ($1, $2) "
        "ON CONFLICT (account_id, currency) DO NOTHING",
        ordered,
    )
    balances: dict[tuple[int, str], int] = {}
    for account_id, currency in ordered:
        row = await tx.fetchone(
            "SELECT balance FROM balances WHERE account_id = $1 AND currency = $2" + tx.for_update,
            account_id,
            currency,
        )
        assert row is not None
        balances[(account_id, currency)] = int(row[0])
    return balances


@dataclass
class _Writes:
    """What a batch changes, gathered in memory and written at the end of :func:`settle`."""

    now: int
    balances: dict[tuple[int, str], int]
    """Balances of the locked rows, as the batch changes them."""
    deltas: accounts.Deltas = field(default_factory=dict)
    settlements: list[tuple[object, ...]] = field(default_factory=list)
    debts: list[tuple[int, int, str, int, bytes]] = field(default_factory=list)
    frauds: list[tuple[int, int, bytes, FraudProof]] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)

    def add(self, key: tuple[int, str], delta: tuple[int, int, int, int]) -> None:
        old = self.deltas.get(key, (0, 0, 0, 0))
        self.deltas[key] = (
            old[0] + delta[0],
            old[1] + delta[1],
            old[2] + delta[2],
            old[3] + delta[3],
        )

    def pay(self, item: Checked, chain: _Chain, payee: int, proof: FraudProof | None) -> None:
        """Move the money of one payment (see :func:`settle`) and record its settlement."""
        link = item.link
        from_reserve = min(chain.links.fresh(link), chain.reserve_left)
        payer_row, payee_row = (chain.account_id, item.currency), (payee, item.currency)
        from_balance = min(item.amount - from_reserve, self.balances[payer_row])
        claimed = item.amount - from_reserve - from_balance
        chain.reserve_left -= from_reserve
        chain.links.add(link)
        self.touched.add(chain.id)
        self.balances[payer_row] -= from_balance
        self.balances[payee_row] += from_reserve + from_balance
        self.add(payer_row, (-from_balance, -from_reserve, -claimed, 0))
        self.add(payee_row, (from_reserve + from_balance, 0, 0, claimed))
        if claimed:
            self.debts.append((chain.account_id, payee, item.currency, claimed, item.payment_hash))
        self.settlements.append(
            (
                item.payment_hash,
                item.invoice_id,
                chain.id,
                item.counter,
                chain.account_id,
                payee,
                item.currency,
                item.amount,
                from_reserve + from_balance,
                claimed,
                int(proof is not None),
                item.payment_raw,
                item.raw,
                self.now,
                item.spent,
                item.prev,
            )
        )

    async def write(self, tx: Tx, chains: dict[int, _Chain]) -> None:
        await tx.executemany(
            "INSERT INTO settlements (payment_hash, invoice_id, allowance_id, counter, "
            "payer_account, payee_account, currency, amount, covered, claimed, fraud, payment, "
            "bundle, settled_at, spent, prev) VALUES "
            "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            self.settlements,
        )
        by_id = {c.id: c for c in chains.values()}
        await tx.executemany(
            "UPDATE allowances SET reserve_left = $1 WHERE id = $2",
            [(by_id[i].reserve_left, i) for i in sorted(self.touched)],
        )
        await accounts.add_to_balances(tx, self.deltas)
        for debtor, creditor, currency, amount, payment_hash in self.debts:
            await accounts.add_debt(
                tx,
                debtor=debtor,
                creditor=creditor,
                currency=currency,
                amount=amount,
                payment_hash=payment_hash,
                now=self.now,
            )
        for allowance_id, counter, payer, proof in self.frauds:
            await _record_fraud(tx, allowance_id, counter, payer, proof, now=self.now)


async def settle(tx: Tx, items: list[Checked], *, now: int) -> list[Outcome]:
    """Settle verified bundles in order, inside ``tx``; one outcome per item, same order.

    Each payment is paid from its allowance's reserve for the part of its interval no
    settled payment claimed yet, then from the payer's balance, and the rest is credited
    to the payee as held (the payer's claim). A payment inconsistent with a settled one of
    its chain is ``fraud``: the pair's proof is stored and the payer revoked.
    """
    if not items:
        return []
    chains = await _lock_chains(tx, sorted({c.serial for c in items}), items)
    done = await _settled_already(tx, sorted({c.payment_hash for c in items}))
    payee_ids = await accounts.ensure_accounts(tx, {c.payee for c in items}, now=now)
    money_rows = {(payee_ids[c.payee], c.currency) for c in items}
    money_rows |= {(ch.account_id, ch.currency) for ch in chains.values()}
    writes = _Writes(now=now, balances=await _lock_balances(tx, money_rows))
    found: dict[bytes, FraudProof] = {}
    batch_bytes: dict[bytes, bytes] = {}
    outcomes: list[Outcome] = []
    for item in items:
        chain = chains.get(item.serial)
        if chain is None or chain.currency != item.currency:
            code = AppErrorCode.LEDGER_UNKNOWN_ALLOWANCE
            outcomes.append(_rejected(code.name, int(code), f"serial {item.serial}", item))
            continue
        proof = None
        if item.payment_hash in done:
            if done[item.payment_hash]:  # a repeat of a fraud is answered fraud, with its proof
                proof = found.get(item.payment_hash) or await _proof_for(tx, item.payment_raw)
            status = Status.FRAUD if proof is not None else Status.DUPLICATE
        else:
            clash = chain.links.conflict_with(item.link)
            if clash is not None:
                other = await _payment_bytes(tx, clash[0].hash, batch_bytes)
                proof = found[item.payment_hash] = _fraud_proof(other, item.payment_raw)
                low = min(item.counter, clash[0].counter)
                writes.frauds.append((chain.id, low, item.payer, proof))
            writes.pay(item, chain, payee_ids[item.payee], proof)
            batch_bytes[item.payment_hash] = item.payment_raw
            done[item.payment_hash] = proof is not None
            status = Status.FRAUD if proof is not None else Status.SETTLED
        outcomes.append(
            Outcome(
                status=status,
                payment_hash=item.payment_hash,
                invoice_id=item.invoice_id,
                proof=proof,
            )
        )
    await writes.write(tx, chains)
    return outcomes


def _fraud_proof(first: bytes, second: bytes) -> FraudProof:
    return FraudProof.of(open_as(first, Payment), open_as(second, Payment))


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
    await append_revocation(tx, payer, now=now)


async def record_verdicts(tx: Tx, shown: list[Checked], *, now: int) -> dict[bytes, Equivocation]:
    """Keep every receipt the ledger is shown: refusals in ``verdicts`` (accepted receipts
    are kept with their settlement's bundle). For each payment whose payee signed both
    verdicts, the :class:`Equivocation` (by payment hash)."""
    rejected = [c for c in shown if c.verdict == int(Verdict.REJECTED)]
    accepted = {c.payment_hash: c.receipt_raw for c in shown if c.verdict == int(Verdict.ACCEPTED)}
    await tx.executemany(
        "INSERT INTO verdicts (payment_hash, payee_key, verdict, receipt, seen_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (payment_hash, verdict) DO NOTHING",
        sorted({(c.payment_hash, c.payee, c.verdict, c.receipt_raw, now) for c in rejected}),
    )
    found: dict[bytes, Equivocation] = {}
    if accepted:
        hashes = sorted(accepted)
        for payment_hash, receipt in await tx.fetch(
            "SELECT payment_hash, receipt FROM verdicts WHERE verdict = 2 AND payment_hash IN "
            f"({_in_list(1, len(hashes))})",
            *hashes,
        ):
            h = bytes(payment_hash)
            found[h] = Equivocation(accepted=accepted[h], rejected=bytes(receipt))
        payees = {c.payment_hash: c.payee for c in shown}
        for payment_hash, sender, abort in await tx.fetch(
            "SELECT payment, sender, abort FROM aborts WHERE payment IN "
            f"({_in_list(1, len(hashes))})",
            *hashes,
        ):
            h = bytes(payment_hash)
            if bytes(sender) == payees[h] and h not in found:
                found[h] = Equivocation(accepted=accepted[h], rejected=bytes(abort))
    refusals = sorted({c.payment_hash: c.receipt_raw for c in rejected}.items())
    if refusals:
        by_hash = dict(refusals)
        for payment_hash, bundle in await tx.fetch(
            "SELECT payment_hash, bundle FROM settlements WHERE payment_hash IN "
            f"({_in_list(1, len(refusals))})",
            *by_hash,
        ):
            h = bytes(payment_hash)
            receipt = decode_bundle(bytes(bundle))[2]
            found[h] = Equivocation(accepted=receipt, rejected=by_hash[h])
    return found
