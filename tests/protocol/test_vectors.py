"""The JSON test vectors in protocol/vectors/: our verdict on each, and their coverage."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from protocol import ErrorCode, ProtocolError, verify_document
from protocol.acceptance import check_payment
from protocol.chain import ChainHead, ChainKey, FraudProof, check_chain
from protocol.cose import Kind
from protocol.documents import Document, Invoice, IssuerSet, Payment, RevocationList
from protocol.trustlists import check_issuer_set_update, check_revocation_update, open_list
from protocol.verify import open_as
from tests.protocol import make_vectors

D = TypeVar("D", bound=Document)

VECTORS = Path(__file__).resolve().parents[2] / "protocol" / "vectors"


def _load(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / name).read_text())["vectors"]
    return cases


def _hexes(values: list[str]) -> frozenset[bytes]:
    return frozenset(bytes.fromhex(v) for v in values)


def _head(data: dict[str, Any] | None) -> ChainHead | None:
    if data is None:
        return None
    key = ChainKey(issuer=bytes.fromhex(data["issuer"]), serial=data["serial"])
    return ChainHead(
        key=key, counter=data["counter"], hash=bytes.fromhex(data["hash"]), spent=data["spent"]
    )


def _verdict(run: Callable[[], object]) -> str:
    try:
        run()
    except ProtocolError as exc:
        return exc.code.name
    return "valid"


def _expected(case: dict[str, Any]) -> str:
    if case["valid"]:
        return "valid"
    assert ErrorCode[case["error"]] == case["code"]
    return str(case["error"])


@pytest.mark.parametrize("case", _load("documents.json"), ids=lambda c: c["name"])
def test_document_vector(case: dict[str, Any]) -> None:
    trusted = _hexes(case["trusted_issuers"])
    data = bytes.fromhex(case["data"])
    assert _verdict(lambda: verify_document(data, now=case["now"], trusted_issuers=trusted)) == (
        _expected(case)
    )


@pytest.mark.parametrize("case", _load("acceptance.json"), ids=lambda c: c["name"])
def test_acceptance_vector(case: dict[str, Any]) -> None:
    invoice = open_as(bytes.fromhex(case["invoice"]), Invoice)

    def run() -> None:
        accepted = check_payment(
            bytes.fromhex(case["payment"]),
            invoice=invoice,
            payee_key=bytes.fromhex(case["payee_key"]),
            trusted_issuers=_hexes(case["trusted_issuers"]),
            revoked=_hexes(case["revoked"]),
            last_seen=_head(case["last_seen"]),
            now=case["now"],
        )
        assert accepted.head == _head(case["head"])

    assert _verdict(run) == _expected(case)


@pytest.mark.parametrize("case", _load("chains.json"), ids=lambda c: c["name"])
def test_chain_vector(case: dict[str, Any]) -> None:
    if "fraud_proof" in case:
        first, second = (bytes.fromhex(h) for h in case["fraud_proof"])
        proof = FraudProof(first=first, second=second)
        if "fraud_proof_cbor" in case:
            assert FraudProof.decode(bytes.fromhex(case["fraud_proof_cbor"])) == proof
            assert proof.encode().hex() == case["fraud_proof_cbor"]

        def run() -> None:
            _, _, why = proof.check()
            assert why.value == case.get("conflict", "fork")
    else:
        payments = [open_as(bytes.fromhex(h), Payment) for h in case["payments"]]

        def run() -> None:
            assert check_chain(payments) == _head(case["head"])

    assert _verdict(run) == _expected(case)


def _check_update(case: dict[str, Any], cls: type[D], check: Callable[[D | None, D], None]) -> None:
    """Open the case's new (and cached) list as ``cls`` and ``check`` the update."""
    ledger = bytes.fromhex(case["ledger"])

    def opened(data: str) -> D:
        return open_list(bytes.fromhex(data), cls, ledger=ledger, now=case["now"]).doc

    new = opened(case["new"])
    cached = None if case["cached"] is None else opened(case["cached"])
    check(cached, new)


@pytest.mark.parametrize("case", _load("trust.json"), ids=lambda c: c["name"])
def test_trust_vector(case: dict[str, Any]) -> None:
    runs: dict[str, Callable[[], None]] = {
        "issuer_set": lambda: _check_update(case, IssuerSet, check_issuer_set_update),
        "revocation_list": lambda: _check_update(case, RevocationList, check_revocation_update),
    }
    run = runs[case["kind"]]
    assert _verdict(run) == _expected(case)


def test_vector_files_are_what_the_generator_builds() -> None:
    built = make_vectors.build()
    for name, text in built.items():
        assert (VECTORS / name).read_text() == text, "run python -m tests.protocol.make_vectors"


def test_every_kind_has_a_valid_vector() -> None:
    kinds = {c["kind"] for c in _load("documents.json") if c["valid"]}
    assert kinds == {k.name.lower() for k in Kind}


def test_every_code_a_document_can_trigger_has_an_invalid_vector() -> None:
    covered = {
        c["error"]
        for name in ("documents.json", "acceptance.json", "chains.json", "trust.json")
        for c in _load(name)
        if not c["valid"]
    }
    # Codes in our ranges that no received document can trigger: only local input or
    # local misuse raises them.
    local_only = {ErrorCode.MONEY_BAD_DECIMAL}
    # The payee's own risk limits (SPEC 7.1) depend on its policy, not on the documents:
    # tests/protocol/test_risk.py covers them.
    payee_policy = {c for c in ErrorCode if 320 <= c < 330}
    ours = {c for c in ErrorCode if 100 <= c < 500} - local_only - payee_policy
    assert sorted(c.name for c in ours if c.name not in covered) == []
