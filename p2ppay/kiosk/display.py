"""What the customer display shows, computed from the job board (no HTML here).

The display follows one job at a time: the one the cashier is serving, else the job whose
state changed last. A finished job stays on screen ``hold_ms`` (paid ✓ / failed ✗ with a
human reason), then the display is idle again.

Screens (``screen`` in :func:`display_view`)::

    idle ──> amount ──> connecting ──> verifying ──> paid
     ^       (queued,    (payer        (handshake,     │
     │        scanning)   chosen)       SAS, storing)  ├──> failed (reason)
     └───────────────────── after hold_ms ─────────────┴──> cancelled

Invariants:
- Every screen says in words what happened (``title``, ``instruction``, ``reason``): colour
  and the ✓ / ✗ marks only repeat it.
- ``paid`` only when the store holds the payment (``completed`` or ``resumable``); a
  ``failed`` screen says that no money was taken, which is what the state guarantees.
- The view carries only what the customer's screen shows anyway (amount, memo, tag, SAS,
  state): it is served without the API token.
"""

from __future__ import annotations

from typing import Any

from p2ppay.kiosk.jobs import Job, JobState

__all__ = ["HOLD_MS", "REASONS", "display_view", "human_reason"]

HOLD_MS = 8_000.0
"""How long a finished payment stays on screen before the display is idle again."""

REASONS: dict[str, str] = {
    "NO_PAYER_FOUND": "No phone was found. Open p2ppay, choose Pay and hold your phone close.",
    "PAYER_AMBIGUOUS": "Two phones were equally close. Keep only the paying phone near.",
    "SESSION_DECLINED": "The payment was declined on the phone.",
    "SESSION_APPROVAL_TIMEOUT": "The phone did not approve the payment in time.",
    "LINK_LOST": "The connection to the phone was lost.",
    "ADAPTER_FAILED": "This machine's radio is not working. Please ask for help.",
    "SESSION_INTERRUPTED": "The payment was interrupted.",
    "KIOSK_QUEUE_TIMEOUT": "The payment request expired before it could be served.",
    "KIOSK_STOPPING": "This machine is shutting down.",
    "KIOSK_JOB_CRASHED": "Something went wrong in this machine. Please ask for help.",
    "ALLOWANCE_EXCEEDED": "Your p2ppay allowance is too low for this amount.",
    "PAYMENT_OVER_LIMIT": "Your p2ppay allowance is too low for this amount.",
    "ACCEPT_PAYER_REVOKED": "This phone's wallet is no longer accepted.",
    "DOC_UNTRUSTED_ISSUER": "This phone's wallet is not accepted here.",
    "ACCEPT_ISSUER_NOT_ACCEPTED": "This phone's wallet is not accepted here.",
    "DOC_EXPIRED": "Something on the phone or here has expired. Please ask for help.",
}
"""Human reasons by error code name; any other code gets a generic sentence naming it."""

_STATUS: dict[JobState, str] = {
    JobState.QUEUED: "Waiting for the reader…",
    JobState.SCANNING: "Looking for your phone…",
    JobState.CONNECTING: "Connecting…",
    JobState.HANDSHAKE: "Verifying…",
    JobState.PERSISTING: "Saving the payment…",
    JobState.COMPLETED: "",
    JobState.RESUMABLE: "",
    JobState.FAILED: "",
    JobState.CANCELLED: "",
}
"""The phase in words, shown small under the title while a payment runs (a final screen's
title already says it)."""

_SCREENS: dict[JobState, str] = {
    JobState.QUEUED: "amount",
    JobState.SCANNING: "amount",
    JobState.CONNECTING: "connecting",
    JobState.HANDSHAKE: "verifying",
    JobState.PERSISTING: "verifying",
    JobState.COMPLETED: "paid",
    JobState.RESUMABLE: "paid",
    JobState.FAILED: "failed",
    JobState.CANCELLED: "cancelled",
}


def human_reason(error: str | None) -> str:
    """A sentence for the customer about why a payment failed."""
    if error is None:
        return ""
    return REASONS.get(error, f"The payment could not be completed ({error}).")


def display_view(job: Job | None, *, now_ms: float, hold_ms: float = HOLD_MS) -> dict[str, Any]:
    """The display's state for ``job`` at ``now_ms`` (idle for None or a job past its hold)."""
    if job is None or (job.done and now_ms - job.last.at_ms >= hold_ms):
        return _idle()
    view = job.view()
    state = job.state
    screen = _SCREENS[state]
    amount = f"{view['amount']} {view['currency']}"
    out: dict[str, Any] = {
        "screen": screen,
        "state": state.value,
        "id": job.request_id,
        "amount": amount,
        "memo": view["memo"],
        "tag": job.tag,
        "sas": None,
        "title": f"Pay {amount}",
        "status": _STATUS[state],
        "instruction": "",
        "reason": "",
        "hold_ms": None,
    }
    if screen == "amount":
        out["instruction"] = (
            f"On your phone, open p2ppay and pay with session tag {job.tag}."
            if job.tag
            else "Open p2ppay on your phone, choose Pay and hold it close."
        )
    elif screen == "connecting":
        out["instruction"] = "Connecting to your phone…"
    elif screen == "verifying":
        sas = job.last.sas
        out["sas"] = sas
        if state is JobState.PERSISTING:
            out["instruction"] = "Payment received, saving…"
        elif sas:
            out["instruction"] = "Check that your phone shows the same code, then approve."
        else:
            out["instruction"] = "Securing the connection…"
    else:
        out["hold_ms"] = max(0.0, hold_ms - (now_ms - job.last.at_ms))
        if screen == "paid":
            out["title"] = f"Paid {amount} ✓"
            out["instruction"] = (
                "Thank you!"
                if state is JobState.COMPLETED
                else "Thank you! Your phone gets its receipt when it next syncs."
            )
        elif screen == "failed":
            out["title"] = "Payment failed ✗"
            out["reason"] = human_reason(job.last.error)
            out["instruction"] = "No money was taken."
        else:
            out["title"] = "Payment cancelled"
            out["instruction"] = "No money was taken."
    return out


def _idle() -> dict[str, Any]:
    return {
        "screen": "idle",
        "state": "idle",
        "id": None,
        "amount": "",
        "memo": "",
        "tag": None,
        "sas": None,
        "title": "Ready",
        "status": "",
        "instruction": "Pay with p2ppay: your phone, offline, face to face.",
        "reason": "",
        "hold_ms": None,
    }
