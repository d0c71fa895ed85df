"""Back-off for central addresses that waste a peripheral's sessions.

A peripheral serves one central at a time, so a central that connects and does nothing
useful keeps everyone else out. Each wasted session (no START in time, a session that
ended before anything useful, or a reconnection while banned) is a *strike* against the
central's address; an address with strikes is refused at once for a ban that doubles with
every strike.

Invariants:
- The ban after ``k`` strikes is ``min(max_ban, first_ban * factor ** (k - 1))`` seconds
  from the last strike; an address with no strike for ``forget_after`` seconds starts over.
- Memory is bounded: at most ``max_tracked`` addresses are remembered; the one struck
  longest ago is forgotten first.
- Time is an input (``clock``), so tests need not wait for bans to run out.

This only slows an attacker that keeps its address; one that changes its random address
for every connection is bounded by the START deadline alone (``LinkOptions.start_timeout``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BackOff", "BackOffPolicy"]


@dataclass(frozen=True, kw_only=True)
class BackOffPolicy:
    """How long an address that wasted sessions is refused."""

    first_ban: float = 5.0
    """Seconds of the ban after the first strike."""
    factor: float = 2.0
    """Each further strike multiplies the ban by this."""
    max_ban: float = 300.0
    """Longest ban, in seconds."""
    forget_after: float = 600.0
    """Seconds without a strike after which an address starts over."""
    max_tracked: int = 256
    """Most addresses remembered at once."""

    def __post_init__(self) -> None:
        if self.first_ban < 0 or self.factor < 1 or self.max_ban < self.first_ban:
            raise ValueError("back-off: first_ban >= 0, factor >= 1, max_ban >= first_ban")
        if self.forget_after <= 0 or self.max_tracked <= 0:
            raise ValueError("back-off: forget_after and max_tracked must be positive")


@dataclass
class _Record:
    strikes: int
    last: float


class BackOff:
    """Strikes and bans per address (one per peripheral)."""

    def __init__(
        self, policy: BackOffPolicy | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._policy = policy or BackOffPolicy()
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def _current(self, address: str, now: float) -> _Record | None:
        record = self._records.get(address)
        if record is not None and now - record.last >= self._policy.forget_after:
            del self._records[address]
            return None
        return record

    def ban_for(self, strikes: int) -> float:
        """Seconds of ban after ``strikes`` strikes (0 for none)."""
        if strikes <= 0:
            return 0.0
        policy = self._policy
        return min(policy.max_ban, policy.first_ban * policy.factor ** (strikes - 1))

    def strike(self, address: str) -> float:
        """Count a wasted session against ``address``; return the ban it now has (seconds)."""
        if not address:
            return 0.0  # a backend that gives no peer address cannot back off
        now = self._clock()
        record = self._current(address, now)
        if record is None:
            record = _Record(strikes=0, last=now)
        record.strikes += 1
        record.last = now
        self._records[address] = record
        self._records.move_to_end(address)
        while len(self._records) > self._policy.max_tracked:
            self._records.popitem(last=False)
        return self.ban_for(record.strikes)

    def banned(self, address: str) -> bool:
        """True while ``address`` must be refused."""
        now = self._clock()
        record = self._current(address, now)
        return record is not None and now - record.last < self.ban_for(record.strikes)

    def strikes(self, address: str) -> int:
        """Strikes ``address`` has now (0 once forgotten)."""
        record = self._current(address, self._clock())
        return 0 if record is None else record.strikes
