"""The ledger's trust lists (SPEC 4.1): size bound, versioning, the update rules."""

from __future__ import annotations

import pytest

from protocol import ErrorCode, ProtocolError, cbor
from protocol.cose import Kind
from protocol.documents import MAX_REVOKED_KEYS, RevocationList
from protocol.keys import public_key
from protocol.trustlists import check_revocation_update, make_revocation_list, open_list
from protocol.verify import open_document, sign, verify_document
from tests.protocol.docworld import NOW, World

W = World()
LEDGER = public_key(W.issuer)


def _keys(n: int, start: int = 0) -> list[bytes]:
    return [(start + i).to_bytes(32, "big") for i in range(n)]


def test_a_full_revocation_list_fits_its_http_size_bound_only_where_required() -> None:
    full = make_revocation_list(W.issuer, keys=_keys(MAX_REVOKED_KEYS), now=NOW)
    assert cbor.MAX_SIZE < len(full.raw) <= cbor.MAX_LIST_SIZE
    assert open_list(full.raw, RevocationList, ledger=LEDGER, now=NOW).doc.version == (
        MAX_REVOKED_KEYS
    )
    # A receiver that takes any kind (BLE) keeps the 2048-byte bound.
    with pytest.raises(ProtocolError) as exc:
        verify_document(full.raw, now=NOW)
    assert exc.value.code is ErrorCode.CBOR_TOO_LARGE


def test_one_key_over_the_maximum_is_refused() -> None:
    with pytest.raises(ProtocolError) as exc:
        make_revocation_list(W.issuer, keys=_keys(MAX_REVOKED_KEYS + 1), now=NOW)
    assert exc.value.code in (ErrorCode.DOC_FIELD_VALUE, ErrorCode.CBOR_TOO_LARGE)


def test_a_list_kind_is_not_accepted_where_a_payment_is_required() -> None:
    signed = make_revocation_list(W.issuer, keys=_keys(1), now=NOW)
    with pytest.raises(ProtocolError) as exc:
        open_document(signed.raw, kind=Kind.PAYMENT)
    assert exc.value.code is ErrorCode.COSE_WRONG_KIND


def test_a_huge_version_cannot_be_signed_without_its_keys() -> None:
    signed = make_revocation_list(W.issuer, keys=_keys(2), now=NOW)
    with pytest.raises(ProtocolError) as exc:
        sign(W.issuer, signed.doc.model_copy(update={"version": 2**62}))
    assert exc.value.code is ErrorCode.TRUST_VERSION_MISMATCH


@pytest.mark.parametrize("cut", [0, 1, 5, 9])
def test_every_extension_of_a_cached_prefix_is_accepted(cut: int) -> None:
    keys = _keys(10)
    cached = make_revocation_list(W.issuer, keys=keys[:cut], now=NOW - 1).doc
    check_revocation_update(cached, make_revocation_list(W.issuer, keys=keys, now=NOW).doc)


def test_a_list_that_drops_a_cached_key_and_adds_others_is_a_fork() -> None:
    keys = _keys(3)
    cached = make_revocation_list(W.issuer, keys=keys, now=NOW - 1).doc
    new = make_revocation_list(W.issuer, keys=[keys[0], keys[2], *_keys(2, 50)], now=NOW).doc
    with pytest.raises(ProtocolError) as exc:
        check_revocation_update(cached, new)
    assert exc.value.code is ErrorCode.TRUST_FORK
