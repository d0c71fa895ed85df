"""Interop with pycose, an independent COSE implementation, in both directions.

pycose 1.1.0's ``CoseMessage.decode`` expects cbor2 to decode a tag's content as a
``list`` of ``dict``s; cbor2 6 gives a tuple of frozendicts there, so ``decode`` refuses
every tagged message. We therefore check the tag ourselves and hand pycose the untagged
array through its own ``Sign1Message.from_cose_obj`` (what ``decode`` calls after the tag).
"""

from __future__ import annotations

import cbor2
import pytest
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm
from pycose.keys.curves import Ed25519
from pycose.keys.okp import OKPKey
from pycose.messages.sign1message import Sign1Message

from protocol import ErrorCode, RemoteProtocolError, cbor
from protocol.builders import make_abort
from protocol.cose import Kind
from protocol.documents import Document, to_payload
from protocol.keys import key_id, public_key
from protocol.trustlists import make_issuer_set, make_revocation_list
from protocol.verify import SignedDocument, open_document, verify_document
from tests.protocol.docworld import NOW, World

W = World()
_TYP = 16  # COSE "typ" header label (RFC 9596)


def _documents() -> list[tuple[SignedDocument[Document], bytes]]:
    """Each kind we sign, with the seed of its signer."""
    payment = W.payment()
    abort = make_abort(W.payee, code=ErrorCode.SESSION_PAYMENT_TIMEOUT, reason="late", now=NOW)
    return [
        (W.allowance(), W.issuer.encode()),
        (W.invoice(), W.payee.encode()),
        (payment, W.payer.encode()),
        (W.receipt(payment), W.payee.encode()),
        (abort, W.payee.encode()),
        (make_issuer_set(W.issuer, issuers=[public_key(W.issuer)], now=NOW), W.issuer.encode()),
        (
            make_revocation_list(W.issuer, keys=[public_key(W.payer)], now=NOW),
            W.issuer.encode(),
        ),
    ]


def _pycose_decode(raw: bytes) -> Sign1Message:
    assert raw[0] == 0xD2, "tag 18 (COSE_Sign1), a one-byte head"
    # Decoded untagged, cbor2 gives the list/dict that pycose's from_cose_obj expects.
    return Sign1Message.from_cose_obj(cbor2.loads(raw[1:]), True)


@pytest.mark.parametrize("index", range(len(Kind)), ids=[k.name for k in Kind])
def test_pycose_verifies_each_kind_we_sign(index: int) -> None:
    signed, _ = _documents()[index]
    message = _pycose_decode(signed.raw)
    message.key = OKPKey(crv=Ed25519, x=signed.signer)
    assert message.verify_signature()
    assert message.phdr[Algorithm] is EdDSA
    assert message.phdr[_TYP] == signed.kind.value
    assert message.uhdr[KID] == key_id(signed.signer)
    assert message.payload == cbor.encode(to_payload(signed.doc))


def test_pycose_rejects_our_document_under_another_key() -> None:
    signed, _ = _documents()[1]
    message = _pycose_decode(signed.raw)
    message.key = OKPKey(crv=Ed25519, x=public_key(W.payer))
    assert not message.verify_signature()


def _pycose_sign(signed: SignedDocument[Document], seed: bytes) -> bytes:
    message = Sign1Message(
        phdr={Algorithm: EdDSA, _TYP: signed.kind.value},
        uhdr={KID: key_id(signed.signer)},
        payload=cbor.encode(to_payload(signed.doc)),
    )
    message.key = OKPKey(crv=Ed25519, d=seed, x=signed.signer)
    encoded: bytes = message.encode()
    return encoded


@pytest.mark.parametrize("index", range(len(Kind)), ids=[k.name for k in Kind])
def test_we_verify_each_kind_pycose_signs(index: int) -> None:
    signed, seed = _documents()[index]
    raw = _pycose_sign(signed, seed)
    assert verify_document(raw, now=NOW, trusted_issuers=W.trusted) == signed.doc
    # Ed25519 is deterministic and both sides encode deterministically: identical bytes.
    assert raw == signed.raw


def test_we_reject_a_pycose_document_signed_by_another_key() -> None:
    signed, _ = _documents()[1]
    raw = _pycose_sign(signed, W.payer.encode())
    with pytest.raises(RemoteProtocolError) as exc:
        open_document(raw)
    assert exc.value.code is ErrorCode.COSE_BAD_SIGNATURE
