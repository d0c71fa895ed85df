"""The kiosk: an unattended payee daemon for point-of-sale hardware (``p2ppay kiosk``).

Modules: ``config`` (the TOML file, validated), ``jobs`` (payment requests, their states and
the bounded queue), ``adapter`` (the BLE adapter kept open, reopened with backoff),
``cashier`` (one payment at a time through the payee role), ``syncer`` (background sync
through an injected client), ``metrics`` (Prometheus text), ``service`` (the
:class:`Kiosk` facade), ``api`` (the point-of-sale HTTP API), ``guard`` (who may call it:
token, Origin, Host, JSON), ``display`` and ``overview`` (what the customer display and the
operator page show), ``screens`` (their HTML, stream and assets), ``logs`` (JSON lines),
``daemon`` (process, server and signals). See ``p2ppay/kiosk/README.md``.
"""

from __future__ import annotations

from p2ppay.kiosk.config import KioskConfig, load_config, parse_config
from p2ppay.kiosk.jobs import JobState, StatusEvent
from p2ppay.kiosk.service import Kiosk
from p2ppay.kiosk.syncer import SyncFn

__all__ = [
    "Kiosk",
    "KioskConfig",
    "JobState",
    "StatusEvent",
    "SyncFn",
    "load_config",
    "parse_config",
]
