"""COSE_Sign1 (RFC 9052) with EdDSA/Ed25519, exactly as p2ppay profiles it.

Wire form (deterministic CBOR)::

    18([ << {1: -8, 16: typ} >>,  {4: kid},  << payload map >>,  signature(64) ])

Invariants:
- The protected header is exactly ``{1: -8 (EdDSA), 16: typ}`` (label 16 is ``typ``, RFC
  9596) where ``typ`` names the document kind; since the signature covers the protected
  header, a signature made for one kind never verifies as another (domain separation).
- The unprotected header is exactly ``{4: kid}``; external AAD is empty; the payload is
  attached. Nothing else is accepted, so an independent COSE library that verifies our
  bytes verifies exactly what we verify.
- This module checks structure and signatures only; what the payload means is
  :mod:`protocol.documents`' job.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

import cbor2
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from protocol import cbor
from protocol.errors import ErrorCode, RemoteProtocolError
from protocol.keys import KID_SIZE, key_id, public_key

__all__ = ["ALG_EDDSA", "LIST_KINDS", "SIGNATURE_SIZE", "Kind", "Sign1", "parse_sign1", "sign1"]

ALG_EDDSA = -8
"""COSE algorithm id of EdDSA (RFC 9053); with an OKP Ed25519 key it means Ed25519."""

SIGNATURE_SIZE = 64
"""Bytes in an Ed25519 signature."""

_HDR_ALG = 1
_HDR_KID = 4
_HDR_TYP = 16


class Kind(Enum):
    """A p2ppay document kind; the value is its COSE ``typ`` (a media type)."""

    INVOICE = "application/p2ppay-invoice+cbor"
    """A payee's request for money."""
    PAYMENT = "application/p2ppay-payment+cbor"
    """A payer's signed payment against an invoice, carrying its allowance."""
    RECEIPT = "application/p2ppay-receipt+cbor"
    """A payee's signed verdict on a payment."""
    ALLOWANCE = "application/p2ppay-allowance+cbor"
    """An issuer's credential: how much a wallet may spend offline, and when."""
    ABORT = "application/p2ppay-abort+cbor"
    """A signed, typed reason why a session ended without a payment."""
    ISSUER_SET = "application/p2ppay-issuer-set+cbor"
    """The ledger's signed set of trusted allowance issuer keys (HTTP only)."""
    REVOCATION_LIST = "application/p2ppay-revocation-list+cbor"
    """The ledger's signed, append-only list of revoked wallet keys (HTTP only)."""


LIST_KINDS = frozenset({Kind.ISSUER_SET, Kind.REVOCATION_LIST})
"""Kinds the ledger publishes over HTTP; they may be up to ``cbor.MAX_LIST_SIZE`` bytes."""


# The one protected header each kind may carry, encoded once; parsing is a dict lookup.
_PROTECTED: MappingProxyType[Kind, bytes] = MappingProxyType(
    {kind: cbor.encode({_HDR_ALG: ALG_EDDSA, _HDR_TYP: kind.value}) for kind in Kind}
)
_KIND_BY_PROTECTED: MappingProxyType[bytes, Kind] = MappingProxyType(
    {value: kind for kind, value in _PROTECTED.items()}
)
_KIND_BY_TYP: MappingProxyType[str, Kind] = MappingProxyType({k.value: k for k in Kind})


@dataclass(frozen=True, kw_only=True, slots=True)
class Sign1:
    """A structurally valid COSE_Sign1 whose signature is not yet checked."""

    kind: Kind
    kid: bytes
    protected: bytes
    payload: bytes
    signature: bytes

    def to_be_signed(self) -> bytes:
        """The RFC 9052 Sig_structure: ["Signature1", protected, h'', payload]."""
        return _sig_structure(self.protected, self.payload)

    def verify(self, public: bytes) -> None:
        """Raise COSE_BAD_SIGNATURE unless the signature verifies under ``public``."""
        try:
            VerifyKey(public).verify(self.to_be_signed(), self.signature)
        except (BadSignatureError, ValueError) as exc:
            raise RemoteProtocolError(ErrorCode.COSE_BAD_SIGNATURE) from exc


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def sign1(signing_key: SigningKey, kind: Kind, payload: bytes) -> bytes:
    """Sign ``payload`` (already deterministic CBOR) as a COSE_Sign1 of ``kind``."""
    protected = _PROTECTED[kind]
    signature = signing_key.sign(_sig_structure(protected, payload)).signature
    kid = key_id(public_key(signing_key))
    return cbor.encode(
        cbor2.CBORTag(cbor.COSE_SIGN1_TAG, [protected, {_HDR_KID: kid}, payload, signature])
    )


def parse_sign1(data: bytes, *, max_size: int = cbor.MAX_SIZE) -> Sign1:
    """Decode the COSE_Sign1 structure strictly; the signature is not checked here.

    ``max_size`` bounds the whole document (raise it only for :data:`LIST_KINDS`).
    """
    item = cbor.decode(data, tagged=True, max_size=max_size)
    if not isinstance(item, cbor2.CBORTag) or not isinstance(item.value, list):
        raise RemoteProtocolError(ErrorCode.COSE_NOT_SIGN1, "not a tag-18 array")
    parts = item.value
    if len(parts) != 4:
        raise RemoteProtocolError(ErrorCode.COSE_NOT_SIGN1, f"{len(parts)} elements, not 4")
    protected, unprotected, payload, signature = parts
    if not isinstance(protected, bytes) or not isinstance(unprotected, dict):
        raise RemoteProtocolError(ErrorCode.COSE_NOT_SIGN1, "bad header types")
    if not isinstance(payload, bytes) or not isinstance(signature, bytes):
        raise RemoteProtocolError(ErrorCode.COSE_NOT_SIGN1, "detached payload or bad types")
    kind = _KIND_BY_PROTECTED.get(protected) or _diagnose_protected(protected)
    if len(unprotected) != 1 or _HDR_KID not in unprotected:
        raise RemoteProtocolError(ErrorCode.COSE_BAD_HEADER, "unprotected must be {4: kid}")
    kid = unprotected[_HDR_KID]
    if not isinstance(kid, bytes) or len(kid) != KID_SIZE:
        raise RemoteProtocolError(ErrorCode.COSE_BAD_HEADER, f"kid must be {KID_SIZE} bytes")
    if len(signature) != SIGNATURE_SIZE:
        raise RemoteProtocolError(ErrorCode.COSE_BAD_SIGNATURE, "signature is not 64 bytes")
    return Sign1(kind=kind, kid=kid, protected=protected, payload=payload, signature=signature)


def _diagnose_protected(protected: bytes) -> Kind:
    """Name what is wrong with a protected header that is not one of the known ones."""
    header = cbor.decode(protected)
    if not isinstance(header, dict):
        raise RemoteProtocolError(ErrorCode.COSE_BAD_HEADER, "protected header is not a map")
    if header.get(_HDR_ALG) != ALG_EDDSA or isinstance(header.get(_HDR_ALG), bool):
        raise RemoteProtocolError(ErrorCode.COSE_UNSUPPORTED_ALG, repr(header.get(_HDR_ALG)))
    typ = header.get(_HDR_TYP)
    if not isinstance(typ, str) or typ not in _KIND_BY_TYP:
        raise RemoteProtocolError(ErrorCode.COSE_UNKNOWN_KIND, repr(typ))
    # alg and typ are right, yet the bytes differ: extra labels (deterministic CBOR leaves
    # no other way for a {1: -8, 16: typ} map to be spelled differently).
    raise RemoteProtocolError(ErrorCode.COSE_BAD_HEADER, "unexpected protected labels")
