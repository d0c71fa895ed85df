"""Records what the reliability suite tried, for ``python -m tests.reliability_report``.

A test takes part by its marker ``@pytest.mark.reliability(area, fault, expect=...,
invariants=...)`` and, if one test item makes several runs, by counting them with the
``runs`` fixture. When ``P2PPAY_RELIABILITY_RESULTS`` names a file, every such item appends
one JSON line to it (row, runs, outcome, seconds); otherwise nothing is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import pytest

RESULTS_ENV = "P2PPAY_RELIABILITY_RESULTS"
"""Environment variable naming the JSON-lines file results are appended to."""


@dataclass
class RunCount:
    """How many runs (payments, sessions, inputs) one test item made."""

    n: int = 0

    def add(self, n: int = 1) -> None:
        self.n += n


_RUNS = pytest.StashKey[RunCount]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "reliability(area, fault, expect='', invariants=()): a row of RELIABILITY.md",
    )


@pytest.fixture
def runs(request: pytest.FixtureRequest) -> RunCount:
    """Count the runs this test makes (default: 1 run per test item)."""
    count = RunCount()
    request.node.stash[_RUNS] = count
    return count


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    marker = item.get_closest_marker("reliability")
    path = os.environ.get(RESULTS_ENV)
    if report.when == "call" and marker is not None and path:
        count = item.stash.get(_RUNS, None)
        record = {
            "area": marker.args[0],
            "fault": marker.args[1],
            "expect": marker.kwargs.get("expect", ""),
            "invariants": list(marker.kwargs.get("invariants", ())),
            "test": item.nodeid,
            "runs": count.n if count is not None and count.n else 1,
            "outcome": "xfailed" if hasattr(report, "wasxfail") else report.outcome,
            "xfail_reason": getattr(report, "wasxfail", ""),
            "seconds": round(report.duration, 3),
        }
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
    return report
