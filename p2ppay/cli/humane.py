"""Values as a person reads them: local date and time, money with its currency, short keys.

Invariants: the JSON a script reads keeps the raw, stable forms (Unix seconds, decimal text,
full hex); only the text lines use these. Nothing here prints.
"""

from __future__ import annotations

import datetime as dt

from p2ppay.wallet.contacts import fingerprint
from protocol import format_amount

__all__ = ["fingerprint", "local_time", "money", "span"]


def local_time(unix_s: int) -> str:
    """``2026-12-05 11:02 CET``: the machine's local zone, to the minute."""
    moment = dt.datetime.fromtimestamp(unix_s, tz=dt.UTC).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def money(minor: int, currency: str) -> str:
    """``12.50 EUR``."""
    return f"{format_amount(minor, currency)} {currency}"


def span(seconds: int) -> str:
    """``3 d 4 h``, ``2 h 5 min``, ``45 s``: a duration, to two units."""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"
