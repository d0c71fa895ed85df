"""The secure byte channel under a session: a plaintext opening, then Noise XX over framed
chunks, with the payer as the Noise initiator. Knows no money.

Message order on the wire (``opener`` = the payee, who speaks first)::

    opening           opener -> other    plaintext; becomes part of the Noise prologue
    Noise message 1   other  -> opener   e                    (payload readable, hashed)
    Noise message 2   opener -> other    e, ee, s, es         (the opener's static key)
    Noise message 3   other  -> opener   s, se                (the other's static key)
    transport         both ways

Invariants:
- Every complete framed message is the opening, then handshake messages 1-3 in order, then
  transport messages. There is no other kind of message on the wire.
- The Noise prologue is :data:`~protocol.negotiation.PROLOGUE` followed by the opening's
  exact bytes, so changing the opening in flight fails Noise message 2.
- The non-opener has no static key until :meth:`Channel.reveal` gives it one, which it must
  do before writing Noise message 3: nothing before that message carries a key of its own
  that lives longer than the session.
- Before negotiation, the reassembler accepts messages up to
  :data:`~protocol.negotiation.MIN_MESSAGE_SIZE`; after :meth:`Channel.apply` it enforces
  the negotiated chunk and message sizes in both directions.
- Outgoing chunks are never larger than the chunk size in force when they were made, and no
  message larger than the peer accepts (the same limits) is ever queued.
- After a Noise failure during the handshake the channel cannot write (no keys to trust);
  after a failure in transport it still can, so the session can send an Abort.
- The short authentication string exists from Noise message 2 on: its hash binds both
  ephemerals, the opener's static key, the opening, the answer and message 2's payload.
"""

from __future__ import annotations

from protocol.errors import ErrorCode, LocalProtocolError, ProtocolError, RemoteProtocolError
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
_SAS_MESSAGE = 2
"""The SAS is taken from the handshake hash after this Noise message (the opener's)."""


class Channel:
    """Opening, Noise_XX handshake (the non-opener initiates) and transport, for one session."""

    def __init__(
        self,
        *,
        opener: bool,
        static: KeyPair | None,
        chunk_size: int,
        receive_chunk_size: int = MAX_CHUNK_SIZE,
        reassembly_timeout_ms: int,
        ephemeral: KeyPair | None = None,
    ) -> None:
        """``static``: the opener's key (required); the other side passes None and reveals later.

        ``ephemeral``: this session's Noise ephemeral key pair (the sessions take it from
        their injected key source); None: a fresh random one.
        """
        if opener and static is None:
            raise LocalProtocolError(ErrorCode.HANDSHAKE_BAD_KEY, "the opener needs its key")
        self._opener = opener
        self._static = static
        self._ephemeral = ephemeral
        self._handshake: HandshakeState | None = None
        self._sas_hash: bytes | None = None
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
    def opened(self) -> bool:
        """True once the opening was written (opener) or read (the other side)."""
        return self._handshake is not None

    @property
    def remote_static(self) -> bytes | None:
        """The peer's X25519 static key, once its handshake message revealed it."""
        return self._handshake.remote_static if self._handshake is not None else None

    @property
    def revealed(self) -> bool:
        """True once this side's static key was sent (in Noise message 2 or 3)."""
        if self._handshake is None:
            return False
        return self._handshake.message_index >= (2 if self._opener else 3)

    @property
    def needs_static(self) -> bool:
        """True if the next message written must carry a static key this side has not got."""
        return (
            self._handshake is not None
            and self._handshake.message_index == 2
            and self._static is None
        )

    @property
    def sas(self) -> str | None:
        """The short authentication string, from Noise message 2 on (both sides)."""
        if self._sas_hash is None:
            return None
        return short_authentication_string(self._sas_hash)

    @property
    def can_write(self) -> bool:
        """True if a message written now would be readable by the peer."""
        if self._broken:
            return False
        if self._handshake is None:
            return self._opener
        return self._transport is not None or self._handshake.my_turn

    def reveal(self, static: KeyPair) -> None:
        """Use ``static`` as this side's Noise static key (before Noise message 3 only)."""
        if self._opener or self._static is not None or self._handshake is None:
            raise LocalProtocolError(ErrorCode.SESSION_API_MISUSE, "no static key to reveal now")
        self._handshake.set_static(static)
        self._static = static

    def _open(self, opening: bytes) -> HandshakeState:
        self._handshake = HandshakeState(
            pattern="XX",
            initiator=not self._opener,
            prologue=PROLOGUE + opening,
            static=self._static,
            ephemeral=self._ephemeral,
        )
        return self._handshake

    def _after_handshake_message(self, handshake: HandshakeState) -> None:
        if handshake.message_index == _SAS_MESSAGE:
            self._sas_hash = handshake.handshake_hash
        if handshake.finished:
            self._transport = handshake.transport()

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
        """The payload of one complete message from the peer (the opening, or decrypted)."""
        if self._transport is not None:
            return self._transport.decrypt(message)
        handshake = self._handshake
        if handshake is None:
            if self._opener:
                raise RemoteProtocolError(ErrorCode.NOISE_OUT_OF_TURN, "the opening is ours")
            self._open(message)
            return message
        try:
            payload = handshake.read_message(message)
        except ProtocolError:
            self._broken = True
            raise
        self._after_handshake_message(handshake)
        return payload

    def write(self, payload: bytes) -> None:
        """Send ``payload`` as our next message (the opening, or encrypted) and queue its chunks."""
        if not self.can_write:
            raise LocalProtocolError(ErrorCode.NOISE_OUT_OF_TURN, "channel cannot write now")
        if self.needs_static:
            raise LocalProtocolError(ErrorCode.HANDSHAKE_BAD_KEY, "reveal a static key first")
        # Checked before any key or nonce moves; the peer's reassembler would refuse more.
        overhead = TAGLEN if self._transport is not None else _HANDSHAKE_OVERHEAD
        if len(payload) + overhead > self._max_message_size:
            raise LocalProtocolError(ErrorCode.FRAME_OVERSIZED, f"{len(payload)}-byte payload")
        handshake = self._handshake
        if self._transport is not None:
            message = self._transport.encrypt(payload)
        elif handshake is None:
            self._open(payload)
            message = payload
        else:
            message = handshake.write_message(payload)
            self._after_handshake_message(handshake)
        self._outgoing.extend(chunk_message(message, self._chunk_size))

    def drain(self) -> list[bytes]:
        """The chunks queued so far, in order; the queue is emptied."""
        out, self._outgoing = self._outgoing, []
        return out
