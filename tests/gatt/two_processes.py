"""Test helper: run the two sides of an exchange as two processes and collect their reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gatt.spec import new_session_tag

ROOT = Path(__file__).resolve().parents[2]


def run_pair(
    peripheral_adapter: str, central_adapter: str, size: int = 4096, timeout: float = 90.0
) -> dict[str, dict[str, object]]:
    """Start ``peripheral`` and ``central`` processes; return each one's JSON report.

    Raises AssertionError with both processes' output if either fails.
    """
    tag = new_session_tag()
    procs = {
        role: subprocess.Popen(
            [sys.executable, "-m", "tests.gatt.peer_process", role, adapter, tag, str(size)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role, adapter in (("peripheral", peripheral_adapter), ("central", central_adapter))
    }
    outputs: dict[str, tuple[int, str, str]] = {}
    try:
        for role, proc in procs.items():
            out, err = proc.communicate(timeout=timeout)
            outputs[role] = (proc.returncode, out, err)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    detail = "\n".join(f"{r}: rc={c}\n{o}\n{e[-3000:]}" for r, (c, o, e) in outputs.items())
    assert all(code == 0 for code, _, _ in outputs.values()), detail
    return {role: json.loads(out.strip().splitlines()[-1]) for role, (_, out, _) in outputs.items()}
