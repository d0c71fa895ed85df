"""The kiosk's small parts on their own: JSON log lines, Prometheus text, backoff, the board,
the customer display's views."""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from p2ppay.errors import AppError, AppErrorCode
from p2ppay.kiosk import Kiosk
from p2ppay.kiosk.adapter import backoff_delays
from p2ppay.kiosk.display import display_view, human_reason
from p2ppay.kiosk.jobs import Job, JobBoard, JobState
from p2ppay.kiosk.logs import JsonFormatter
from p2ppay.kiosk.metrics import BUCKETS, KioskMetrics
from protocol import make_invoice
from tests.kiosk.kit import kiosk_config, make_shop


def _job() -> Job:
    invoice = make_invoice(SigningKey.generate(), amount=100, currency="EUR", now=1_700_000_000)
    return Job(invoice=invoice, tag=None)


def test_a_log_line_is_one_json_object_with_the_callers_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.kiosk.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "payment finished", extra={"request_id": "ab", "phases_ms": {"x": 1.5}, "odd": object()}
        )
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert (line["level"], line["msg"], line["request_id"]) == ("WARNING", "payment finished", "ab")
    assert line["phases_ms"] == {"x": 1.5}
    assert line["odd"].startswith("<object")


def test_prometheus_histograms_are_cumulative_and_end_with_inf_equal_to_count() -> None:
    metrics = KioskMetrics()
    for total_ms in (3.0, 40.0, 700.0, 120_000.0):
        metrics.finished(
            status="completed",
            error=None,
            phases_ms={"scanning": total_ms / 2},
            total_ms=total_ms,
            currency="EUR",
            amount_minor=100,
        )
    text = metrics.render(queue_depth=0, adapter_up=True, sync_backlog=lambda: 0)
    buckets = [
        int(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("p2ppay_kiosk_payment_seconds_bucket")
    ]
    assert len(buckets) == len(BUCKETS) + 1
    assert buckets == sorted(buckets) and buckets[-1] == 4
    assert "p2ppay_kiosk_payment_seconds_count 4" in text.splitlines()
    assert 'p2ppay_kiosk_received_minor_total{currency="EUR"} 400' in text.splitlines()


def test_every_metric_family_has_help_and_type() -> None:
    text = KioskMetrics().render(queue_depth=2, adapter_up=False, sync_backlog=lambda: 5)
    lines = text.splitlines()
    families = {line.split()[2] for line in lines if line.startswith("# TYPE")}
    helped = {line.split()[2] for line in lines if line.startswith("# HELP")}
    assert families == helped
    samples = [line for line in lines if not line.startswith("#")]
    assert all(any(s.startswith(f) for f in families) for s in samples)
    assert "p2ppay_kiosk_sync_backlog 5" in lines and "p2ppay_kiosk_adapter_up 0" in lines


def test_backoff_doubles_from_the_first_delay_up_to_the_cap() -> None:
    delay = backoff_delays(0.5, 30.0)
    assert [delay(n) for n in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert delay(10_000) == 30.0


def test_the_board_numbers_events_and_a_terminal_job_never_changes() -> None:
    board = JobBoard(queue_size=2)
    job = _job()
    board.submit(job)
    board.publish(job, JobState.SCANNING)
    board.publish(job, JobState.FAILED, error="NO_PAYER_FOUND")
    assert [(e.seq, e.state) for e in job.events] == [
        (1, JobState.QUEUED),
        (2, JobState.SCANNING),
        (3, JobState.FAILED),
    ]
    assert set(job.phase_ms) == {"queued", "scanning"}
    with pytest.raises(RuntimeError):
        board.publish(job, JobState.COMPLETED)


def test_a_closed_board_refuses_new_jobs_and_hands_back_the_queued_ones() -> None:
    board = JobBoard(queue_size=3)
    waiting = [_job(), _job()]
    for job in waiting:
        board.submit(job)
    assert board.close() == waiting
    with pytest.raises(AppError) as caught:
        board.submit(_job())
    assert caught.value.code is AppErrorCode.KIOSK_STOPPING


def test_the_display_says_each_state_in_words_and_goes_idle_after_the_hold() -> None:
    board = JobBoard(queue_size=2)
    job = Job(invoice=_job().invoice, tag="abc234")
    board.submit(job)
    at = job.last.at_ms
    amount = display_view(job, now_ms=at)
    assert (amount["screen"], amount["title"]) == ("amount", "Pay 1.00 EUR")
    assert "abc234" in amount["instruction"]  # tag mode: the tag to pick on the phone
    board.publish(job, JobState.CONNECTING)
    board.publish(job, JobState.HANDSHAKE)
    assert display_view(job, now_ms=at)["sas"] is None
    board.publish(job, JobState.HANDSHAKE, sas="123456")
    verifying = display_view(job, now_ms=at)
    assert (verifying["screen"], verifying["sas"]) == ("verifying", "123456")
    ended = board.publish(job, JobState.FAILED, error="SESSION_DECLINED")
    failed = display_view(job, now_ms=ended.at_ms + 1000, hold_ms=5000)
    assert failed["screen"] == "failed" and "✗" in failed["title"]
    assert failed["reason"] == "The payment was declined on the phone."
    assert failed["hold_ms"] == pytest.approx(4000, abs=1)
    assert display_view(job, now_ms=ended.at_ms + 5000, hold_ms=5000)["screen"] == "idle"
    assert display_view(None, now_ms=0)["screen"] == "idle"


def test_an_unknown_failure_code_still_gets_a_sentence_naming_it() -> None:
    assert human_reason("SOMETHING_NEW") == "The payment could not be completed (SOMETHING_NEW)."
    assert human_reason(None) == ""


@pytest.mark.anyio
async def test_the_kiosk_dates_everything_by_its_injected_clock(tmp_path: Path) -> None:
    # An hour from now, at a whole second: invoices, jobs and their events all say so.
    at_ms = (int(time.time()) + 3600) * 1000
    shop = make_shop(tmp_path, payers=0)
    with shop.open_kiosk_wallet() as wallet:
        config = kiosk_config(shop, tmp_path / "pos.sock")
        kiosk = Kiosk(config=config, wallet=wallet, clock=lambda: at_ms)
        job = kiosk.create(amount="1.00", currency="EUR")
        assert job.invoice.doc.created == at_ms // 1000
        assert job.created_ms == at_ms
        assert [event.at_ms for event in job.events] == [at_ms]
        stored = wallet.store.payments.invoice(job.invoice.doc.id)
        assert stored is not None and stored.created_at == at_ms // 1000
