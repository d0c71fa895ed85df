"""protocol/SPEC.md and protocol/p2ppay.cddl agree with the code they describe."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol import ErrorCode
from protocol.cose import Kind
from protocol.money import CURRENCIES

PROTOCOL = Path(__file__).resolve().parents[2] / "protocol"
SPEC = (PROTOCOL / "SPEC.md").read_text()
CDDL = (PROTOCOL / "p2ppay.cddl").read_text()


@pytest.mark.parametrize(
    "code", [c for c in ErrorCode if 100 <= c < 500 or 800 <= c < 900], ids=lambda c: c.name
)
def test_spec_lists_each_document_error_code(code: ErrorCode) -> None:
    assert f"| {int(code)} | `{code.name}` |" in SPEC


@pytest.mark.parametrize("kind", list(Kind), ids=lambda k: k.name)
def test_spec_and_schema_name_each_kind_by_its_typ(kind: Kind) -> None:
    assert f"`{kind.value}`" in SPEC
    assert f'16 => "{kind.value}"' in CDDL


def test_spec_lists_every_supported_currency() -> None:
    for code, exp in CURRENCIES.items():
        assert f"{code} {exp}" in SPEC
