"""Real processes, real ``os._exit``: ``p2ppay pay --once`` and ``p2ppay request`` over Bumble's
TCP-hosted controllers, one of them killed at a crash point (or by SIGKILL from outside at
a random moment), then both restarted to retry the same invoice.

After a crash point the retry runs in this process (both wallets reopened from disk, so the
stores' recovery runs exactly as in a new process; no second pair of interpreters to pay
for). After a SIGKILL from outside, the retry is again two processes (``pay --once`` and
``resume INVOICE_ID``) on freshly started controllers: a killed host leaves its controller
advertising, as a device whose app died would until its radio is reset.
The invariants of :mod:`tests.reliability.invariants` hold after the crash and after the
retry, and the invoice is paid once, with counter 1.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from p2ppay.roles.crashpoints import CRASH_EXIT_CODE, CrashPoint
from protocol import Invoice, open_as
from tests.controllers import bumble_controllers
from tests.reliability.harness import World
from tests.reliability.invariants import INVARIANTS, check, snapshot
from tests.reliability.processes import Pair, invoice_ids
from tests.world import Homes, make_homes

pytestmark = pytest.mark.slow  # whole processes or fault sweeps: not the fast tier


def _paid_once(homes: Homes, invoice_id: bytes) -> None:
    check(homes.payer, homes.payee)
    payer, payee = snapshot(homes.payer), snapshot(homes.payee)
    assert payer.allowance == (1, 1_00)
    assert payer.payments[invoice_id] == payee.payments[invoice_id]
    assert payer.payments[invoice_id][2] == 1
    assert payer.receipts[invoice_id] == payee.receipts[invoice_id]


@pytest.mark.reliability(
    "crash",
    "separate processes over TCP-hosted Bumble: os._exit at each crash point, restart, retry",
    expect="the process exits with code 86 exactly there; the retry of the same invoice completes",
    invariants=INVARIANTS,
)
@pytest.mark.parametrize("point", list(CrashPoint), ids=lambda p: p.value)
def test_a_process_killed_at_a_crash_point_is_paid_once_after_restart(
    tmp_path: Path, controllers: tuple[int, int], point: CrashPoint
) -> None:
    pair = Pair(homes=make_homes(tmp_path), ports=controllers)
    crashed = pair.phase(["request", "1.00", "EUR"], crash=point.value)
    code = crashed.payer if point.role == "payer" else crashed.payee
    assert code == CRASH_EXIT_CODE, crashed
    check(pair.homes.payer, pair.homes.payee)
    (invoice_id,) = invoice_ids(pair.homes.payee)
    world = World(homes=pair.homes)
    with pair.homes.open_payee() as payee:
        invoice = payee.store.payments.invoice(invoice_id)
    assert invoice is not None
    retry = anyio.run(lambda: world.attempt(open_as(invoice.signed, Invoice)))
    assert (retry.payer, retry.payee) == ("completed", "completed"), retry
    _paid_once(pair.homes, invoice_id)


@pytest.mark.reliability(
    "crash",
    "separate processes: SIGKILL of the payer or the payee at an arbitrary moment "
    "(1.7 s / 2.3 s after start), restart both (`pay --once`, `resume ID`)",
    expect="the retry of the same invoice completes",
    invariants=INVARIANTS,
)
@pytest.mark.parametrize(("kill_after", "kill_payer"), [(1.7, True), (2.3, False)])
def test_a_process_killed_at_a_random_moment_is_paid_once_after_restart(
    tmp_path: Path, kill_after: float, kill_payer: bool
) -> None:
    homes = make_homes(tmp_path)
    invoice = World(homes=homes).invoice(1_00)
    with bumble_controllers() as ports:
        killed = Pair(homes=homes, ports=ports).phase(
            ["resume", invoice.doc.id.hex()], kill_after=kill_after, kill_payer=kill_payer
        )
    assert -9 in (killed.payer, killed.payee) or (killed.payer, killed.payee) == (0, 0), killed
    check(homes.payer, homes.payee)
    with bumble_controllers() as ports:
        retry = Pair(homes=homes, ports=ports).phase(["resume", invoice.doc.id.hex()])
    assert (retry.payer, retry.payee) == (0, 0), retry
    _paid_once(homes, invoice.doc.id)
