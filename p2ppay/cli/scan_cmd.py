"""``scan``: the payers nearby, with their session tag and signal, refreshed live.

For the payee who wants to choose: ``request --tag TAG`` then picks exactly that payer.
On a terminal the table redraws as advertisements arrive, its title counting down the time
left (rich's live display on stderr; no colour with ``NO_COLOR`` or when stderr is not a
terminal). It listens ``--within`` seconds.
``--json`` prints one object at the end: ``payers``, a list of ``{"tag", "address", "rssi",
"seen"}`` (``rssi`` the strongest heard, ``seen`` how many advertisements), strongest first,
and ``copied_tags``: tags heard from more than one address (someone copies a payer's tag:
choose by address or wait for a fresh tag).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio

from gatt.link import ScanResult
from p2ppay.cli.common import add_adapter, add_json, seconds_in
from p2ppay.cli.output import Exit, Output, status_line
from p2ppay.roles.radio import payee_central

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scan = subparsers.add_parser("scan", help="list the payers nearby, live")
    add_adapter(scan)
    scan.add_argument(
        "--within",
        type=seconds_in(0.5, 3600),
        default=5.0,
        help="seconds to listen (0.5..3600, default 5)",
    )
    add_json(scan)
    scan.set_defaults(handler=run)


@dataclass
class _Heard:
    tag: str
    address: str
    rssi: int
    seen: int = 1


class _Board:
    """Rich re-renders this at each refresh: the table and its time left stay current."""

    def __init__(self, render: Callable[[], Any]) -> None:
        self._render = render

    def __rich__(self) -> Any:
        return self._render()


def _table(heard: dict[str, _Heard], *, left: float | None = None) -> Any:
    """The live table; its title counts down the ``left`` seconds of listening."""
    from rich.table import Table

    title = "payers nearby (strongest first)"
    if left is not None:
        title = status_line(title, elapsed=0, left=left)
    table = Table(title=title, min_width=len(title) + 4)  # the title on one line
    for column in ("tag", "signal (dBm)", "address", "heard"):
        table.add_column(column)
    for entry in sorted(heard.values(), key=lambda h: h.rssi, reverse=True):
        table.add_row(entry.tag, str(entry.rssi), entry.address, str(entry.seen))
    return table


async def _listen(adapter: str, within: float, heard: dict[str, _Heard], redraw: Any) -> None:
    async with payee_central(adapter) as central:
        with anyio.move_on_after(within):
            async with central.scan() as results:
                result: ScanResult
                async for result in results:
                    entry = heard.get(result.address)
                    if entry is None or entry.tag != result.tag:
                        heard[result.address] = _Heard(result.tag, result.address, result.rssi)
                    else:
                        entry.rssi = max(entry.rssi, result.rssi)
                        entry.seen += 1
                    redraw()


def run(args: argparse.Namespace, out: Output) -> int:
    heard: dict[str, _Heard] = {}
    live_on_terminal = not out.json_mode and sys.stderr.isatty()
    if live_on_terminal:
        from rich.console import Console
        from rich.live import Live

        ends = time.monotonic() + args.within
        board = _Board(lambda: _table(heard, left=ends - time.monotonic()))
        with Live(board, console=Console(stderr=True), refresh_per_second=4) as live:
            anyio.run(_listen, args.adapter, args.within, heard, live.refresh)
    else:
        anyio.run(_listen, args.adapter, args.within, heard, lambda: None)
    payers = [
        {"tag": h.tag, "address": h.address, "rssi": h.rssi, "seen": h.seen}
        for h in sorted(heard.values(), key=lambda h: h.rssi, reverse=True)
    ]
    tags = [h.tag for h in heard.values()]
    copied = sorted({t for t in tags if tags.count(t) > 1})
    lines = [f"{p['tag']}  {p['rssi']:>4} dBm  {p['address']}" for p in payers] or [
        f"no payer heard in {args.within:g} s"
    ]
    lines += [f"warning: tag {t} is advertised from several addresses" for t in copied]
    out.result({"payers": payers, "copied_tags": copied}, lines)
    return Exit.OK
