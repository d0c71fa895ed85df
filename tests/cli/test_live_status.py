"""The live status line says how much time is left while the payee waits on the other side.

Time is an input: the rendering is a pure function of (message, elapsed, left), and the
printer reads an injected clock, so "12 s left" is asserted without waiting. The role side
is the real payee over Bumble's virtual radio, telling each bounded step's time left.
"""

from __future__ import annotations

import io
from pathlib import Path

import anyio
import pytest

from p2ppay.cli.output import Output, status_line
from p2ppay.roles import AutoApprove, PayeeRole, PayerChoice, PayerRole
from p2ppay.roles.radio import pay_on_virtual_radio
from protocol.session import Timeouts
from tests.world import make_homes


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bounded_step_reads_as_time_left_rounded_up() -> None:
    line = status_line("waiting for the payer's approval", elapsed=3.0, left=11.2)
    assert line == "waiting for the payer's approval · 12 s left"
    assert status_line("scanning for payers", elapsed=0, left=95) == (
        "scanning for payers · 1 min left"
    )
    assert status_line("connecting", elapsed=9, left=-0.4) == "connecting · 0 s left"


def test_an_unbounded_step_reads_as_time_elapsed() -> None:
    assert status_line("advertising", elapsed=5.7, left=None) == "advertising · 5 s elapsed"


def test_the_printer_counts_down_from_its_clock_and_a_new_step_resets_it() -> None:
    clock = _Clock()
    out = Output(json_mode=False, err=_Terminal(), out=io.StringIO(), clock=clock)
    with out.live_status():
        out.progress("waiting for the payer's approval")
        out.countdown(30)
        clock.now += 18
        assert out.status_now() == "waiting for the payer's approval · 12 s left"
        clock.now += 20
        assert out.status_now() == "waiting for the payer's approval · 0 s left"
        out.progress("payment verified offline")  # unbounded until told otherwise
        clock.now += 2
        assert out.status_now() == "payment verified offline · 2 s elapsed"


def test_piped_progress_stays_plain_lines() -> None:
    err = io.StringIO()
    out = Output(json_mode=False, err=err, out=io.StringIO(), clock=_Clock())
    with out.live_status():
        out.progress("scanning for payers")
        out.countdown(30)
    assert err.getvalue() == "scanning for payers\n"


@pytest.mark.anyio
async def test_the_payee_tells_the_time_left_of_each_step_it_waits_on(tmp_path: Path) -> None:
    homes = make_homes(tmp_path)
    told: list[tuple[str, float | None]] = []

    def progress(line: str) -> None:
        told.append((line, None))

    def countdown(left: float | None) -> None:
        line, _ = told[-1]
        told[-1] = (line, left)

    timeouts = Timeouts()
    with homes.open_payer() as payer_wallet, homes.open_payee() as payee_wallet:
        payer = PayerRole(wallet=payer_wallet, approver=AutoApprove(limit=50_00, currency="EUR"))
        payee = PayeeRole(
            wallet=payee_wallet,
            choice=PayerChoice(listen=0.2, within=12),
            progress=progress,
            countdown=countdown,
            connect_timeout=10.0,
            timeouts=timeouts,
        )
        invoice = payee.new_invoice(amount=2_00, currency="EUR")
        with anyio.fail_after(30):
            _, payee_out = await pay_on_virtual_radio(payer, payee, invoice)
    assert payee_out.completed
    bounded = {line.split(" (")[0].split(":")[0]: left for line, left in told if left is not None}
    assert bounded["scanning for payers"] == 12
    assert bounded["connecting to payer " + payee_out.tag] == 10.0
    assert bounded["connected"] == timeouts.handshake_ms / 1000
    approval = bounded["waiting for the payer's approval"]
    assert 0 < approval <= timeouts.payment_ms / 1000


def test_the_scan_table_counts_down_its_listening_time() -> None:
    from rich.console import Console

    from p2ppay.cli.scan_cmd import _table

    text = io.StringIO()
    Console(file=text, width=100).print(_table({}, left=2.4))
    assert "payers nearby (strongest first) · 3 s left" in text.getvalue()
