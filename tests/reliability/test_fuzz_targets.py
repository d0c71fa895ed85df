"""The fuzz targets of :mod:`fuzz.targets`, bounded, under Hypothesis (the atheris harnesses
in fuzz/ run the same functions without a bound)."""

from __future__ import annotations

import importlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz import targets
from tests.reliability.conftest import RunCount

EXAMPLES = 150
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def fuzzed(fault: str, expect: str) -> pytest.MarkDecorator:
    return pytest.mark.reliability("fuzz", fault, expect=expect)


@fuzzed(
    "CBOR decoder: arbitrary bytes (Hypothesis, 150 inputs)",
    "only RemoteProtocolError; whatever is accepted re-encodes to the same bytes",
)
@BOUNDED
@given(data=st.binary(max_size=512))
def test_cbor_decoder_accepts_only_canonical_bytes(data: bytes, runs: RunCount) -> None:
    targets.cbor_decode(data)
    runs.add()


@fuzzed(
    "reassembler: arbitrary chunk sequences (Hypothesis, 150 inputs)",
    "only RemoteProtocolError; messages within limits and round-tripping",
)
@BOUNDED
@given(data=st.binary(max_size=2048))
def test_reassembler_returns_only_bounded_messages(data: bytes, runs: RunCount) -> None:
    targets.reassembler(data)
    runs.add()


@fuzzed(
    "payer session: arbitrary chunks from a payee (Hypothesis, 150 inputs)",
    "no exception, no document event, only Failed",
)
@BOUNDED
@given(data=st.binary(max_size=2048))
def test_payer_session_survives_arbitrary_chunks(data: bytes, runs: RunCount) -> None:
    targets.payer_session(data)
    runs.add()


@fuzzed(
    "payee session: arbitrary chunks from a payer (Hypothesis, 150 inputs)",
    "no exception, no document event, only Failed",
)
@BOUNDED
@given(data=st.binary(max_size=2048))
def test_payee_session_survives_arbitrary_chunks(data: bytes, runs: RunCount) -> None:
    targets.payee_session(data)
    runs.add()


@fuzzed(
    "both sessions, chunks bit-flipped in flight (Hypothesis, 150 inputs)",
    "no exception; at most one payment per side, and the same one on both",
)
@BOUNDED
@given(data=st.binary(max_size=30))
def test_sessions_over_a_mutating_wire_never_disagree(data: bytes, runs: RunCount) -> None:
    targets.mutated_wire(data)
    runs.add()


def test_the_wire_target_completes_a_payment_when_nothing_is_mutated() -> None:
    assert targets.mutated_wire(b"") is True


@pytest.mark.parametrize(
    "name",
    ["fuzz_cbor", "fuzz_reassembler", "fuzz_payer_session", "fuzz_payee_session", "fuzz_wire"],
)
def test_each_atheris_harness_imports_without_atheris(name: str) -> None:
    module = importlib.import_module(f"fuzz.{name}")
    assert callable(module.main)
