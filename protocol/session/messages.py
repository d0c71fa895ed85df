"""The envelope every session payload travels in, inside Noise.

Wire form (deterministic CBOR)::

    message = [kind, body]     kind: MessageKind (uint), body: bstr

``body`` is the negotiation offer/answer (:mod:`protocol.negotiation`) or a signed document's
exact COSE_Sign1 bytes. Keeping documents as opaque byte strings means the bytes a peer
signed are the bytes we store, hash and forward.

Which kind may arrive where (the session states enforce it)::

    handshake message 1   payee -> payer   OFFER
    handshake message 2   payer -> payee   ANSWER | ABORT
    handshake message 3   payee -> payer   INVOICE | ABORT
    transport             payer -> payee   PAYMENT | ABORT
    transport             payee -> payer   RECEIPT | ABORT
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, unique

from protocol import cbor
from protocol.errors import ErrorCode, ProtocolError, RemoteProtocolError

__all__ = ["Message", "MessageKind"]


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
    """Signed abort (either side, whenever the channel lets it send)."""


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
