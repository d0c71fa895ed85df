"""One end of a session with the device under test, built on the real channel code.

A :class:`Peer` owns a :class:`~protocol.session.channel.Channel` (the plaintext opening,
then Noise XX with the payer as initiator, then transport) over a :class:`~gatt.link.Link`.
Unlike :class:`~protocol.session.PayerSession` / ``PayeeSession`` it follows no state table:
the scripts decide what to send next, so they can send what a broken or hostile peer would,
and they classify what the DUT sends back (:class:`Heard`).

Invariants:
- Whatever the DUT does becomes a :class:`Heard`; nothing it sends raises out of
  :meth:`Peer.hear` (a message that breaks the protocol is ``Heard.broken`` with its code).
- A signed ABORT is only reported as such once its signature verifies, its sender is the
  Noise peer, and the session hashes it names are this session's; otherwise it is broken.
- Faults touch only the runner's own chunks (a header bit, a cut link), after the channel
  made them: the bytes around the fault are exactly what the real protocol code produces.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum, unique

import anyio

from gatt.errors import GattError, LinkClosed
from gatt.link import Link
from p2ppay.roles.driver import Clock
from protocol.documents import Abort
from protocol.errors import ErrorCode, ProtocolError, RemoteProtocolError
from protocol.noise import KeyPair, constant_time_equal, x25519_from_ed25519_public
from protocol.session.channel import Channel
from protocol.session.messages import Message, MessageKind, decode_refusal
from protocol.verify import verify_as

__all__ = ["Heard", "HeardKind", "Peer", "RESERVED_BIT"]

RESERVED_BIT = 0x80
"""Bit 7 of a chunk header: reserved, must be 0 (SESSIONS.md 2.1): a receiver that sees it
set fails with FRAME_BAD_HEADER."""

REASSEMBLY_MS = 10_000
"""How long the runner gives the DUT to finish a message it started."""


@unique
class HeardKind(StrEnum):
    MESSAGE = "message"
    """A whole message (see ``message``; REFUSAL and ABORT are decoded into ``code``)."""
    CLOSED = "closed"
    """The DUT closed the link (State END or disconnection)."""
    SILENT = "silent"
    """Nothing within the wait."""
    BROKEN = "broken"
    """The DUT's bytes broke the protocol (``code`` says how), or its ABORT did not verify."""


@dataclass(frozen=True, kw_only=True)
class Heard:
    """What the DUT did next."""

    kind: HeardKind
    message: Message | None = None
    code: int | None = None
    """The REFUSAL's or ABORT's code, or the protocol error the DUT's bytes caused."""
    detail: str = ""

    def is_message(self, kind: MessageKind) -> bool:
        return self.message is not None and self.message.kind is kind

    def describe(self) -> str:
        if self.kind is HeardKind.MESSAGE:
            assert self.message is not None
            text = self.message.kind.name
            return text if self.code is None else f"{text} {_code(self.code)}"
        if self.kind is HeardKind.BROKEN:
            return f"broken bytes: {_code(self.code or 0)} {self.detail}".strip()
        return {HeardKind.CLOSED: "hang-up", HeardKind.SILENT: "silence"}[self.kind]


def _code(code: int) -> str:
    try:
        return f"{code} {ErrorCode(code).name}"
    except ValueError:
        return str(code)


class Peer:
    """The runner's end of one session (see the module docstring)."""

    def __init__(
        self, link: Link, channel: Channel, *, clock: Clock, peer_is_payee: bool = False
    ) -> None:
        self.link = link
        self.channel = channel
        self._clock = clock
        self.invoice_hash: bytes | None = None
        """This session's invoice hash, once known (an ABORT must name it)."""
        self.payment_hash: bytes | None = None
        """The hash of the payment sent or received in this session, once there is one."""
        self.peer_is_payee = peer_is_payee
        """The DUT is the payee: its ABORTs must name the invoice, which it always has
        (SESSIONS.md 3.4), even before the runner saw it."""

    @classmethod
    def opener(cls, link: Link, identity: KeyPair, *, chunk_size: int, clock: Clock) -> Peer:
        """The payee's end: writes the opening, is the Noise responder."""
        channel = Channel(
            opener=True,
            static=identity,
            chunk_size=chunk_size,
            receive_chunk_size=link.max_chunk,
            reassembly_timeout_ms=REASSEMBLY_MS,
        )
        return cls(link, channel, clock=clock)

    @classmethod
    def answerer(cls, link: Link, *, clock: Clock) -> Peer:
        """The payer's end: reads the opening, is the Noise initiator (static key later)."""
        channel = Channel(
            opener=False, static=None, chunk_size=20, reassembly_timeout_ms=REASSEMBLY_MS
        )
        return cls(link, channel, clock=clock, peer_is_payee=True)

    async def send(
        self, kind: MessageKind, body: bytes, *, malformed: bool = False, cut: bool = False
    ) -> int:
        """Send one message; return how many of its chunks left.

        ``malformed``: set the reserved header bit of the second chunk (the first if alone).
        ``cut``: send about half the chunks (at least one, never all), then close the link.
        """
        if self.channel.needs_static:
            raise RuntimeError("reveal a static key before this message")
        self.channel.write(Message(kind=kind, body=body).encode())
        chunks = self.channel.drain()
        if malformed:
            index = 1 if len(chunks) > 1 else 0
            bad = chunks[index]
            chunks[index] = bytes([bad[0] | RESERVED_BIT]) + bad[1:]
        if cut:
            chunks = chunks[: max(1, len(chunks) // 2)] if len(chunks) > 1 else []
        for chunk in chunks:
            await self.link.send(chunk)
        if cut:
            await self.link.aclose()
        return len(chunks)

    async def hear(self, within: float) -> Heard:
        """The DUT's next whole message, its hang-up, or silence after ``within`` seconds."""
        with anyio.move_on_after(within):
            try:
                return await self._next()
            except LinkClosed:
                return Heard(kind=HeardKind.CLOSED)
            except GattError as exc:
                return Heard(kind=HeardKind.CLOSED, detail=str(exc))
        return Heard(kind=HeardKind.SILENT)

    async def hang_up_within(self, within: float) -> Heard:
        """Wait for the DUT to close the link; what it did instead if it did not."""
        return await self.hear(within)

    async def _next(self) -> Heard:
        while True:
            try:
                chunk = await self._receive()
                whole = self.channel.feed(chunk, self._clock())
                if whole is None:
                    continue
                message = Message.decode(self.channel.read(whole))
            except ProtocolError as exc:
                return Heard(kind=HeardKind.BROKEN, code=int(exc.code), detail=exc.message)
            return self._classify(message)

    async def _receive(self) -> bytes:
        deadline = self.channel.deadline()
        if deadline is None:
            return await self.link.receive()
        with anyio.move_on_after(max(0, deadline - self._clock()) / 1000):
            return await self.link.receive()
        self.channel.check_timer(self._clock())  # raises FRAME_TIMEOUT: the DUT stopped mid-way
        return await self.link.receive()

    def _classify(self, message: Message) -> Heard:
        try:
            if message.kind is MessageKind.REFUSAL:
                return Heard(
                    kind=HeardKind.MESSAGE, message=message, code=decode_refusal(message.body)
                )
            if message.kind is MessageKind.ABORT:
                return Heard(
                    kind=HeardKind.MESSAGE, message=message, code=self._abort_code(message)
                )
        except ProtocolError as exc:
            return Heard(kind=HeardKind.BROKEN, code=int(exc.code), detail=exc.message)
        return Heard(kind=HeardKind.MESSAGE, message=message)

    def _abort_code(self, message: Message) -> int:
        abort = verify_as(message.body, Abort, now=self._clock() // 1000).doc
        self.check_peer_key(abort.sender)
        for named, ours, what in (
            (abort.invoice, self.invoice_hash, "invoice"),
            (abort.payment, self.payment_hash, "payment"),
        ):
            if named is not None and ours is not None and named != ours:
                raise RemoteProtocolError(
                    ErrorCode.SESSION_DOCUMENT_MISMATCH, f"the ABORT names another {what}"
                )
        if abort.invoice is None and (self.invoice_hash is not None or self.peer_is_payee):
            raise RemoteProtocolError(
                ErrorCode.SESSION_DOCUMENT_MISMATCH, "the ABORT does not name the invoice"
            )
        return abort.code

    def check_peer_key(self, ed25519_public: bytes) -> None:
        """HANDSHAKE_PEER_KEY_MISMATCH unless ``ed25519_public`` is the Noise peer's key."""
        remote = self.channel.remote_static
        if remote is None or not constant_time_equal(
            x25519_from_ed25519_public(ed25519_public), remote
        ):
            raise RemoteProtocolError(
                ErrorCode.HANDSHAKE_PEER_KEY_MISMATCH, "signer is not the Noise peer"
            )
