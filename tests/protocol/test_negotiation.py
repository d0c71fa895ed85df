"""Negotiation offer/answer: encoding, choice, and refusal of bad or widened answers."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import cbor
from protocol.errors import ErrorCode, ProtocolError, RemoteProtocolError
from protocol.negotiation import (
    Answer,
    Capabilities,
    Feature,
    Offer,
    answer_offer,
    check_answer,
)

PAYEE = Capabilities(max_chunk_size=244, currencies=("EUR", "USD"))
PAYER = Capabilities(max_chunk_size=509, max_message_size=2048, currencies=("EUR",))


def _code(call: object) -> ErrorCode:
    assert callable(call)
    with pytest.raises(RemoteProtocolError) as info:
        call()
    return info.value.code


def test_offer_round_trips_through_cbor() -> None:
    offer = Offer.from_capabilities(PAYEE)
    assert Offer.decode(offer.encode()) == offer


def test_answer_round_trips_through_cbor() -> None:
    answer = answer_offer(Offer.from_capabilities(PAYEE), PAYER)
    assert Answer.decode(answer.encode()) == answer


def test_answer_takes_the_smaller_limits_and_common_choices() -> None:
    answer = answer_offer(Offer.from_capabilities(PAYEE), PAYER)
    assert answer.version == 1
    assert answer.chunk_size == 244
    assert answer.max_message_size == 2048
    assert answer.currencies == ("EUR",)
    assert answer.has(Feature.RESUMPTION)


def test_highest_common_version_wins() -> None:
    offer = Offer.from_capabilities(dataclasses.replace(PAYEE, versions=(1, 2, 3)))
    answer = answer_offer(offer, dataclasses.replace(PAYER, versions=(1, 2)))
    assert answer.version == 2


def test_no_common_version_is_unsupported() -> None:
    offer = Offer.from_capabilities(dataclasses.replace(PAYEE, versions=(9,)))
    code = _code(lambda: answer_offer(offer, PAYER))
    assert code is ErrorCode.NEGOTIATION_UNSUPPORTED_VERSION


def test_no_common_currency_is_refused() -> None:
    offer = Offer.from_capabilities(dataclasses.replace(PAYEE, currencies=("JPY",)))
    code = _code(lambda: answer_offer(offer, PAYER))
    assert code is ErrorCode.NEGOTIATION_NO_COMMON_CURRENCY


def test_answer_with_a_version_not_offered_is_refused() -> None:
    offer = Offer.from_capabilities(PAYEE)
    answer = dataclasses.replace(answer_offer(offer, PAYER), version=2)
    assert _code(lambda: check_answer(offer, answer)) is ErrorCode.NEGOTIATION_ANSWER_MISMATCH


def test_answer_with_a_currency_not_offered_is_refused() -> None:
    offer = Offer.from_capabilities(PAYEE)
    answer = dataclasses.replace(answer_offer(offer, PAYER), currencies=("GBP",))
    assert _code(lambda: check_answer(offer, answer)) is ErrorCode.NEGOTIATION_ANSWER_MISMATCH


def test_answer_with_a_feature_not_offered_is_refused() -> None:
    offer = Offer.from_capabilities(dataclasses.replace(PAYEE, features=()))
    answer = dataclasses.replace(answer_offer(offer, PAYER), features=(1,))
    assert _code(lambda: check_answer(offer, answer)) is ErrorCode.NEGOTIATION_ANSWER_MISMATCH


def test_answer_above_the_offered_chunk_size_is_refused() -> None:
    offer = Offer.from_capabilities(PAYEE)
    answer = dataclasses.replace(answer_offer(offer, PAYER), chunk_size=245)
    assert _code(lambda: check_answer(offer, answer)) is ErrorCode.NEGOTIATION_BAD_LIMITS


def test_chunk_size_below_the_ble_minimum_is_refused() -> None:
    data = cbor.encode({1: [1], 2: 4096, 3: 19, 4: ["EUR"], 5: []})
    assert _code(lambda: Offer.decode(data)) is ErrorCode.NEGOTIATION_BAD_LIMITS


def test_message_size_above_the_hard_cap_is_refused() -> None:
    data = cbor.encode({1: [1], 2: 16385, 3: 244, 4: ["EUR"], 5: []})
    assert _code(lambda: Offer.decode(data)) is ErrorCode.NEGOTIATION_BAD_LIMITS


@pytest.mark.parametrize(
    "fields",
    [
        {1: [1], 2: 4096, 3: 244, 4: ["EUR"]},  # missing key
        {1: [1], 2: 4096, 3: 244, 4: ["EUR"], 5: [], 6: 0},  # extra key
        {1: [], 2: 4096, 3: 244, 4: ["EUR"], 5: []},  # no versions
        {1: [2, 1], 2: 4096, 3: 244, 4: ["EUR"], 5: []},  # not ascending
        {1: [1], 2: 4096, 3: 244, 4: ["eur"], 5: []},  # not a currency code
        {1: [1], 2: 4096, 3: 244, 4: [], 5: []},  # no currencies
        {1: [1], 2: "4096", 3: 244, 4: ["EUR"], 5: []},  # wrong type
        {1: [1], 2: 4096, 3: 244, 4: ["EUR"], 5: [True]},  # bool is not an int
    ],
)
def test_malformed_offer_is_refused(fields: dict[int, object]) -> None:
    data = cbor.encode(fields)  # type: ignore[arg-type]
    assert _code(lambda: Offer.decode(data)) is ErrorCode.NEGOTIATION_MALFORMED


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=80))
def test_arbitrary_bytes_raise_only_protocol_errors(data: bytes) -> None:
    for parse in (Offer.decode, Answer.decode):
        try:
            parse(data)
        except ProtocolError as exc:
            assert exc.code in (ErrorCode.NEGOTIATION_MALFORMED, ErrorCode.NEGOTIATION_BAD_LIMITS)
