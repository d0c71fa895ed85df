"""Time is an input: p2ppay reads the wall clock in one place, ``p2ppay.clock.wall_ms``.

Every part that decides something by time (roles, kiosk, sync client, ledger, CLI) takes a
clock whose default is ``wall_ms``, so a test fixes time by passing one in. Durations that
are only measured for logs and metrics (``time.monotonic``, ``time.perf_counter``) are not
wall-clock reads.
"""

from __future__ import annotations

import ast
from pathlib import Path

import p2ppay

PACKAGE = Path(p2ppay.__file__).resolve().parent
WALL_CLOCK = {
    ("time", "time"),
    ("time", "time_ns"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
}


def _wall_clock_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if (name, node.func.attr) in WALL_CLOCK:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def test_p2ppay_reads_the_wall_clock_only_in_p2ppay_clock() -> None:
    reads = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in _wall_clock_reads(path)]
    assert reads == ["clock.py:29"]
