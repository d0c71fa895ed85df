"""Soak: crash, kill and retry payments for minutes; every run must keep the money invariants.

    python -m bench.soak --minutes 5 --processes 10

In-process rounds (as ``tests/reliability/test_crash_points.py``, but for as long as asked):
a random crash point, MTU and seed; 0-2 clean payments, the crash, restart, retry (sometimes
through a second link drop), one more payment; invariants after each step. Process rounds
(``--processes``): ``p2ppay pay --once`` and ``p2ppay resume`` as two processes over Bumble's
TCP-hosted controllers, one killed by SIGKILL at a random moment (0.3-4 s) or at a random
crash point, then both restarted on fresh controllers to retry. The baseline is the rate of
clean in-process payments, measured in the same run.

Prints a table, then (last line) one JSON object with the raw figures. Exit 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

import anyio

try:
    import tests  # noqa: F401 - the harness lives in the test suite
except ImportError:  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2ppay.roles.crashpoints import CRASH_EXIT_CODE, CrashPoint
from tests.controllers import bumble_controllers
from tests.reliability.harness import Run, World
from tests.reliability.invariants import check, snapshot
from tests.reliability.processes import Pair
from tests.reliability.test_crash_points import one_run
from tests.world import make_homes

DONE = Run(payer="completed", payee="completed")


async def baseline(root: Path, seconds: float) -> tuple[int, float]:
    """Clean payments, one after another, for about ``seconds``."""
    world = World.make(root)
    start, runs = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        assert await world.attempt(world.invoice(1_00)) == DONE
        runs += 1
    check(world.homes.payer, world.homes.payee)
    return runs, time.perf_counter() - start


async def in_process(root: Path, rng: random.Random, deadline: float) -> dict[str, object]:
    runs, failures, start = 0, [], time.perf_counter()
    while time.perf_counter() < deadline:
        point, mtu, seed = rng.choice(list(CrashPoint)), rng.choice((23, 185, 247)), rng.random()
        try:
            await one_run(root / f"r{runs}", point, mtu, int(seed * 1e9))
        except AssertionError:
            failures.append(f"{point.value} mtu={mtu} seed={seed}: {traceback.format_exc()}")
        runs += 1
    return {"runs": runs, "failures": failures, "seconds": time.perf_counter() - start}


def one_process_round(root: Path, rng: random.Random) -> str | None:
    """One kill and retry with real processes; None if every check held, else why not."""
    homes = make_homes(root)
    invoice = World(homes=homes).invoice(1_00)
    args = ["resume", invoice.doc.id.hex()]
    with bumble_controllers() as ports:
        pair = Pair(homes=homes, ports=ports)
        if rng.random() < 0.5:
            point = rng.choice(list(CrashPoint))
            ended = pair.phase(args, crash=point.value)
            code = ended.payer if point.role == "payer" else ended.payee
            if code != CRASH_EXIT_CODE:
                return f"{point.value}: exit {code}"
        else:
            pair.phase(args, kill_after=rng.uniform(0.3, 4.0), kill_payer=rng.random() < 0.5)
    check(homes.payer, homes.payee)
    with bumble_controllers() as ports:
        retry = Pair(homes=homes, ports=ports).phase(args)
    if (retry.payer, retry.payee) != (0, 0):
        return f"retry ended {retry.payer}/{retry.payee}: {retry.payee_err[-300:]}"
    check(homes.payer, homes.payee)
    payer = snapshot(homes.payer)
    return None if payer.allowance == (1, 1_00) else f"payer allowance {payer.allowance}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="in-process soak time")
    parser.add_argument("--processes", type=int, default=3, help="rounds with real processes")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base_runs, base_seconds = anyio.run(baseline, root / "baseline", 5.0)
        deadline = time.perf_counter() + args.minutes * 60
        soak = anyio.run(in_process, root / "soak", rng, deadline)
        started, proc_failures = time.perf_counter(), []
        for i in range(args.processes):
            try:
                why = one_process_round(root / f"p{i}", rng)
            except AssertionError:
                why = traceback.format_exc()
            if why is not None:
                proc_failures.append(why)
        proc_seconds = time.perf_counter() - started
    soak_runs, soak_failures = int(soak["runs"]), list(soak["failures"])  # type: ignore[call-overload]
    soak_rate = soak_runs / float(soak["seconds"])  # type: ignore[arg-type]
    base_rate = base_runs / base_seconds
    rows = [
        ("clean payments (baseline)", base_runs, 0, base_seconds, base_rate),
        (
            "in-process crash+retry+next",
            soak_runs,
            len(soak_failures),
            float(soak["seconds"]),  # type: ignore[arg-type]
            soak_rate,
        ),
        (
            "processes: kill+restart+retry",
            args.processes,
            len(proc_failures),
            proc_seconds,
            args.processes / proc_seconds if proc_seconds else 0.0,
        ),
    ]
    print(f"soak seed {seed}")
    print(f"{'kind':<32} {'runs':>6} {'failed':>6} {'seconds':>8} {'runs/s':>8}")
    for kind, runs, failed, seconds, rate in rows:
        print(f"{kind:<32} {runs:>6} {failed:>6} {seconds:>8.1f} {rate:>8.2f}")
    print(f"a crash run costs {base_rate / soak_rate:.1f}x a clean payment (it makes 2-6)")
    for failure in soak_failures + proc_failures:
        print(f"FAILED: {failure}")
    print(
        json.dumps(
            {
                "bench": "soak",
                "seed": seed,
                "baseline": {"runs": base_runs, "seconds": base_seconds},
                "in_process": {
                    "runs": soak_runs,
                    "failures": len(soak_failures),
                    "seconds": soak["seconds"],
                },
                "processes": {
                    "runs": args.processes,
                    "failures": len(proc_failures),
                    "seconds": proc_seconds,
                },
                "ratio_clean_to_crash_run": base_rate / soak_rate,
            }
        )
    )
    return 1 if soak_failures or proc_failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
