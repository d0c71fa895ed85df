"""protocol/SESSIONS.md carries exactly the state diagrams rendered from the tables."""

from __future__ import annotations

from pathlib import Path

from protocol.session.diagram import BEGIN, END, render
from protocol.session.states import PAYER_TRANSITIONS, Input, PayerState, mermaid

DOC = Path(__file__).resolve().parents[2] / "protocol" / "SESSIONS.md"


def test_sessions_doc_diagrams_match_the_transition_tables() -> None:
    text = DOC.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == render(), "run: python -m protocol.session.diagram"


def test_diagram_draws_every_happy_path_transition() -> None:
    drawn = mermaid(PAYER_TRANSITIONS, PayerState.AWAIT_OFFER)
    for (source, event), target in PAYER_TRANSITIONS.items():
        if event not in (Input.ERROR, Input.TIMEOUT, Input.ABORT):
            assert f"{source.name} --> {target.name}: {event.value}" in drawn
