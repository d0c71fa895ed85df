"""The payment chain of one allowance, and fraud proofs: pure rules the ledger applies.

Each allowance, named by ``(issuer key, serial)`` (a :class:`ChainKey`), has one chain of
payments: counters 1, 2, 3... with no gap, each payment naming the hash of the one before
(``prev``) and carrying the cumulative total spent (``spent`` = previous total + amount).

Invariants:
- :func:`advance` accepts exactly the next link of a chain, or the head itself again
  (replays are idempotent); anything else raises a CHAIN_* code and changes nothing.
- A fork is two *different* validly signed payments of one chain with one counter. Since
  only the wallet key can sign them, a fork proves the wallet double-spent; a
  :class:`FraudProof` holds the two documents' bytes, so anyone can check it with
  :meth:`FraudProof.verify` and no other context (not even a clock: signatures do not
  expire).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from protocol.documents import Payment
from protocol.errors import ErrorCode, ProtocolError, RemoteProtocolError
from protocol.verify import SignedDocument, open_as

__all__ = [
    "ChainHead",
    "ChainKey",
    "FraudProof",
    "advance",
    "chain_key",
    "check_chain",
    "find_forks",
    "head_of",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class ChainKey:
    """Names one allowance's payment chain."""

    issuer: bytes
    """The allowance issuer's raw public key."""
    serial: int
    """The allowance serial (unique per issuer)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ChainHead:
    """The latest payment known on a chain."""

    key: ChainKey
    counter: int
    hash: bytes
    """Hash of the payment at ``counter``."""
    spent: int
    """Cumulative total after that payment."""


def chain_key(payment: SignedDocument[Payment]) -> ChainKey:
    """The chain a verified payment belongs to."""
    allowance = payment.allowance
    assert allowance is not None, "a verified payment always carries its allowance"
    return ChainKey(issuer=allowance.doc.issuer, serial=allowance.doc.serial)


def head_of(payment: SignedDocument[Payment]) -> ChainHead:
    """The chain head that ``payment`` becomes once accepted."""
    return ChainHead(
        key=chain_key(payment),
        counter=payment.doc.counter,
        hash=payment.hash,
        spent=payment.doc.spent,
    )


def advance(head: ChainHead | None, payment: SignedDocument[Payment]) -> ChainHead:
    """The new head after ``payment``, which must be the next link after ``head``.

    ``head`` None means the chain is empty. Replaying the head returns it unchanged. A
    payment at a counter the chain already passed raises CHAIN_COUNTER_REUSED: the caller
    compares it with the stored payment at that counter and, if they differ, builds a
    :class:`FraudProof`.
    """
    doc = payment.doc
    key = chain_key(payment)
    if head is None:
        if doc.counter != 1:
            raise RemoteProtocolError(ErrorCode.CHAIN_COUNTER_GAP, f"chain starts at {doc.counter}")
        if doc.spent != doc.amount:
            raise RemoteProtocolError(ErrorCode.CHAIN_CUMULATIVE_MISMATCH, "first spent != amount")
        return head_of(payment)
    if key != head.key:
        raise RemoteProtocolError(ErrorCode.CHAIN_OTHER_ALLOWANCE)
    if payment.hash == head.hash:
        return head
    if doc.counter <= head.counter:
        raise RemoteProtocolError(ErrorCode.CHAIN_COUNTER_REUSED, f"counter {doc.counter}")
    if doc.counter != head.counter + 1:
        raise RemoteProtocolError(
            ErrorCode.CHAIN_COUNTER_GAP, f"counter {doc.counter} after {head.counter}"
        )
    if doc.prev != head.hash:
        raise RemoteProtocolError(ErrorCode.CHAIN_PREV_HASH_MISMATCH)
    if doc.spent != head.spent + doc.amount:
        raise RemoteProtocolError(
            ErrorCode.CHAIN_CUMULATIVE_MISMATCH, f"{doc.spent} != {head.spent} + {doc.amount}"
        )
    return head_of(payment)


def check_chain(payments: Sequence[SignedDocument[Payment]]) -> ChainHead:
    """Check a whole chain given in counter order from 1; return its head."""
    if not payments:
        raise ValueError("an empty chain has no head")
    head: ChainHead | None = None
    for payment in payments:
        head = advance(head, payment)
    assert head is not None
    return head


@dataclass(frozen=True, kw_only=True, slots=True)
class FraudProof:
    """Two different signed payments of one chain with one counter: a double spend.

    ``first`` and ``second`` are the payments' exact COSE_Sign1 bytes, ordered by hash so
    that one fork always yields the same proof.
    """

    first: bytes
    second: bytes

    @classmethod
    def of(cls, a: SignedDocument[Payment], b: SignedDocument[Payment]) -> FraudProof:
        """The proof made of two conflicting payments (checked; FRAUD_PROOF_INVALID if not)."""
        first, second = sorted((a, b), key=lambda p: p.hash)
        proof = cls(first=first.raw, second=second.raw)
        proof.verify()
        return proof

    def verify(self) -> tuple[ChainKey, int]:
        """Check the proof on its own; return the forked chain and counter.

        Raises RemoteProtocolError(FRAUD_PROOF_INVALID) if either document is not a valid
        payment, they are the same payment, or they are not of one chain and counter.
        """
        try:
            a = open_as(self.first, Payment)
            b = open_as(self.second, Payment)
        except ProtocolError as exc:
            raise RemoteProtocolError(
                ErrorCode.FRAUD_PROOF_INVALID, f"not a valid payment: {exc}"
            ) from exc
        if a.hash == b.hash:
            raise RemoteProtocolError(ErrorCode.FRAUD_PROOF_INVALID, "the same payment twice")
        if a.hash > b.hash:
            raise RemoteProtocolError(ErrorCode.FRAUD_PROOF_INVALID, "not in hash order")
        if chain_key(a) != chain_key(b) or a.doc.counter != b.doc.counter:
            raise RemoteProtocolError(ErrorCode.FRAUD_PROOF_INVALID, "not one chain and counter")
        return chain_key(a), a.doc.counter


def find_forks(payments: Iterable[SignedDocument[Payment]]) -> list[FraudProof]:
    """Every fork among ``payments`` (any order, any chains), one proof per extra payment."""
    first_seen: dict[tuple[ChainKey, int], SignedDocument[Payment]] = {}
    proofs: list[FraudProof] = []
    for payment in payments:
        slot = (chain_key(payment), payment.doc.counter)
        other = first_seen.setdefault(slot, payment)
        if other.hash != payment.hash:
            proofs.append(FraudProof.of(other, payment))
    return proofs
