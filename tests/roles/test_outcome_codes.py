"""A session's ``error`` is always a code name scripts can match (issue 11, item 3).

A peer may send a code this build does not know (a newer peer, or a hostile one: any
100..999 in its Abort or Refusal). The outcome then says ``SESSION_PEER_ABORTED`` with the
peer's number in the reason, and the session log keeps the number itself.
"""

from __future__ import annotations

from pathlib import Path

from p2ppay.roles.outcome import end_session
from p2ppay.store import Side
from protocol import ErrorCode
from protocol.session import Failed
from tests.world import make_homes, now_s


def _ended(tmp_path: Path, failed: Failed) -> tuple[str | None, str, int | None]:
    homes = make_homes(tmp_path)
    with homes.open_payee() as wallet:
        store = wallet.store
        record = store.sessions.start(Side.PAYEE, now=now_s(), peer_label="test")
        outcome = end_session(store, record.session_id, failed, now=now_s(), tag="t", sas=None)
        return outcome.error, outcome.reason, store.sessions.get(record.session_id).error_code


def test_a_peer_code_this_build_does_not_know_is_reported_as_peer_aborted(
    tmp_path: Path,
) -> None:
    error, reason, logged = _ended(tmp_path, Failed(code=999, reason="newer", by_peer=True))
    assert error == "SESSION_PEER_ABORTED"
    assert reason == "peer code 999: newer"
    assert logged == 999


def test_a_known_code_keeps_its_name(tmp_path: Path) -> None:
    failed = Failed(code=int(ErrorCode.SESSION_DECLINED), reason="no", by_peer=True)
    assert _ended(tmp_path, failed)[:2] == ("SESSION_DECLINED", "no")
