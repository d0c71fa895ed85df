"""The payment chain of one allowance, and fraud proofs: pure rules the ledger applies.

Each allowance, named by ``(issuer key, serial)`` (a :class:`ChainKey`), has one chain of
payments: counters 1, 2, 3... with no gap, each payment naming the hash of the one before
(``prev``) and carrying the cumulative total spent (``spent`` = previous total + amount).

Invariants:
- :func:`advance` accepts exactly the next link of a chain, or the head itself again
  (replays are idempotent); anything else raises a CHAIN_* code and changes nothing.
- Payment k of a chain claims the reserve interval ``(spent_k - amount_k, spent_k]`` of
  its allowance. Honest links never overlap, and their intervals follow their counters.
- Two *different* validly signed payments of one chain are **inconsistent**
  (:func:`conflict`) if they cannot both belong to one honest chain: the same counter (a
  fork), overlapping intervals, intervals out of counter order, or, at consecutive
  counters, a ``prev`` that is not the other's hash or a total that is not the other's total
  plus the amount. Only the wallet key can sign both, so an inconsistent pair proves the
  wallet double-spent (or cheated on its totals); a :class:`FraudProof` holds the two
  documents' bytes, so anyone can check it with :meth:`FraudProof.verify` and no other
  context (not even a clock: signatures do not expire). Its wire form
  (:meth:`FraudProof.encode`) is the deterministic CBOR array ``[first, second]`` of two
  byte strings.
- The rules are symmetric and need no arrival order: whichever of the two payments
  reaches the ledger first, the pair is the same proof.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from protocol import cbor
from protocol.documents import Payment
from protocol.errors import ErrorCode, ProtocolError, RemoteProtocolError
from protocol.verify import SignedDocument, open_as

__all__ = [
    "ChainHead",
    "ChainKey",
    "Conflict",
    "FraudProof",
    "Link",
    "Links",
    "advance",
    "chain_key",
    "check_chain",
    "conflict",
    "find_forks",
    "follow",
    "head_of",
    "link_of",
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


@dataclass(frozen=True, kw_only=True, slots=True)
class Link:
    """What the consistency rules need of one payment of a chain."""

    counter: int
    prev: bytes | None
    spent: int
    amount: int
    hash: bytes

    @property
    def low(self) -> int:
        """The interval's open lower end: ``spent - amount``."""
        return self.spent - self.amount


def link_of(payment: SignedDocument[Payment]) -> Link:
    """The link a payment is on its chain."""
    doc = payment.doc
    return Link(
        counter=doc.counter, prev=doc.prev, spent=doc.spent, amount=doc.amount, hash=payment.hash
    )


class Conflict(Enum):
    """Why two payments of one chain cannot both be honest links."""

    FORK = "fork"
    """The same counter."""
    OVERLAP = "overlap"
    """Their reserve intervals overlap: the same money spent twice."""
    ORDER = "order"
    """The higher counter's interval does not lie above the lower counter's."""
    PREV = "prev"
    """Consecutive counters, but ``prev`` is not the lower one's hash."""
    CUMULATIVE = "cumulative"
    """Consecutive counters, but the total is not the lower one's total plus the amount."""


def conflict(a: Link, b: Link) -> Conflict | None:
    """Why two *different* payments of one chain are inconsistent, or None if they are not.

    Symmetric in ``a`` and ``b``; the caller checks that they share a chain.
    """
    if a.hash == b.hash:
        return None
    if a.counter == b.counter:
        return Conflict.FORK
    if a.low < b.spent and b.low < a.spent:
        return Conflict.OVERLAP
    lower, upper = (a, b) if a.counter < b.counter else (b, a)
    if upper.low < lower.spent:
        return Conflict.ORDER
    if upper.counter == lower.counter + 1:
        if upper.prev != lower.hash:
            return Conflict.PREV
        if upper.low != lower.spent:
            return Conflict.CUMULATIVE
    return None


class Links:
    """The links of one chain known so far, in any arrival order (the ledger's view).

    Answers, for a new link, which known link it conflicts with (:meth:`conflict_with`) and
    how much of its reserve interval no known link claimed yet (:meth:`fresh`). If the known
    links are pairwise consistent, checking a new link against the one at its counter, its
    counter neighbours and any link overlapping its interval finds a conflict whenever one
    exists (intervals of consistent links are ordered like their counters).
    """

    def __init__(self, links: Iterable[Link] = ()) -> None:
        self._by_counter: list[tuple[int, bytes]] = []
        self._links: dict[bytes, Link] = {}
        self._at: dict[int, Link] = {}
        self._union: list[tuple[int, int]] = []
        """Disjoint, sorted half-open ranges [start, end) of claimed reserve units."""
        for link in links:
            self.add(link)

    def __contains__(self, payment_hash: bytes) -> bool:
        return payment_hash in self._links

    def add(self, link: Link) -> None:
        """Record a settled link (idempotent per hash)."""
        if link.hash in self._links:
            return
        self._links[link.hash] = link
        self._at.setdefault(link.counter, link)
        bisect.insort(self._by_counter, (link.counter, link.hash))
        start, end = link.low, link.spent
        i = bisect.bisect_left(self._union, (start, start))
        if i > 0 and self._union[i - 1][1] >= start:
            i -= 1
        j = i
        while j < len(self._union) and self._union[j][0] <= end:
            start = min(start, self._union[j][0])
            end = max(end, self._union[j][1])
            j += 1
        self._union[i:j] = [(start, end)]

    def fresh(self, link: Link) -> int:
        """Units of ``link``'s interval that no recorded link claims."""
        start, end = link.low, link.spent
        taken = 0
        i = bisect.bisect_left(self._union, (start, start))
        if i > 0:
            i -= 1
        while i < len(self._union) and self._union[i][0] < end:
            a, b = self._union[i]
            taken += max(0, min(b, end) - max(a, start))
            i += 1
        return (end - start) - taken

    def conflict_with(self, link: Link) -> tuple[Link, Conflict] | None:
        """A recorded link inconsistent with ``link``, and why; None if there is none."""
        candidates: list[Link] = []
        same = self._at.get(link.counter)
        if same is not None:
            candidates.append(same)
        i = bisect.bisect_left(self._by_counter, (link.counter, b""))
        if i > 0:
            candidates.append(self._links[self._by_counter[i - 1][1]])
        j = bisect.bisect_right(self._by_counter, (link.counter, b"\xff" * 64))
        if j < len(self._by_counter):
            candidates.append(self._links[self._by_counter[j][1]])
        if self.fresh(link) < link.amount:  # something overlaps: find it (rare, fraud only)
            candidates.extend(
                other
                for other in self._links.values()
                if other.low < link.spent and link.low < other.spent
            )
        for other in candidates:
            why = conflict(link, other)
            if why is not None:
                return other, why
        return None


def advance(head: ChainHead | None, payment: SignedDocument[Payment]) -> ChainHead:
    """The new head after ``payment``, which must be the next link after ``head``.

    ``head`` None means the chain is empty. Replaying the head returns it unchanged. A
    payment at a counter the chain already passed raises CHAIN_COUNTER_REUSED: the caller
    compares it with the stored payment at that counter and, if they differ, builds a
    :class:`FraudProof`.
    """
    return follow(head, key=chain_key(payment), link=link_of(payment))


def follow(head: ChainHead | None, *, key: ChainKey, link: Link) -> ChainHead:
    """:func:`advance` on values: the payment at ``link`` of chain ``key``, after ``head``.

    For a caller that holds a payment's fields rather than the document (a wallet's store
    checking a payment record against its chain head): the same rules, in the same order.
    """
    new = ChainHead(key=key, counter=link.counter, hash=link.hash, spent=link.spent)
    if head is None:
        if link.counter != 1:
            raise RemoteProtocolError(
                ErrorCode.CHAIN_COUNTER_GAP, f"chain starts at {link.counter}"
            )
        if link.prev is not None:  # a verified payment cannot break this (DOC_CHAIN_START)
            raise RemoteProtocolError(ErrorCode.CHAIN_PREV_HASH_MISMATCH, "first link has a prev")
        if link.spent != link.amount:
            raise RemoteProtocolError(ErrorCode.CHAIN_CUMULATIVE_MISMATCH, "first spent != amount")
        return new
    if key != head.key:
        raise RemoteProtocolError(ErrorCode.CHAIN_OTHER_ALLOWANCE)
    if link.hash == head.hash:
        return head
    if link.counter <= head.counter:
        raise RemoteProtocolError(ErrorCode.CHAIN_COUNTER_REUSED, f"counter {link.counter}")
    if link.counter != head.counter + 1:
        raise RemoteProtocolError(
            ErrorCode.CHAIN_COUNTER_GAP, f"counter {link.counter} after {head.counter}"
        )
    if link.prev != head.hash:
        raise RemoteProtocolError(ErrorCode.CHAIN_PREV_HASH_MISMATCH)
    if link.spent != head.spent + link.amount:
        raise RemoteProtocolError(
            ErrorCode.CHAIN_CUMULATIVE_MISMATCH, f"{link.spent} != {head.spent} + {link.amount}"
        )
    return new


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
    """Two different signed payments of one chain that no honest chain holds together.

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

    def encode(self) -> bytes:
        """The wire form: the deterministic CBOR array ``[first, second]`` (SPEC §8)."""
        return cbor.encode([self.first, self.second])

    @classmethod
    def decode(cls, data: bytes) -> FraudProof:
        """Parse the wire form (not verified: call :meth:`verify`).

        Raises RemoteProtocolError(FRAUD_PROOF_INVALID) if it is not an array of two byte
        strings (or not deterministic CBOR).
        """
        try:
            value = cbor.decode(data)
        except ProtocolError as exc:
            raise RemoteProtocolError(ErrorCode.FRAUD_PROOF_INVALID, str(exc)) from exc
        if not (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(part, bytes) for part in value)
        ):
            raise RemoteProtocolError(ErrorCode.FRAUD_PROOF_INVALID, "not [bstr, bstr]")
        first, second = value
        assert isinstance(first, bytes) and isinstance(second, bytes)
        return cls(first=first, second=second)

    def verify(self) -> tuple[ChainKey, int]:
        """Check the proof on its own; return the chain and the lower counter of the pair.

        Raises RemoteProtocolError(FRAUD_PROOF_INVALID) if either document is not a valid
        payment, they are the same payment, they are not of one chain, or they are
        consistent with one honest chain (:func:`conflict`).
        """
        key, counter, _ = self.check()
        return key, counter

    def check(self) -> tuple[ChainKey, int, Conflict]:
        """:meth:`verify`, also naming the :class:`Conflict` the pair shows."""
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
        if chain_key(a) != chain_key(b):
            raise RemoteProtocolError(ErrorCode.FRAUD_PROOF_INVALID, "not one chain")
        why = conflict(link_of(a), link_of(b))
        if why is None:
            raise RemoteProtocolError(ErrorCode.FRAUD_PROOF_INVALID, "consistent with one chain")
        return chain_key(a), min(a.doc.counter, b.doc.counter), why


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
