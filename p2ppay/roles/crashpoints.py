"""Crash points: end the process at a named durability point, so tests can prove recovery.

Off unless the environment variable ``P2PPAY_CRASH_AT`` names a point; then the role that
reaches that point calls ``os._exit(CRASH_EXIT_CODE)`` exactly there: no ``finally``, no
``atexit``, no flush, no SQLite close, no Bluetooth disconnect, the same as a power cut from
the process's point of view (what the OS already holds, e.g. a committed WAL frame, stays).

The points, in the order a payment reaches them (each member's docstring says what is on disk
and on air at that moment)::

    payer.before_persist_payment   payer.after_persist_payment   payer.after_send_payment
    payer.before_persist_receipt   payer.after_persist_receipt
    payee.before_persist_payment   payee.after_persist_payment
    payee.before_persist_receipt   payee.after_persist_receipt   payee.after_send_receipt

Invariants:
- Zero cost when off: a role holds a :class:`CrashPlan` made once (by
  :meth:`CrashPlan.from_environment`); reaching a point is one identity comparison.
- A misspelt point is an error when the plan is made, never a plan that silently never fires.
- Nothing here is global or mutable: a test passes its own plan (with an action that raises
  instead of exiting) to run the same points in-process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, unique

__all__ = ["CRASH_AT_ENV", "CRASH_EXIT_CODE", "NEVER", "CrashPlan", "CrashPoint", "exit_now"]

CRASH_AT_ENV = "P2PPAY_CRASH_AT"
"""Environment variable naming the one point at which the process dies."""

CRASH_EXIT_CODE = 86
"""Exit status of a process ended by a crash point (distinct from every CLI exit code)."""


@unique
class CrashPoint(Enum):
    """A durability point of the payer or payee role (value: the name ``P2PPAY_CRASH_AT`` takes)."""

    PAYER_BEFORE_PERSIST_PAYMENT = "payer.before_persist_payment"
    """Payer approved and signed; the payment and its counter are not stored; nothing sent."""
    PAYER_AFTER_PERSIST_PAYMENT = "payer.after_persist_payment"
    """Payer committed the payment, counter and chain head; not a byte of it sent yet."""
    PAYER_AFTER_SEND_PAYMENT = "payer.after_send_payment"
    """Payer handed every chunk of the payment to the link; no receipt yet."""
    PAYER_BEFORE_PERSIST_RECEIPT = "payer.before_persist_receipt"
    """Payer verified the receipt; it is not stored yet."""
    PAYER_AFTER_PERSIST_RECEIPT = "payer.after_persist_receipt"
    """Payer committed the receipt; the session is not yet reported complete."""
    PAYEE_BEFORE_PERSIST_PAYMENT = "payee.before_persist_payment"
    """Payee verified the payment offline; it is not stored, no receipt signed."""
    PAYEE_AFTER_PERSIST_PAYMENT = "payee.after_persist_payment"
    """Payee committed the payment (and the payer's chain head); no receipt signed yet."""
    PAYEE_BEFORE_PERSIST_RECEIPT = "payee.before_persist_receipt"
    """Payee signed the receipt; it is not stored and not sent."""
    PAYEE_AFTER_PERSIST_RECEIPT = "payee.after_persist_receipt"
    """Payee committed the receipt; not a byte of it sent yet."""
    PAYEE_AFTER_SEND_RECEIPT = "payee.after_send_receipt"
    """Payee handed every chunk of the receipt to the link; the session is not marked done."""

    @property
    def role(self) -> str:
        """``payer`` or ``payee``: the process that dies at this point."""
        return self.value.partition(".")[0]


def exit_now(point: CrashPoint) -> None:
    """The product's crash: end the process at once with :data:`CRASH_EXIT_CODE`."""
    os._exit(CRASH_EXIT_CODE)


@dataclass(frozen=True, kw_only=True)
class CrashPlan:
    """Where (if anywhere) a role stops, and how."""

    at: CrashPoint | None = None
    """The point at which ``crash`` runs; None: never."""
    crash: Callable[[CrashPoint], None] = exit_now
    """What happens there: :func:`exit_now` in the product; a test may raise instead."""

    def reach(self, point: CrashPoint) -> None:
        """Called by a role at ``point``; returns at once unless the plan names it."""
        if point is self.at:
            self.crash(point)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> CrashPlan:
        """The plan ``P2PPAY_CRASH_AT`` asks for (unset or empty: never crash).

        Raises ValueError for a name that is not a :class:`CrashPoint` value.
        """
        name = (os.environ if environ is None else environ).get(CRASH_AT_ENV, "")
        if not name:
            return NEVER
        try:
            return cls(at=CrashPoint(name))
        except ValueError:
            known = ", ".join(point.value for point in CrashPoint)
            why = f"{CRASH_AT_ENV}={name!r} is not a crash point; one of: {known}"
            raise ValueError(why) from None


NEVER = CrashPlan()
"""The plan of a process started without ``P2PPAY_CRASH_AT``."""
