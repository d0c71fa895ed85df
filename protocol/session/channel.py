"""The secure byte channel under a session: Noise XX over framed chunks. Knows no money.

Invariants:
- Every complete framed message is one Noise message: handshake messages 1-3 in order,
  then transport messages. There is no other kind of message on the wire.
- Before negotiation, the reassembler accepts messages up to
  :data:`~protocol.negotiation.MIN_MESSAGE_SIZE`; after :meth:`Channel.apply` it enforces
  the negotiated chunk and message sizes in both directions.
- Outgoing chunks are never larger than the chunk size in force when they were made, and no
  message larger than the peer accepts (the same limits) is ever queued.
- After a Noise failure during the handshake the channel cannot write (no keys to trust);
  after a failure in transport it still can, so the session can send an Abort.
"""

from __future__ import annotations

from nacl.signing import SigningKey

from protocol.errors import ErrorCode, LocalProtocolError, ProtocolError
from protocol.framing import (
    MAX_CHUNK_SIZE,
    MIN_CHUNK_SIZE,
    FrameLimits,
    Reassembler,
    chunk_count,
    chunk_message,
)
from protocol.negotiation import MIN_MESSAGE_SIZE, PROLOGUE, Answer
from protocol.noise import (
    DHLEN,
    TAGLEN,
    HandshakeState,
    KeyPair,
    TransportState,
    short_authentication_string,
)

__all__ = ["Channel"]

# Most a handshake message adds to its payload: e (32) + encrypted s (32 + 16) + tag (16).
_HANDSHAKE_OVERHEAD = DHLEN + DHLEN + TAGLEN + TAGLEN


class Channel:
    """Noise_XX handshake and transport over chunks, for one session."""

    def __init__(
        self,
        *,
        initiator: bool,
        identity: SigningKey,
        chunk_size: int,
        receive_chunk_size: int = MAX_CHUNK_SIZE,
        reassembly_timeout_ms: int,
    ) -> None:
        self._handshake = HandshakeState(
            pattern="XX",
            initiator=initiator,
            prologue=PROLOGUE,
            static=KeyPair.from_ed25519_seed(bytes(identity)),
        )
        self._transport: TransportState | None = None
        self._chunk_size = chunk_size
        self._timeout_ms = reassembly_timeout_ms
        self._reassembler = Reassembler(
            FrameLimits(
                max_message_size=MIN_MESSAGE_SIZE,
                max_chunk_size=receive_chunk_size,
                timeout_ms=reassembly_timeout_ms,
                # before the answer the peer may write chunks as small as the BLE minimum
                max_chunks=chunk_count(MIN_MESSAGE_SIZE, MIN_CHUNK_SIZE),
            )
        )
        self._outgoing: list[bytes] = []
        self._broken = False
        self._max_message_size = MIN_MESSAGE_SIZE

    @property
    def chunk_size(self) -> int:
        """Size of the chunks this side writes now."""
        return self._chunk_size

    @property
    def established(self) -> bool:
        """True once the handshake finished: transport messages flow both ways."""
        return self._transport is not None

    @property
    def remote_static(self) -> bytes | None:
        """The peer's X25519 static key, once its handshake message revealed it."""
        return self._handshake.remote_static

    @property
    def sas(self) -> str | None:
        """The short authentication string, once the handshake finished."""
        if self._transport is None:
            return None
        return short_authentication_string(self._handshake.handshake_hash)

    @property
    def can_write(self) -> bool:
        """True if a message written now would be readable by the peer."""
        return not self._broken and (self._transport is not None or self._handshake.my_turn)

    def use_chunk_size(self, chunk_size: int) -> None:
        """Write chunks of ``chunk_size`` from now on (the payer, as soon as it reads the offer)."""
        self._chunk_size = chunk_size

    def apply(self, answer: Answer) -> None:
        """Use the negotiated sizes from now on (both directions)."""
        self._chunk_size = answer.chunk_size
        self._max_message_size = answer.max_message_size
        self._reassembler.set_limits(
            FrameLimits(
                max_message_size=answer.max_message_size,
                max_chunk_size=answer.chunk_size,
                timeout_ms=self._timeout_ms,
            )
        )

    def feed(self, chunk: bytes, now: int) -> bytes | None:
        """One received chunk in; a complete Noise message out, or None."""
        return self._reassembler.feed(chunk, now)

    def deadline(self) -> int | None:
        """When a partly received message times out."""
        return self._reassembler.deadline()

    def check_timer(self, now: int) -> None:
        """Raise FRAME_TIMEOUT if a partial message is overdue."""
        self._reassembler.check_timer(now)

    def read(self, message: bytes) -> bytes:
        """Decrypt one complete Noise message from the peer; return its payload."""
        if self._transport is not None:
            return self._transport.decrypt(message)
        try:
            payload = self._handshake.read_message(message)
        except ProtocolError:
            self._broken = True
            raise
        if self._handshake.finished:
            self._transport = self._handshake.transport()
        return payload

    def write(self, payload: bytes) -> None:
        """Encrypt ``payload`` as our next Noise message and queue its chunks."""
        if not self.can_write:
            raise LocalProtocolError(ErrorCode.NOISE_OUT_OF_TURN, "channel cannot write now")
        # Checked before any key or nonce moves; the peer's reassembler would refuse more.
        overhead = TAGLEN if self._transport is not None else _HANDSHAKE_OVERHEAD
        if len(payload) + overhead > self._max_message_size:
            raise LocalProtocolError(ErrorCode.FRAME_OVERSIZED, f"{len(payload)}-byte payload")
        if self._transport is not None:
            message = self._transport.encrypt(payload)
        else:
            message = self._handshake.write_message(payload)
            if self._handshake.finished:
                self._transport = self._handshake.transport()
        self._outgoing.extend(chunk_message(message, self._chunk_size))

    def drain(self) -> list[bytes]:
        """The chunks queued so far, in order; the queue is emptied."""
        out, self._outgoing = self._outgoing, []
        return out
