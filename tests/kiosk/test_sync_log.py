"""The kiosk's JSON log says what a sync did as JSON, not as a Python repr (issue: output
that is not for people, ``SyncReport(...)`` in a JSON log)."""

from __future__ import annotations

import json
import logging

import pytest

from p2ppay.kiosk.logs import JsonFormatter
from p2ppay.kiosk.metrics import KioskMetrics
from p2ppay.kiosk.syncer import Syncer
from p2ppay.sync.outbox import SyncReport

pytestmark = pytest.mark.anyio


async def test_a_sync_is_logged_with_its_counts_as_json(caplog: pytest.LogCaptureFixture) -> None:
    async def sync() -> object:
        return SyncReport(settled=2, waiting=1)

    syncer = Syncer(sync, interval=60, metrics=KioskMetrics())
    with caplog.at_level(logging.INFO, logger="p2ppay.kiosk"):
        assert await syncer.sync_once()
    (record,) = [r for r in caplog.records if r.getMessage() == "synced"]
    line = json.loads(JsonFormatter().format(record))
    assert line["report"]["settled"] == 2 and line["report"]["waiting"] == 1
    assert "SyncReport(" not in json.dumps(line)
