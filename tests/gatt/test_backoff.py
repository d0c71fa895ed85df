"""gatt.backoff: an address that wastes sessions is refused for longer and longer, then forgiven."""

from __future__ import annotations

import pytest

from gatt.backoff import BackOff, BackOffPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_ban_doubles_with_each_strike_up_to_the_cap() -> None:
    backoff = BackOff(BackOffPolicy(first_ban=5, factor=2, max_ban=30), clock=Clock())
    assert [backoff.strike("A") for _ in range(5)] == [5, 10, 20, 30, 30]


def test_a_banned_address_is_refused_until_its_ban_runs_out() -> None:
    clock = Clock()
    backoff = BackOff(BackOffPolicy(first_ban=5), clock=clock)
    assert not backoff.banned("A")
    backoff.strike("A")
    assert backoff.banned("A") and not backoff.banned("B")
    clock.now += 4.9
    assert backoff.banned("A")
    clock.now += 0.2
    assert not backoff.banned("A")


def test_an_address_without_strikes_for_a_while_starts_over() -> None:
    clock = Clock()
    backoff = BackOff(BackOffPolicy(first_ban=1, forget_after=60), clock=clock)
    backoff.strike("A")
    backoff.strike("A")
    clock.now += 60
    assert backoff.strikes("A") == 0
    assert backoff.strike("A") == 1


def test_memory_is_bounded_by_forgetting_the_oldest_address() -> None:
    clock = Clock()
    backoff = BackOff(BackOffPolicy(max_tracked=3), clock=clock)
    for address in "ABCD":
        backoff.strike(address)
        clock.now += 0.001
    assert backoff.strikes("A") == 0
    assert [backoff.strikes(a) for a in "BCD"] == [1, 1, 1]


def test_an_empty_address_is_never_struck() -> None:
    backoff = BackOff(clock=Clock())
    assert backoff.strike("") == 0
    assert not backoff.banned("")


def test_inconsistent_policies_are_refused() -> None:
    with pytest.raises(ValueError):
        BackOffPolicy(first_ban=10, max_ban=5)
    with pytest.raises(ValueError):
        BackOffPolicy(factor=0.5)
