"""RELIABILITY.md is generated from the suite and names every fault and attack it tries."""

from __future__ import annotations

from pathlib import Path

from tests import reliability_report as report
from tests.reliability.invariants import INVARIANTS, LEDGER_INVARIANTS, PAYEE_INVARIANTS


def test_reliability_md_has_exactly_the_rows_the_tests_declare() -> None:
    declared = report.declared_rows()
    assert len(declared) >= 20
    assert report.documented_rows(report.DOC.read_text(encoding="utf-8")) == declared


def test_rows_sum_runs_and_report_failures_by_test() -> None:
    records = [
        {
            "area": "link",
            "fault": "f",
            "expect": "e",
            "invariants": ["x"],
            "test": "t1",
            "runs": 3,
            "outcome": "passed",
            "seconds": 1.0,
        },
        {
            "area": "link",
            "fault": "f",
            "expect": "e",
            "invariants": ["x"],
            "test": "t2",
            "runs": 4,
            "outcome": "failed",
            "seconds": 2.0,
        },
        {
            "area": "crash",
            "fault": "g",
            "test": "t3",
            "runs": 1,
            "outcome": "passed",
            "seconds": 0.5,
        },
    ]
    rows = report.aggregate(records)
    assert [(r.area, r.tests, r.runs, r.result) for r in rows] == [
        ("crash", 1, 1, "all passed"),
        ("link", 2, 7, "1 FAILED"),
    ]
    text = report.render(rows, invariants={"x": "holds"}, stamp="now")
    assert report.documented_rows(text) == {("crash", "g"), ("link", "f")}
    assert "- `t2`" in text and "**1 FAILED**" in text


def test_every_invariant_has_its_description() -> None:
    texts = report.invariant_texts()
    assert set(texts) == {*INVARIANTS, *PAYEE_INVARIANTS, *LEDGER_INVARIANTS}
    assert all(len(text) > 20 for text in texts.values())


def test_check_fails_for_a_document_missing_a_row(tmp_path: Path) -> None:
    doc = tmp_path / "RELIABILITY.md"
    doc.write_text(report.render([], invariants={}, stamp="now"), encoding="utf-8")
    assert report.main(["--check", "--out", str(doc)]) == 1
