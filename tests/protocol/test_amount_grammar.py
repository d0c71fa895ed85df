"""SPEC 5's ABNF for decimal amounts is what parse_amount accepts: checked both ways."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import ProtocolError
from protocol.money import parse_amount

SPEC = (Path(__file__).resolve().parents[2] / "protocol" / "SPEC.md").read_text()
# The ABNF of SPEC 5, transcribed: whole (no leading zero, at most 16 digits), an optional
# fraction of 1+ digits. parse_amount must accept exactly these (given the exponent bound).
GRAMMAR = re.compile(r"(0|[1-9][0-9]{0,15})(\.[0-9]+)?")


def test_the_spec_states_the_grammar() -> None:
    assert 'whole    = "0" / ( %x31-39 0*15DIGIT )' in SPEC
    assert "fraction = 1*DIGIT" in SPEC


@given(st.text(alphabet="0123456789.-+e, ", max_size=20))
def test_parse_amount_accepts_exactly_the_grammar(text: str) -> None:
    try:
        value = parse_amount(text, "EUR")
    except ProtocolError:
        value = None
    stripped = text.strip()
    match = GRAMMAR.fullmatch(stripped)
    in_grammar = match is not None and len((match.group(2) or ".")[1:]) <= 2
    if value is not None:
        assert in_grammar
    elif in_grammar:  # refused only for its value: zero or above MAX_AMOUNT
        whole = int(match.group(1)) if match else 0
        frac = (match.group(2) or ".")[1:] if match else ""
        minor = whole * 100 + int(frac.ljust(2, "0") or "0")
        assert minor == 0 or minor > 10**15
