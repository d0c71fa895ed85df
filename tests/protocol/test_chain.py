"""Chain rules the ledger applies, and fraud proofs that anyone can check alone."""

from __future__ import annotations

import pytest

from protocol import ErrorCode, RemoteProtocolError
from protocol.chain import (
    ChainKey,
    FraudProof,
    Link,
    advance,
    chain_key,
    check_chain,
    find_forks,
    follow,
    head_of,
    link_of,
)
from protocol.cose import Kind
from protocol.documents import Payment, to_payload
from protocol.keys import public_key
from protocol.verify import SignedDocument, open_as
from tests.protocol.docworld import World, resign

W = World()


def _chain(n: int) -> list[SignedDocument[Payment]]:
    payments: list[SignedDocument[Payment]] = []
    for i in range(n):
        head = head_of(payments[-1]) if payments else None
        payments.append(W.payment(invoice=W.invoice(n=i), head=head))
    return payments


def _code(exc: pytest.ExceptionInfo[RemoteProtocolError]) -> ErrorCode:
    return exc.value.code


def test_a_contiguous_chain_has_the_last_payment_as_head() -> None:
    payments = _chain(3)
    head = check_chain(payments)
    assert (head.counter, head.hash, head.spent) == (3, payments[-1].hash, 3 * 12_50)
    assert head.key == ChainKey(issuer=public_key(W.issuer), serial=7)


def test_replaying_the_head_is_idempotent() -> None:
    payments = _chain(2)
    head = check_chain(payments)
    assert advance(head, payments[-1]) is head


def test_a_chain_must_start_at_counter_one() -> None:
    with pytest.raises(RemoteProtocolError) as exc:
        check_chain(_chain(2)[1:])
    assert _code(exc) is ErrorCode.CHAIN_COUNTER_GAP


def test_a_missing_payment_is_a_gap() -> None:
    payments = _chain(3)
    with pytest.raises(RemoteProtocolError) as exc:
        check_chain([payments[0], payments[2]])
    assert _code(exc) is ErrorCode.CHAIN_COUNTER_GAP


def test_an_older_counter_again_is_a_reused_counter() -> None:
    payments = _chain(2)
    with pytest.raises(RemoteProtocolError) as exc:
        advance(head_of(payments[1]), payments[0])
    assert _code(exc) is ErrorCode.CHAIN_COUNTER_REUSED


def test_prev_must_be_the_head_hash() -> None:
    first = _chain(1)[0]
    other_first = W.payment(invoice=W.invoice(n=9))
    second = W.payment(invoice=W.invoice(n=1), head=head_of(other_first))
    with pytest.raises(RemoteProtocolError) as exc:
        advance(head_of(first), second)
    assert _code(exc) is ErrorCode.CHAIN_PREV_HASH_MISMATCH


def test_cumulative_must_be_head_total_plus_amount() -> None:
    first = _chain(1)[0]
    doc = W.payment(invoice=W.invoice(n=1), head=head_of(first)).doc
    bad = doc.model_copy(update={"spent": doc.spent + 1})
    forged = open_as(resign(W.payer, Kind.PAYMENT, to_payload(bad)), Payment)  # type: ignore[arg-type]
    with pytest.raises(RemoteProtocolError) as exc:
        advance(head_of(first), forged)
    assert _code(exc) is ErrorCode.CHAIN_CUMULATIVE_MISMATCH


def test_first_payment_must_spend_exactly_its_amount() -> None:
    doc = _chain(1)[0].doc.model_copy(update={"spent": 20_00})
    forged = open_as(resign(W.payer, Kind.PAYMENT, to_payload(doc)), Payment)  # type: ignore[arg-type]
    with pytest.raises(RemoteProtocolError) as exc:
        advance(None, forged)
    assert _code(exc) is ErrorCode.CHAIN_CUMULATIVE_MISMATCH


def test_follow_on_a_payments_values_gives_the_same_head_as_advance() -> None:
    first, second = _chain(2)
    head = advance(None, first)
    assert follow(None, key=chain_key(first), link=link_of(first)) == head
    assert follow(head, key=chain_key(second), link=link_of(second)) == advance(head, second)


def test_follow_refuses_a_first_link_that_names_a_previous_payment() -> None:
    [first] = _chain(1)
    link = link_of(first)
    forged = Link(
        counter=1, prev=b"\x00" * 32, spent=link.spent, amount=link.amount, hash=link.hash
    )
    with pytest.raises(RemoteProtocolError) as exc:
        follow(None, key=chain_key(first), link=forged)
    assert _code(exc) is ErrorCode.CHAIN_PREV_HASH_MISMATCH


def test_a_payment_of_another_allowance_does_not_extend_the_chain() -> None:
    first = _chain(1)[0]
    other = W.payment(allowance=W.allowance(serial=8))
    with pytest.raises(RemoteProtocolError) as exc:
        advance(head_of(first), other)
    assert _code(exc) is ErrorCode.CHAIN_OTHER_ALLOWANCE


def _fork() -> tuple[SignedDocument[Payment], SignedDocument[Payment]]:
    return W.payment(invoice=W.invoice(n=1)), W.payment(invoice=W.invoice(n=2))


def test_two_payments_with_one_counter_are_found_as_a_fork() -> None:
    a, b = _fork()
    proofs = find_forks([a, b, a])
    assert len(proofs) == 1
    assert proofs[0].verify() == (chain_key(a), 1)


def test_a_fork_proof_does_not_depend_on_argument_order() -> None:
    a, b = _fork()
    assert FraudProof.of(a, b) == FraudProof.of(b, a)


def test_no_fork_in_a_clean_chain() -> None:
    assert find_forks(_chain(3)) == []


def test_the_same_payment_twice_is_not_a_fraud_proof() -> None:
    a, _ = _fork()
    with pytest.raises(RemoteProtocolError) as exc:
        FraudProof(first=a.raw, second=a.raw).verify()
    assert _code(exc) is ErrorCode.FRAUD_PROOF_INVALID


def test_payments_at_different_counters_are_not_a_fraud_proof() -> None:
    payments = _chain(2)
    first, second = sorted(payments, key=lambda p: p.hash)
    with pytest.raises(RemoteProtocolError) as exc:
        FraudProof(first=first.raw, second=second.raw).verify()
    assert _code(exc) is ErrorCode.FRAUD_PROOF_INVALID


def test_a_fraud_proof_with_a_forged_payment_is_invalid() -> None:
    a, b = _fork()
    forged = bytearray(b.raw)
    forged[-1] ^= 1
    first, second = sorted([a.raw, bytes(forged)])
    with pytest.raises(RemoteProtocolError) as exc:
        FraudProof(first=first, second=second).verify()
    assert _code(exc) is ErrorCode.FRAUD_PROOF_INVALID


@pytest.mark.parametrize(
    "data", [b"\x82\x41a", b"\x81\x41a", b"\x83\x41a\x41b\x41c", b"\x82\x01\x02", b"\xff"]
)
def test_a_fraud_proof_wire_form_that_is_not_two_byte_strings_is_invalid(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as exc:
        FraudProof.decode(data)
    assert _code(exc) is ErrorCode.FRAUD_PROOF_INVALID


def test_a_fraud_proof_round_trips_through_its_wire_form() -> None:
    a, b = _fork()
    proof = FraudProof.of(a, b)
    assert FraudProof.decode(proof.encode()) == proof
    assert FraudProof.decode(proof.encode()).verify() == proof.verify()
