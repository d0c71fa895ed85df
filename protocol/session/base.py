"""What payer and payee sessions share: the sans-I/O surface, events, timers and failure.

The surface (aioquic style: input is processed at once, output is queued)::

    receive_data(data, now)   one chunk (one ATT value) from the peer
    next_event()              an Event, or NEED_DATA when there is none queued
    data_to_send()            chunks to write, in order, each <= the negotiated chunk size
    get_timer()               when to call handle_timer next (ms), or None
    handle_timer(now)         the deadline passed

Time: ``now`` is an integer count of **milliseconds** on any monotonic-ish clock the app
chooses, except that documents carry Unix seconds, so it must be Unix time in ms
(``now // 1000`` is the document time). App inputs without a ``now`` use the latest time
the session was given.

Invariants:
- The state changes only through the subclass's transition table (:mod:`.states`). A
  received message the table does not allow, any invalid byte, failed check or expired
  deadline moves the session to ``FAILED``, tells the peer when the channel can carry it
  (a signed Abort, or the payer's unsigned Refusal while its identity is hidden: see
  :meth:`SessionBase._send_abort`), and queues exactly one :class:`~.events.Failed`.
  Nothing raises for the peer's faults: ``receive_data`` and ``handle_timer`` never raise.
- App misuse (an input the state does not allow, a wrong record id) raises
  :class:`~protocol.errors.LocalProtocolError` and changes nothing.
- Data or timers after a terminal state are ignored: the link may still deliver bytes.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping
from enum import Enum
from typing import Generic, TypeVar

from nacl.signing import SigningKey

from protocol.builders import make_abort
from protocol.documents import MAX_REASON_BYTES, Abort, Invoice, Payment, Receipt
from protocol.errors import ErrorCode, LocalProtocolError, ProtocolError, RemoteProtocolError
from protocol.noise import constant_time_equal, x25519_from_ed25519_public
from protocol.session.channel import Channel
from protocol.session.events import (
    NEED_DATA,
    Event,
    Failed,
    NeedData,
    PersistRequired,
    RecordKind,
    record_id_of,
)
from protocol.session.messages import Message, MessageKind
from protocol.session.states import Input
from protocol.verify import SignedDocument, open_as

__all__ = ["SessionBase"]

S = TypeVar("S", bound=Enum)


class SessionBase(ABC, Generic[S]):
    """Shared machinery; :class:`PayerSession` and :class:`PayeeSession` add the money."""

    def __init__(
        self,
        *,
        table: Mapping[tuple[S, Input], S],
        initial: S,
        terminal: tuple[S, ...],
        channel: Channel,
        identity: SigningKey,
    ) -> None:
        self._table = table
        self._state = initial
        self._terminal = terminal
        self._channel = channel
        self._identity = identity
        self._events: deque[Event] = deque()
        self._now = 0
        self._deadline: int | None = None
        self._timeout_code = ErrorCode.SESSION_HANDSHAKE_TIMEOUT
        self._pending_record: str | None = None

    # --- the sans-I/O surface ---------------------------------------------------------

    @property
    def state(self) -> S:
        """The current state."""
        return self._state

    @property
    def sas(self) -> str | None:
        """Short authentication string for the UI, once the handshake finished."""
        return self._channel.sas

    def receive_data(self, data: bytes, now: int) -> None:
        """Process one chunk received from the peer at ``now`` (ms)."""
        self._tick(now)
        if self._state in self._terminal:
            return
        try:
            message = self._channel.feed(data, now)
            if message is None:
                return
            in_handshake = not self._channel.established
            envelope = Message.decode(self._channel.read(message))
            if envelope.kind is MessageKind.ABORT:
                self._on_abort(envelope.body)
            elif envelope.kind is MessageKind.REFUSAL:
                self._on_refusal(envelope.body, in_handshake=in_handshake)
            else:
                self._on_message(envelope)
        except ProtocolError as exc:
            self._fail(exc.code, exc.message)

    def next_event(self) -> Event | NeedData:
        """The next queued event, or :data:`NEED_DATA`."""
        return self._events.popleft() if self._events else NEED_DATA

    def data_to_send(self) -> list[bytes]:
        """Chunks to write to the peer now, in order (the queue is emptied)."""
        return self._channel.drain()

    def get_timer(self) -> int | None:
        """The next deadline in ms, or None."""
        if self._state in self._terminal:
            return None
        deadlines = [d for d in (self._deadline, self._channel.deadline()) if d is not None]
        return min(deadlines, default=None)

    def handle_timer(self, now: int) -> None:
        """Fail the session if a deadline passed at ``now`` (ms); else do nothing."""
        self._tick(now)
        if self._state in self._terminal:
            return
        try:
            self._channel.check_timer(now)
        except ProtocolError as exc:
            self._fail(exc.code, exc.message, cause=Input.TIMEOUT)
            return
        if self._deadline is not None and now >= self._deadline:
            self._fail(self._timeout_code, "phase deadline passed", cause=Input.TIMEOUT)

    # --- for subclasses ---------------------------------------------------------------

    @abstractmethod
    def _on_message(self, message: Message) -> None:
        """Handle a non-abort message; raise RemoteProtocolError to fail the session."""

    @abstractmethod
    def _phase(self, state: S) -> tuple[int, ErrorCode] | None:
        """(timeout in ms, code) of the wait in ``state``, or None if it has no deadline."""

    def _tick(self, now: int | None) -> int:
        if now is not None:
            self._now = max(self._now, now)
        return self._now

    def _accepts(self, *inputs: Input) -> bool:
        return any((self._state, event) in self._table for event in inputs)

    def _expect(self, *inputs: Input) -> None:
        """Raise SESSION_UNEXPECTED_MESSAGE unless the state takes one of ``inputs``."""
        if not self._accepts(*inputs):
            raise RemoteProtocolError(
                ErrorCode.SESSION_UNEXPECTED_MESSAGE, f"not in state {self._state.name}"
            )

    def _check_app_input(self, event: Input) -> None:
        if not self._accepts(event):
            raise LocalProtocolError(
                ErrorCode.SESSION_API_MISUSE, f"{event.value} in state {self._state.name}"
            )

    def _move(self, event: Input) -> None:
        target = self._table.get((self._state, event))
        if target is None:  # a handler moved without _expect: our bug, never the peer's
            raise LocalProtocolError(ErrorCode.SESSION_API_MISUSE, f"{event} in {self._state}")
        self._state = target
        phase = self._phase(target)
        if phase is None:
            self._deadline = None
        else:
            self._deadline = self._now + phase[0]
            self._timeout_code = phase[1]

    def _require_persist(
        self,
        kind: RecordKind,
        document: SignedDocument[Payment] | SignedDocument[Receipt],
        *,
        invoice: SignedDocument[Invoice],
    ) -> None:
        """Emit PersistRequired for ``document``; only its record id unlocks ``persisted``."""
        self._pending_record = record_id_of(kind, document.hash)
        counter = document.doc.counter if isinstance(document.doc, Payment) else None
        self._events.append(
            PersistRequired(
                record_id=self._pending_record,
                kind=kind,
                document=document,
                invoice=invoice,
                counter=counter,
            )
        )

    def _confirm_persisted(self, record_id: str, now: int | None) -> None:
        """Check an app's ``persisted(record_id)`` call; raise and change nothing if wrong."""
        self._check_app_input(Input.PERSISTED)
        if record_id != self._pending_record:
            raise LocalProtocolError(ErrorCode.SESSION_PERSIST_MISMATCH, record_id)
        self._pending_record = None
        self._tick(now)

    def _send(self, kind: MessageKind, body: bytes) -> None:
        self._channel.write(Message(kind=kind, body=body).encode())

    def _check_peer_key(self, ed25519_public: bytes) -> None:
        """Raise HANDSHAKE_PEER_KEY_MISMATCH unless ``ed25519_public`` is the Noise peer."""
        remote = self._channel.remote_static
        if remote is None or not constant_time_equal(
            x25519_from_ed25519_public(ed25519_public), remote
        ):
            raise RemoteProtocolError(ErrorCode.HANDSHAKE_PEER_KEY_MISMATCH)

    def _on_refusal(self, body: bytes, *, in_handshake: bool) -> None:
        """An unsigned refusal: only the payee takes one (see PayeeSession)."""
        raise RemoteProtocolError(ErrorCode.SESSION_UNEXPECTED_MESSAGE, "REFUSAL")

    def _session_hashes(self) -> tuple[bytes | None, bytes | None]:
        """(invoice hash, payment hash) this side holds now; None where it has none yet."""
        return None, None

    def _on_abort(self, body: bytes) -> None:
        abort = open_as(body, Abort).doc
        self._check_peer_key(abort.sender)
        # An Abort names the session it ends: one of another invoice or payment (a replay
        # from an earlier session) is refused, so it cannot pass for this payee's verdict.
        invoice, payment = self._session_hashes()
        if abort.invoice is not None and invoice is not None and abort.invoice != invoice:
            raise RemoteProtocolError(
                ErrorCode.SESSION_DOCUMENT_MISMATCH, "abort of another invoice"
            )
        if abort.payment is not None and payment is not None and abort.payment != payment:
            raise RemoteProtocolError(
                ErrorCode.SESSION_DOCUMENT_MISMATCH, "abort of another payment"
            )
        code = abort.error_code or ErrorCode.SESSION_PEER_ABORTED
        self._fail(
            code, abort.reason, cause=Input.ABORT, by_peer=True, peer_code=abort.code, abort=body
        )

    def _fail(
        self,
        code: ErrorCode,
        reason: str,
        *,
        cause: Input = Input.ERROR,
        by_peer: bool = False,
        peer_code: int | None = None,
        abort: bytes | None = None,
    ) -> None:
        """Go to FAILED: Abort to the peer if possible (not in answer to one), then Failed."""
        if self._state in self._terminal:
            return
        reason = reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore")
        if not by_peer and self._channel.can_write:
            self._send_abort(code, reason)
        self._move(cause)
        self._events.append(
            Failed(
                code=int(code) if peer_code is None else peer_code,
                reason=reason,
                by_peer=by_peer,
                abort=abort,
            )
        )

    def _send_abort(self, code: ErrorCode, reason: str) -> None:
        # If even that fails (nonce exhausted...), the peer times out; Failed still reaches our app.
        with contextlib.suppress(ProtocolError):
            invoice, payment = self._session_hashes()
            abort = make_abort(
                self._identity,
                code=code,
                reason=reason,
                now=self._now // 1000,
                invoice_hash=invoice,
                payment_hash=payment if invoice is not None else None,
            )
            self._send(MessageKind.ABORT, abort.raw)
