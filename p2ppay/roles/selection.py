"""Which payer a payee talks to: by session tag, or the strongest signal above a gate.

Invariants:
- With a tag, only a payer advertising exactly that tag is chosen; nothing else is tried.
  With an address, only that radio address is considered.
- Payers are told apart by radio address, never by tag alone: anyone can advertise a tag it
  read off another payer's advertisement. A tag heard from two addresses is ambiguous and
  refused (PAYER_AMBIGUOUS): with a tag, after ``tag_listen`` seconds of listening for a
  second address; without one, when the strongest payer's tag is also advertised elsewhere.
- Without a tag, the payer with the strongest RSSI at or above ``min_rssi`` is chosen; if
  another payer is within ``margin_db`` of it, the choice is ambiguous and refused
  (PAYER_AMBIGUOUS), never made silently. The listening window adapts: it ends as soon as,
  ``settle`` seconds after the first payer, an advertisement finds the strongest payer clear
  of the runner-up by more than ``margin_db`` (or alone), and at the latest ``listen``
  seconds after the first payer; then the same rule decides on everything heard.
- Every payer seen is reported through ``on_seen`` once (tag and RSSI), for the progress
  display, before any choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import anyio

from gatt.link import Central, ScanResult
from p2ppay.errors import AppError, AppErrorCode

__all__ = ["PayerChoice", "choose_payer"]


@dataclass(frozen=True, kw_only=True)
class PayerChoice:
    """How to pick the payer."""

    tag: str | None = None
    """Exactly this session tag (read off the payer's screen)."""
    address: str | None = None
    """Only this radio address (a retry follows the payer it talked to; tags rotate)."""
    min_rssi: int = -127
    """Ignore payers weaker than this (dBm): the proximity gate."""
    margin_db: int = 0
    """Refuse to choose when the runner-up is within this many dB of the strongest.
    0 chooses the strongest whenever it is strictly stronger; -1 never refuses."""
    listen: float = 1.0
    """At most this many seconds of listening after the first payer, to compare signals."""
    settle: float = 0.15
    """At least this many seconds of listening after the first payer before deciding early
    (about one advertising interval, so an equally close payer has a chance to be heard)."""
    within: float = 30.0
    """Seconds to wait for any payer at all."""
    tag_listen: float = 0.0
    """With a tag: seconds to keep listening after the tagged payer for a second address
    advertising the same tag (a squatter), refused as PAYER_AMBIGUOUS; 0 takes the first one
    heard. It costs that much time per payment (about one advertising interval is enough):
    people at a counter (``request``) get 0.3 s, a kiosk chooses (``radio.tag_listen``)."""


async def choose_payer(
    central: Central,
    choice: PayerChoice,
    *,
    on_seen: Callable[[ScanResult], None] = lambda _: None,
) -> ScanResult:
    """Scan and return the chosen payer (module docstring); NO_PAYER_FOUND if none."""
    seen: dict[str, ScanResult] = {}  # by radio address: tags can be copied
    reported: set[str] = set()
    first_at: float | None = None
    with anyio.move_on_after(choice.within):
        async with central.scan() as results:
            # Cancelled once the listening window after the first eligible payer has passed.
            with anyio.CancelScope() as listening:
                async for result in results:
                    if result.address not in reported:
                        reported.add(result.address)
                        on_seen(result)
                    if result.rssi < choice.min_rssi:
                        continue
                    if choice.address is not None and result.address != choice.address:
                        continue
                    if choice.tag is not None and result.tag != choice.tag:
                        continue
                    previous = seen.get(result.address)
                    if previous is None or result.rssi > previous.rssi:
                        seen[result.address] = result
                    now = anyio.current_time()
                    if first_at is None:
                        first_at = now
                        window = choice.listen if choice.tag is None else choice.tag_listen
                        if window <= 0:
                            break
                        listening.deadline = now + window
                    settled = choice.tag is None and now - first_at >= choice.settle
                    if settled and _clear(list(seen.values()), margin_db=choice.margin_db):
                        break
    if not seen:
        wanted = f" with tag {choice.tag}" if choice.tag else ""
        raise AppError(AppErrorCode.NO_PAYER_FOUND, f"no payer{wanted} seen")
    best = _strongest(list(seen.values()), margin_db=choice.margin_db, tagged=choice.tag)
    _refuse_copied_tag(best, seen.values())
    return best


def _clear(candidates: list[ScanResult], *, margin_db: int) -> bool:
    """Whether the strongest payer is already clear of the runner-up (so: stop listening)."""
    ranked = sorted((r.rssi for r in candidates), reverse=True)
    return len(ranked) == 1 or ranked[0] - ranked[1] > margin_db


def _refuse_copied_tag(best: ScanResult, seen: Iterable[ScanResult]) -> None:
    others = sorted({r.address for r in seen if r.tag == best.tag and r.address != best.address})
    if others:
        raise AppError(
            AppErrorCode.PAYER_AMBIGUOUS,
            f"tag {best.tag} is advertised from {len(others) + 1} addresses "
            f"({best.address}, {', '.join(others)}): someone copied it; not guessing",
        )


def _strongest(candidates: list[ScanResult], *, margin_db: int, tagged: str | None) -> ScanResult:
    ranked = sorted(candidates, key=lambda r: r.rssi, reverse=True)
    best = ranked[0]
    if tagged is not None:
        return best  # all carry the tag: _refuse_copied_tag decides
    if len(ranked) > 1 and best.rssi - ranked[1].rssi <= margin_db:
        raise AppError(
            AppErrorCode.PAYER_AMBIGUOUS,
            f"payers {best.tag} ({best.rssi} dBm) and {ranked[1].tag} ({ranked[1].rssi} dBm) "
            "are equally close: choose one by tag",
        )
    return best
