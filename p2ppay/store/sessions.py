"""The session log: every run of a role, its state, and how it ended.

States and moves (:data:`TRANSITIONS` is the source; ``*`` marks terminal states)::

    payer:  open ──> payment_persisted ──> completed*
              │               ├──> resumable ──> completed*   (a retry got the receipt)
              │               │        └──> refused*
              │               └──> refused*     (the payee's signed Abort: no receipt comes)
              └──> failed*
    payee:  open ──> payment_persisted ──> receipt_persisted ──> completed*
              │  │            └──> resumable ──> receipt_persisted
              │  └──> receipt_persisted                       (a retry of a paid invoice)
              └──> failed*

Invariants:
- A session's state follows :data:`TRANSITIONS` (data, per role); any other change raises
  ``BAD_TRANSITION``. Every change is also appended to ``session_events`` (the audit trail).
- The state is a function of what is durable: a session whose invoice has a persisted
  payment is never ``failed`` (it ends ``resumable``, or ``completed`` once a receipt exists),
  and one without a persisted payment never ends anything but ``failed``. :func:`settle_state`
  computes it; ``fail`` and the recovery at open both use it, so they cannot disagree.
  The one exception is ``refused`` (payer): a payment on disk that the payee refused with a
  signed Abort. It is set only by :meth:`SessionLog.refuse`, in the same transaction that
  keeps the Abort and marks the outbox record ``rejected``, so the three never disagree.
- Recovery (:func:`recover`) runs when the store is opened for writing. The writer lock
  guarantees no other process is running a session, so every unfinished session found is
  an orphan of a crash and is moved to its settled state, marked ``recovered``.
- History shows the latest session per (role, invoice) plus sessions that never got an
  invoice, newest first; earlier attempts stay in the log.
"""

from __future__ import annotations

import secrets
import sqlite3
from typing import Any

from p2ppay.errors import AppErrorCode, StoreError
from p2ppay.store import aborts as aborts_module
from p2ppay.store import outbox as outbox_module
from p2ppay.store.connection import Database
from p2ppay.store.records import (
    HistoryEntry,
    OutboxStatus,
    RecoveredSession,
    SessionRecord,
    SessionStatus,
    Side,
)

__all__ = ["TRANSITIONS", "UNFINISHED", "SessionLog"]

_S = SessionStatus
TRANSITIONS: dict[Side, dict[SessionStatus, frozenset[SessionStatus]]] = {
    Side.PAYER: {
        _S.OPEN: frozenset({_S.PAYMENT_PERSISTED, _S.FAILED}),
        _S.PAYMENT_PERSISTED: frozenset({_S.COMPLETED, _S.RESUMABLE, _S.REFUSED}),
        _S.RESUMABLE: frozenset({_S.COMPLETED, _S.REFUSED}),
        _S.COMPLETED: frozenset(),
        _S.FAILED: frozenset(),
        _S.REFUSED: frozenset(),
    },
    Side.PAYEE: {
        _S.OPEN: frozenset({_S.PAYMENT_PERSISTED, _S.RECEIPT_PERSISTED, _S.FAILED}),
        _S.PAYMENT_PERSISTED: frozenset({_S.RECEIPT_PERSISTED, _S.RESUMABLE}),
        _S.RECEIPT_PERSISTED: frozenset({_S.COMPLETED}),
        _S.RESUMABLE: frozenset({_S.RECEIPT_PERSISTED}),
        _S.COMPLETED: frozenset(),
        _S.FAILED: frozenset(),
    },
}
"""Allowed state changes per role. A state absent from a role's table is never entered."""

UNFINISHED = frozenset({_S.OPEN, _S.PAYMENT_PERSISTED, _S.RECEIPT_PERSISTED})
"""States a live session passes through; found at open, they mean the process died."""

_COLUMNS = (
    "session_id, role, state, invoice_id, peer_key, peer_label, started_at, updated_at, "
    "error_code, detail, recovered"
)


def _record(row: Any) -> SessionRecord:
    # STRICT tables guarantee each column's type, so values are used as SQLite returns them.
    sid, role, state, invoice_id, peer_key, peer_label, started, updated, code, detail, rec = row
    return SessionRecord(
        session_id=sid,
        role=Side(role),
        state=SessionStatus(state),
        invoice_id=invoice_id,
        peer_key=peer_key,
        peer_label=peer_label,
        started_at=started,
        updated_at=updated,
        error_code=code,
        detail=detail,
        recovered=bool(rec),
    )


def get(conn: sqlite3.Connection, session_id: str) -> SessionRecord:
    """The session, or ``STORE_NOT_FOUND``."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,)
    ).fetchone()
    if row is None:
        raise StoreError(AppErrorCode.STORE_NOT_FOUND, f"no session {session_id}")
    return _record(row)


def durable_facts(conn: sqlite3.Connection, invoice_id: bytes | None) -> tuple[bool, bool]:
    """Whether a payment and a receipt are persisted for ``invoice_id``."""
    if invoice_id is None:
        return False, False
    payment = conn.execute("SELECT 1 FROM payments WHERE invoice_id = ?", (invoice_id,))
    has_payment = payment.fetchone() is not None
    receipt = conn.execute("SELECT 1 FROM receipts WHERE invoice_id = ?", (invoice_id,))
    return has_payment, receipt.fetchone() is not None


def settle_state(role: Side, *, has_payment: bool, has_receipt: bool) -> SessionStatus:
    """Where a session that stops now must end, given what is on disk."""
    if not has_payment:
        return _S.FAILED
    if has_receipt:
        return _S.COMPLETED
    return _S.RESUMABLE


def set_state(
    conn: sqlite3.Connection,
    session_id: str,
    state: SessionStatus,
    *,
    now: int,
    error_code: int | None = None,
    detail: str = "",
    recovered: bool = False,
) -> SessionRecord:
    """Move a session to ``state`` if the table allows it; a same-state call is a no-op."""
    current = get(conn, session_id)
    if current.state is state:
        return current
    if state not in TRANSITIONS[current.role].get(current.state, frozenset()):
        raise StoreError(
            AppErrorCode.BAD_TRANSITION,
            f"{current.role.value} session {session_id}: {current.state.value} -> {state.value}",
        )
    conn.execute(
        "UPDATE sessions SET state = ?, updated_at = ?, error_code = coalesce(?, error_code), "
        "detail = CASE WHEN ? = '' THEN detail ELSE ? END, recovered = recovered OR ? "
        "WHERE session_id = ?",
        (state.value, now, error_code, detail, detail, int(recovered), session_id),
    )
    conn.execute(
        "INSERT INTO session_events (session_id, at, state, error_code, detail) "
        "VALUES (?, ?, ?, ?, ?)",
        (session_id, now, state.value, error_code, detail),
    )
    return get(conn, session_id)


def attach_invoice(
    conn: sqlite3.Connection,
    session_id: str,
    invoice_id: bytes,
    *,
    now: int,
    catch_up: bool = True,
) -> SessionRecord:
    """Tie a session to an invoice; with ``catch_up``, jump to the money already on disk."""
    current = get(conn, session_id)
    if current.invoice_id is not None and current.invoice_id != invoice_id:
        raise StoreError(
            AppErrorCode.STORE_CONFLICT, f"session {session_id} already has another invoice"
        )
    if current.invoice_id is None:
        conn.execute(
            "UPDATE sessions SET invoice_id = ?, updated_at = ? WHERE session_id = ?",
            (invoice_id, now, session_id),
        )
    has_payment, has_receipt = durable_facts(conn, invoice_id)
    if catch_up and current.state is _S.OPEN and has_payment:
        # A retry of an invoice already paid: this session resumes from what is durable.
        target = (
            _S.RECEIPT_PERSISTED
            if has_receipt and current.role is Side.PAYEE
            else (_S.PAYMENT_PERSISTED)
        )
        return set_state(conn, session_id, target, now=now, detail="resumed")
    return get(conn, session_id)


def complete_others(
    conn: sqlite3.Connection, *, role: Side, invoice_id: bytes, except_id: str, now: int
) -> None:
    """Close earlier attempts at an invoice once a later session finished it."""
    rows = conn.execute(
        "SELECT session_id, state FROM sessions WHERE invoice_id = ? AND role = ? "
        "AND session_id != ? AND state IN ('resumable', 'payment_persisted')",
        (invoice_id, role.value, except_id),
    ).fetchall()
    for other_id, _ in rows:
        target = _S.COMPLETED if role is Side.PAYER else _S.RECEIPT_PERSISTED
        set_state(conn, str(other_id), target, now=now, detail=f"finished by session {except_id}")
        if role is Side.PAYEE:
            set_state(conn, str(other_id), _S.COMPLETED, now=now)


def recover(conn: sqlite3.Connection, *, now: int) -> tuple[RecoveredSession, ...]:
    """Move every unfinished session to its settled state (see the module invariants)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM sessions WHERE state IN (?, ?, ?) ORDER BY seq",
        tuple(s.value for s in (_S.OPEN, _S.PAYMENT_PERSISTED, _S.RECEIPT_PERSISTED)),
    ).fetchall()
    recovered: list[RecoveredSession] = []
    for row in rows:
        session = _record(row)
        has_payment, has_receipt = durable_facts(conn, session.invoice_id)
        target = settle_state(session.role, has_payment=has_payment, has_receipt=has_receipt)
        detail = "interrupted; recovered at restart"
        if target is _S.COMPLETED and session.role is Side.PAYEE:
            detail = "interrupted after the receipt was stored; delivery unconfirmed"
            if session.state is _S.PAYMENT_PERSISTED:
                set_state(conn, session.session_id, _S.RECEIPT_PERSISTED, now=now)
        set_state(
            conn,
            session.session_id,
            target,
            now=now,
            error_code=int(AppErrorCode.SESSION_INTERRUPTED),
            detail=detail,
            recovered=True,
        )
        recovered.append(
            RecoveredSession(
                session_id=session.session_id,
                role=session.role,
                invoice_id=session.invoice_id,
                previous=session.state,
                state=target,
            )
        )
    return tuple(recovered)


PROGRESS: dict[SessionStatus, int] = {
    SessionStatus.OPEN: 0,
    SessionStatus.PAYMENT_PERSISTED: 1,
    SessionStatus.RESUMABLE: 1,
    SessionStatus.RECEIPT_PERSISTED: 2,
    SessionStatus.COMPLETED: 3,
}
"""How far a session got in durable steps; FAILED has no rank (nothing may follow it)."""


def advance(
    conn: sqlite3.Connection,
    session_id: str | None,
    *,
    invoice_id: bytes,
    role: Side,
    state: SessionStatus,
    now: int,
) -> None:
    """A money step's move of session ``session_id`` (if any) to ``state``, in its transaction.

    Ties the invoice to the session; never moves a session backwards (a repeat of a step it
    already passed changes nothing); a payer session completing from ``open`` passes
    through ``payment_persisted``. ``BAD_TRANSITION`` for a session of the other role.
    """
    if session_id is None:
        return
    session = attach_invoice(conn, session_id, invoice_id, now=now, catch_up=False)
    if session.role is not role:
        raise StoreError(
            AppErrorCode.BAD_TRANSITION, f"session {session_id} is a {session.role.value} session"
        )
    if PROGRESS.get(session.state, -1) >= PROGRESS[state]:
        return  # a repeat of a step this session already passed: never move backwards
    if session.state is SessionStatus.OPEN and state is SessionStatus.COMPLETED:
        # A payer session that never saw its payment persisted passes through that state.
        set_state(conn, session_id, SessionStatus.PAYMENT_PERSISTED, now=now)
    set_state(conn, session_id, state, now=now)


class SessionLog:
    """Start, advance, end and list sessions. Money steps live in ``payments``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def start(
        self,
        role: Side,
        *,
        now: int,
        peer_key: bytes | None = None,
        peer_label: str = "",
        session_id: str | None = None,
    ) -> SessionRecord:
        """Log a new session in state ``open``; ``session_id`` defaults to a random one."""
        sid = session_id or secrets.token_hex(8)
        with self._db.write() as conn:
            try:
                conn.execute(
                    f"INSERT INTO sessions ({_COLUMNS}) VALUES (?, ?, ?, NULL, ?, ?, ?, ?, NULL, "
                    "'', 0)",
                    (sid, role.value, _S.OPEN.value, peer_key, peer_label, now, now),
                )
            except sqlite3.IntegrityError:
                raise StoreError(AppErrorCode.STORE_CONFLICT, f"session {sid} exists") from None
            conn.execute(
                "INSERT INTO session_events (session_id, at, state, error_code, detail) "
                "VALUES (?, ?, 'open', NULL, '')",
                (sid, now),
            )
            return get(conn, sid)

    def set_peer(
        self, session_id: str, *, now: int, peer_key: bytes | None, peer_label: str | None = None
    ) -> SessionRecord:
        """Record who the peer is once the handshake names it."""
        with self._db.write() as conn:
            get(conn, session_id)
            conn.execute(
                "UPDATE sessions SET peer_key = coalesce(?, peer_key), "
                "peer_label = coalesce(?, peer_label), updated_at = ? WHERE session_id = ?",
                (peer_key, peer_label, now, session_id),
            )
            return get(conn, session_id)

    def attach_invoice(self, session_id: str, invoice_id: bytes, *, now: int) -> SessionRecord:
        """Tie the session to a recorded invoice (see :func:`attach_invoice`)."""
        with self._db.write() as conn:
            return attach_invoice(conn, session_id, invoice_id, now=now)

    def complete(self, session_id: str, *, now: int) -> SessionRecord:
        """Payee: the receipt went out; payer sessions complete when the receipt is stored."""
        with self._db.write() as conn:
            return set_state(conn, session_id, _S.COMPLETED, now=now)

    def fail(
        self, session_id: str, *, now: int, error_code: int, detail: str = ""
    ) -> SessionRecord:
        """End a session that did not finish: ``failed``, or ``resumable`` if money is on disk.

        ``error_code`` is the protocol or app code number that ended it (Abort, timeout,
        link loss). Ending an already terminal session is a no-op that returns it.
        """
        with self._db.write() as conn:
            current = get(conn, session_id)
            if current.state not in UNFINISHED:
                return current
            has_payment, has_receipt = durable_facts(conn, current.invoice_id)
            target = settle_state(current.role, has_payment=has_payment, has_receipt=has_receipt)
            # Only a payee passes through receipt_persisted (it stores its receipt before
            # sending it); a payer that holds the receipt goes straight to completed.
            if (
                target is _S.COMPLETED
                and current.role is Side.PAYEE
                and current.state is _S.PAYMENT_PERSISTED
            ):
                set_state(conn, session_id, _S.RECEIPT_PERSISTED, now=now)
            return set_state(
                conn, session_id, target, now=now, error_code=error_code, detail=detail
            )

    def refuse(
        self, session_id: str, *, abort: bytes, now: int, error_code: int, detail: str
    ) -> SessionRecord:
        """Payer: the payee refused the payment this session persisted, with the signed
        ``abort``. In one transaction: the Abort is kept for the ledger, the outbox record
        becomes ``rejected`` (``detail``), and this session and any earlier attempt at the
        same invoice still waiting to resume end ``refused``: no receipt will come.
        """
        with self._db.write() as conn:
            current = get(conn, session_id)
            if current.invoice_id is None or current.role is not Side.PAYER:
                raise StoreError(
                    AppErrorCode.BAD_TRANSITION, f"session {session_id} has no payment to refuse"
                )
            aborts_module.keep_in(conn, current.invoice_id, abort, now=now)
            outbox_module.mark_in(
                conn, current.invoice_id, OutboxStatus.REJECTED, now=now, detail=detail
            )
            earlier = conn.execute(
                "SELECT session_id FROM sessions WHERE invoice_id = ? AND role = 'payer' "
                "AND session_id != ? AND state IN ('resumable', 'payment_persisted')",
                (current.invoice_id, session_id),
            ).fetchall()
            for (other_id,) in earlier:
                set_state(
                    conn,
                    str(other_id),
                    _S.REFUSED,
                    now=now,
                    error_code=error_code,
                    detail=f"{detail} (in session {session_id})",
                )
            return set_state(
                conn, session_id, _S.REFUSED, now=now, error_code=error_code, detail=detail
            )

    def get(self, session_id: str) -> SessionRecord:
        """One session, or ``STORE_NOT_FOUND``."""
        with self._db.read() as conn:
            return get(conn, session_id)

    def unfinished(self) -> list[SessionRecord]:
        """Sessions still running (in this process: the writer lock excludes others)."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM sessions WHERE state IN (?, ?, ?) ORDER BY seq",
                tuple(s.value for s in UNFINISHED),
            ).fetchall()
        return [_record(r) for r in rows]

    def resumable(self, role: Side | None = None) -> list[SessionRecord]:
        """Sessions with money on disk and no receipt, waiting for a retry."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM sessions WHERE state = 'resumable' "
                "AND (? IS NULL OR role = ?) ORDER BY seq",
                (None if role is None else role.value, None if role is None else role.value),
            ).fetchall()
        return [_record(r) for r in rows]

    def for_invoice(self, invoice_id: bytes) -> list[SessionRecord]:
        """Every attempt at one invoice, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM sessions WHERE invoice_id = ? ORDER BY seq",
                (invoice_id,),
            ).fetchall()
        return [_record(r) for r in rows]

    def events(self, session_id: str) -> list[tuple[int, SessionStatus, int | None, str]]:
        """The session's audit trail: (time, state, error code, detail), oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT at, state, error_code, detail FROM session_events "
                "WHERE session_id = ? ORDER BY seq",
                (session_id,),
            ).fetchall()
        return [(int(a), SessionStatus(s), c, str(d)) for a, s, c, d in rows]

    def invoices_without_session(self) -> list[tuple[bytes, int, str, str, int, int]]:
        """Invoices no session carried yet (no payer was met): ``(invoice_id, amount_minor,
        currency, memo, created_at, expires_at)``, newest first, for ``history``."""
        with self._db.read() as conn:
            rows = conn.execute(
                """SELECT invoice_id, amount_minor, currency, memo, created_at, expires_at
                   FROM invoices i WHERE NOT EXISTS (
                       SELECT 1 FROM sessions s WHERE s.invoice_id = i.invoice_id)
                   ORDER BY created_at DESC, invoice_id"""
            ).fetchall()
        return [(bytes(r[0]), int(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5])) for r in rows]

    def history(self, *, limit: int | None = None) -> list[HistoryEntry]:
        """The latest session per (role, invoice) and every invoice-less one, newest first.

        ``peer_key`` is the key the handshake named (``set_peer``), else the one the
        documents name: the invoice's payee for a payer, the payment's payer for a payee.
        """
        with self._db.read() as conn:
            rows = conn.execute(
                """SELECT s.session_id, s.role, s.state, s.invoice_id, i.amount_minor,
                          i.currency, i.memo,
                          coalesce(s.peer_key, CASE s.role WHEN 'payer' THEN i.payee_key
                              ELSE (SELECT p.payer_key FROM payments p
                                    WHERE p.invoice_id = s.invoice_id) END),
                          s.started_at, s.updated_at,
                          s.error_code, s.detail,
                          EXISTS (SELECT 1 FROM payments p WHERE p.invoice_id = s.invoice_id),
                          EXISTS (SELECT 1 FROM receipts r WHERE r.invoice_id = s.invoice_id),
                          s.recovered
                   FROM sessions s LEFT JOIN invoices i ON i.invoice_id = s.invoice_id
                   WHERE s.invoice_id IS NULL OR s.seq = (
                       SELECT max(seq) FROM sessions t
                       WHERE t.invoice_id = s.invoice_id AND t.role = s.role)
                   ORDER BY s.seq DESC LIMIT ?""",
                (-1 if limit is None else limit,),
            ).fetchall()
        return [
            HistoryEntry(
                session_id=str(r[0]),
                role=Side(r[1]),
                status=SessionStatus(r[2]),
                invoice_id=r[3],
                amount_minor=r[4],
                currency=r[5],
                memo=r[6],
                peer_key=r[7],
                started_at=int(r[8]),
                updated_at=int(r[9]),
                error_code=r[10],
                detail=str(r[11]),
                has_payment=bool(r[12]),
                has_receipt=bool(r[13]),
                recovered=bool(r[14]),
            )
            for r in rows
        ]
