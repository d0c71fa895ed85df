"""protocol/SESSIONS.md agrees with the code: every 5xx-7xx code with its number, and the
timeout defaults an implementer must match."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol import ErrorCode
from protocol.session import Timeouts

SESSIONS = (Path(__file__).resolve().parents[2] / "protocol" / "SESSIONS.md").read_text()


@pytest.mark.parametrize("code", [c for c in ErrorCode if 500 <= c < 800], ids=lambda c: c.name)
def test_sessions_md_lists_each_session_code_with_its_number(code: ErrorCode) -> None:
    assert f"| {int(code)} | `{code.name}` |" in SESSIONS


def test_sessions_md_states_the_timeout_defaults() -> None:
    defaults = Timeouts()
    for name in (
        "offer_ms",
        "invoice_ms",
        "handshake_ms",
        "approval_ms",
        "receipt_ms",
        "reassembly_ms",
        "payment_ms",
    ):
        row = next(line for line in SESSIONS.splitlines() if f"`Timeouts.{name}`" in line)
        assert f"{getattr(defaults, name):,} ms" in row, row


def test_sessions_md_states_the_exact_prologue_and_sas_personalisation() -> None:
    from protocol.negotiation import PROLOGUE

    text = " ".join(SESSIONS.split())
    assert f"the {len(PROLOGUE)} ASCII bytes" in text
    assert " ".join(PROLOGUE.decode().split()) in text
    padded = b"p2ppay-sas".ljust(16, b"\0").hex(" ")
    assert padded in text
