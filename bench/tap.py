"""Benchmark: a tap's radio round trips, measured from a capture of real two-process payments.

Run: ``.venv/bin/python bench/tap.py [--payments 3] [--adapters PERIPHERAL,CENTRAL]``, or
``bench/tap.py --capture FILE [--index N]`` to read a capture made elsewhere (e.g. ``btmon -i
hciN -w FILE`` on BlueZ, as the BlueZ test-bed does for its payment) with the same table.

Each payment is two real processes, ``p2ppay pay --once`` (the payer, a GATT peripheral) and
``p2ppay request`` (the payee, a central), on two Bumble controllers hosted over TCP
(``python -m bumble.apps.controllers``), or on the two adapters given (for two USB dongles:
``--adapters bumble:usb:0,bumble:usb:1``). The payer's process writes a btsnoop capture
(``BUMBLE_SNOOPER=btsnoop:file:...``); :mod:`gatt.capture` reads its ATT PDUs back. Per
connection it prints the ATT PDUs by opcode, bytes each way, the direction changes over the
whole connection (set-up included), and the projected time from the connection to the last
PDU (the receipt and the end of session) at connection intervals of 7.5, 15, 30 and 50 ms.

The model (:class:`gatt.capture.LinkModel`), stated: every direction change waits for the next
connection event (a host cannot answer within the 150 us inter-frame space); a PDU takes
``ceil((size + 4) / 251)`` link-layer packets (Data Length Extension, 4 bytes of L2CAP
header); at most 6 packets go one way in one event; time = events x interval. On the virtual
radio every round trip is free, so only the projection says what a person would feel; on
real dongles the measured connection-to-last-PDU time is printed beside it.

Goals (issue 16): at most 16 direction changes for the whole connection with the Bumble
central, and a projected connect-to-receipt time of at most 300 ms at a 15 ms interval.
The last line is one JSON object with the raw figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gatt.capture import Connection, Direction, LinkModel, parse_btsnoop

ROOT = Path(__file__).resolve().parent.parent
INTERVALS_MS = (7.5, 15.0, 30.0, 50.0)
GOAL_DIRECTION_CHANGES = 16
GOAL_MS_AT_15 = 300.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    # Read /proc, never connect: Bumble's tcp-server serves only its latest client.
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "p2ppay", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "P2PPAY_PASSPHRASE": "", **(env or {})},
    )


def _wallets(root: Path, payments: int) -> tuple[str, str]:
    """An issuer, a payer with an allowance for every payment, a payee trusting the issuer."""
    issuer, payer, payee = (str(root / n) for n in ("issuer", "payer", "payee"))
    _cli("--home", payer, "init", "--no-passphrase")
    _cli("--home", payee, "init", "--no-passphrase")
    payer_key = json.loads(_cli("--home", payer, "id", "--json").stdout)["public_key"]
    issuer_key = json.loads(_cli("--home", issuer, "issuer", "init", "--json").stdout)["public_key"]
    allowance = str(root / "allowance.cbor")
    limit = f"{payments * 2}.00"
    _cli("--home", issuer, "issuer", "grant", payer_key, limit, "EUR", "--out", allowance)
    _cli("--home", payer, "allowance", "import", allowance)
    _cli("--home", payee, "trust-issuer", issuer_key)
    return payer, payee


def _one_payment(
    payer: str, payee: str, adapters: tuple[str, str], capture: Path
) -> tuple[Connection, float]:
    env = {**os.environ, "P2PPAY_PASSPHRASE": "", "BUMBLE_SNOOPER": f"btsnoop:file:{capture}"}
    pay = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "p2ppay",
            "--home",
            payer,
            "pay",
            "--adapter",
            adapters[0],
            "--auto-approve-up-to",
            "1.00",
            "--once",
            "--json",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = time.monotonic()
    try:
        _cli(
            "--home",
            payee,
            "request",
            "1.00",
            "EUR",
            "--adapter",
            adapters[1],
            "--within",
            "30",
            "--json",
        )
        pay.communicate(timeout=60)
    finally:
        if pay.poll() is None:
            pay.kill()
            pay.communicate()
    wall = time.monotonic() - started
    if pay.returncode != 0:
        raise SystemExit(f"the payer failed (exit {pay.returncode})")
    connections = [c for c in parse_btsnoop(capture.read_bytes()).values() if c.pdus]
    if len(connections) != 1:
        raise SystemExit(f"expected one connection with ATT traffic, found {len(connections)}")
    return connections[0], wall


def _sequence(connection: Connection) -> str:
    """The PDUs in order, one run per direction: ``C`` the payee (central), ``P`` the payer."""
    runs = []
    for direction, run in itertools.groupby(connection.pdus, key=lambda p: p.direction):
        side = "P" if direction is Direction.SENT else "C"
        runs.append(side + ":" + ",".join(p.name for p in run))
    return " | ".join(runs)


def _figures(connection: Connection) -> dict[str, Any]:
    pdus = connection.pdus
    measured_ms = None
    if connection.connected_us is not None:
        measured_ms = (pdus[-1].timestamp_us - connection.connected_us) / 1000
    return {
        "att_pdus": len(pdus),
        "direction_changes": connection.direction_changes(),
        "bytes": connection.bytes_each_way(),
        "by_opcode": connection.by_opcode(),
        "sequence": _sequence(connection),
        "events_at_15ms": LinkModel(interval_ms=15).events(pdus),
        "projected_ms": {str(i): LinkModel(interval_ms=i).projected_ms(pdus) for i in INTERVALS_MS},
        "measured_connect_to_last_pdu_ms": measured_ms,
    }


def _report(adapters: list[str], runs: list[dict[str, Any]]) -> None:
    first = runs[0]
    print(f"adapters: {adapters[0]} (payer) / {adapters[1]} (payee)")
    print("ATT PDUs of the payer's connection (first payment), by direction and opcode:")
    for name, count in first["by_opcode"].items():
        print(f"  {count:3}  {name}")
    print("in order (P = payer, C = payee):")
    for run in first["sequence"].split(" | "):
        print(f"  {run}")
    print(f"bytes: sent {first['bytes']['sent']}, received {first['bytes']['received']}")
    header = (
        f"{'run':>3} {'PDUs':>5} {'dir.changes':>11} "
        + " ".join(f"{f'@{i:g}ms':>9}" for i in INTERVALS_MS)
        + f" {'measured':>9}"
    )
    print(header)
    for n, run in enumerate(runs, 1):
        measured = run["measured_connect_to_last_pdu_ms"]
        print(
            f"{n:>3} {run['att_pdus']:>5} {run['direction_changes']:>11} "
            + " ".join(f"{run['projected_ms'][str(i)]:>7.1f}ms" for i in INTERVALS_MS)
            + (f" {measured:>7.1f}ms" if measured is not None else f" {'-':>9}")
        )
    changes = statistics.median(r["direction_changes"] for r in runs)
    at_15 = statistics.median(r["projected_ms"]["15.0"] for r in runs)
    print(
        f"median: {changes:g} direction changes (goal <= {GOAL_DIRECTION_CHANGES}), "
        f"{at_15:.1f} ms projected at 15 ms (goal <= {GOAL_MS_AT_15:g} ms)"
    )
    print(
        json.dumps(
            {
                "adapters": adapters,
                "runs": runs,
                "median_direction_changes": changes,
                "median_projected_ms_at_15": at_15,
                "goal_direction_changes": GOAL_DIRECTION_CHANGES,
                "goal_ms_at_15": GOAL_MS_AT_15,
            },
            sort_keys=True,
        )
    )


def _from_capture(path: Path, index: int | None) -> None:
    connections = [c for c in parse_btsnoop(path.read_bytes(), index=index).values() if c.pdus]
    if not connections:
        raise SystemExit(f"{path}: no connection with ATT traffic")
    _report([f"capture {path} (index {index})", "its peer"], [_figures(c) for c in connections])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=3)
    parser.add_argument("--adapters", default=None, metavar="PERIPHERAL,CENTRAL")
    parser.add_argument("--capture", type=Path, default=None, help="read this capture instead")
    parser.add_argument("--index", type=int, default=None, help="controller of a btmon capture")
    args = parser.parse_args()
    if args.capture is not None:
        _from_capture(args.capture, args.index)
        return
    controllers = None
    if args.adapters is None:
        ports = (_free_port(), _free_port())
        controllers = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bumble.apps.controllers",
                *(f"tcp-server:127.0.0.1:{p}" for p in ports),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not all(_listening(p) for p in ports):
            if time.monotonic() > deadline:
                raise SystemExit("the Bumble controllers did not start")
            time.sleep(0.05)
        adapters = tuple(f"bumble:tcp-client:127.0.0.1:{p}" for p in ports)
    else:
        adapters = tuple(args.adapters.split(","))
        if len(adapters) != 2:
            raise SystemExit("--adapters takes PERIPHERAL,CENTRAL")
    runs: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="p2ppay-tap-") as tmp:
            root = Path(tmp)
            payer, payee = _wallets(root, args.payments)
            for n in range(args.payments):
                connection, wall = _one_payment(
                    payer, payee, (adapters[0], adapters[1]), root / f"payer-{n}.btsnoop"
                )
                runs.append({**_figures(connection), "wall_s": round(wall, 3)})
    finally:
        if controllers is not None:
            controllers.terminate()
            controllers.wait(timeout=10)
    _report(list(adapters), runs)


if __name__ == "__main__":
    main()
