"""Documented retries: a full notification queue (macOS) and transient BlueZ connects."""

from __future__ import annotations

import pytest

from gatt.errors import LinkTimeout
from gatt.os_backend.retry import connect_with_retry, notify_with_backoff

pytestmark = pytest.mark.anyio


async def test_a_full_queue_is_retried_until_the_stack_takes_the_value() -> None:
    answers = iter([False, False, True])
    calls = await notify_with_backoff(lambda: next(answers), within=5.0, first_delay=0.001)
    assert calls == 3


async def test_a_queue_that_stays_full_ends_in_link_timeout() -> None:
    with pytest.raises(LinkTimeout):
        await notify_with_backoff(lambda: False, within=0.02, first_delay=0.001)


class Flaky:
    """Fails with the given errors, then returns "connected"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "connected"


def _transient(error: BaseException) -> bool:
    return isinstance(error, TimeoutError)


async def test_transient_failures_are_retried() -> None:
    attempt = Flaky(TimeoutError(), TimeoutError())
    result = await connect_with_retry(attempt, is_transient=_transient, attempts=3, pause=0.001)
    assert (result, attempt.calls) == ("connected", 3)


async def test_the_last_transient_failure_propagates() -> None:
    attempt = Flaky(TimeoutError("1"), TimeoutError("2"))
    with pytest.raises(TimeoutError, match="2"):
        await connect_with_retry(attempt, is_transient=_transient, attempts=2, pause=0.001)


async def test_a_permanent_failure_is_not_retried() -> None:
    attempt = Flaky(ValueError("no such service"))
    with pytest.raises(ValueError, match="no such service"):
        await connect_with_retry(attempt, is_transient=_transient, attempts=3, pause=0.001)
    assert attempt.calls == 1
