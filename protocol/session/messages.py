"""The envelope every session payload travels in, inside Noise.

Wire form (deterministic CBOR)::

    message = [kind, body]     kind: MessageKind (uint), body: bstr

``body`` is the negotiation offer/answer (:mod:`protocol.negotiation`), a signed document's
exact COSE_Sign1 bytes, or (REFUSAL) the deterministic CBOR of one error code. Keeping
documents as opaque byte strings means the bytes a peer signed are the bytes we store, hash
and forward.

Which kind may arrive where (the session states enforce it)::

    opening (plaintext)   payee -> payer   OFFER
    Noise message 1       payer -> payee   ANSWER | REFUSAL
    Noise message 2       payee -> payer   INVOICE | ABORT
    Noise message 3       payer -> payee   PAYMENT | REFUSAL
    transport             payee -> payer   RECEIPT | ABORT
    transport             payer -> payee   ABORT

A REFUSAL carries no signature and no reason: the payer sends it while its identity is
still hidden (see SESSIONS.md, "identity hiding").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, unique

from protocol import cbor
from protocol.errors import ErrorCode, ProtocolError, RemoteProtocolError

__all__ = ["REFUSAL_CODES", "Message", "MessageKind", "decode_refusal", "encode_refusal"]

REFUSAL_CODES = range(100, 1000)
"""Codes a REFUSAL may carry: an error code, as in an Abort (SPEC.md); a newer peer's codes
this build does not know pass through as integers."""


@unique
class MessageKind(IntEnum):
    """What an envelope's body is."""

    OFFER = 1
    """Negotiation offer (payee, handshake message 1)."""
    ANSWER = 2
    """Negotiation answer (payer, handshake message 2)."""
    INVOICE = 3
    """Signed invoice (payee, handshake message 3)."""
    PAYMENT = 4
    """Signed payment (payer)."""
    RECEIPT = 5
    """Signed receipt (payee)."""
    ABORT = 6
    """Signed abort (either side, once its identity is known to the peer)."""
    REFUSAL = 7
    """Unsigned refusal, only a code (the payer, before it discloses its identity)."""


@dataclass(frozen=True, kw_only=True)
class Message:
    """One session message."""

    kind: MessageKind
    body: bytes

    def encode(self) -> bytes:
        """Deterministic CBOR ``[kind, body]``."""
        return cbor.encode([int(self.kind), self.body])

    @classmethod
    def decode(cls, data: bytes) -> Message:
        """Parse an envelope; anything else raises ``SESSION_MALFORMED_MESSAGE``."""
        try:
            value = cbor.decode(data)
        except ProtocolError as exc:
            raise RemoteProtocolError(ErrorCode.SESSION_MALFORMED_MESSAGE, exc.message) from exc
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], bytes)):
            raise RemoteProtocolError(ErrorCode.SESSION_MALFORMED_MESSAGE, "not [kind, bstr]")
        kind = value[0]
        if isinstance(kind, bool) or not isinstance(kind, int) or kind not in set(MessageKind):
            raise RemoteProtocolError(ErrorCode.SESSION_MALFORMED_MESSAGE, f"kind {kind!r}")
        return cls(kind=MessageKind(kind), body=value[1])


def encode_refusal(code: int) -> bytes:
    """The body of a REFUSAL: deterministic CBOR of ``code`` and nothing else."""
    return cbor.encode(int(code))


def decode_refusal(body: bytes) -> int:
    """The code of a REFUSAL body; anything else is ``SESSION_MALFORMED_MESSAGE``."""
    try:
        value = cbor.decode(body)
    except ProtocolError as exc:
        raise RemoteProtocolError(ErrorCode.SESSION_MALFORMED_MESSAGE, exc.message) from exc
    if isinstance(value, bool) or not isinstance(value, int) or value not in REFUSAL_CODES:
        raise RemoteProtocolError(ErrorCode.SESSION_MALFORMED_MESSAGE, "refusal is not a code")
    return value
