"""Runs INSIDE the test-bed VM: every session of the BlueZ tests, each on a fresh controller pair.

``python -m tests.bluez.guest_run OUT`` (``guest.sh`` started with ``CONTROLLERS`` =
:data:`CONTROLLERS`). Pair ``k`` is ``(hci2k, hci2k+1)``: the peripheral / payer on the even
adapter, the central / payee on the odd one. Sessions, in order, one per pair:

1. ``exchange`` and ``exchange_with_response``: :mod:`tests.bluez.guest_exchange`, the two
   roles as two processes.
2. ``payment``: the CLI as a script would drive it, ``p2ppay request`` on the payee's
   adapter and ``p2ppay pay --once`` on the payer's, running at the same time, with the
   wallet homes the host prepared in ``OUT/wallets``. ``btmon -i <payer's adapter> -w
   payer.btsnoop`` captures the payer's controller meanwhile, so the host can count the
   connection's ATT round trips with bleak on BlueZ as the payee (``bench/tap.py
   --capture``).
3. ``conformance``: ``p2ppay pay`` (bless on BlueZ) on the even adapter is the device under
   test, and ``p2ppay conformance --role payer`` runs on Bumble over the odd controller's raw
   HCI socket (``bumble:hci-socket:N``, the controller taken from BlueZ first): two host
   stacks and two controllers, as a kiosk on a USB dongle meets a laptop on BlueZ.

In every session the central (payee) starts first and the peripheral (payer) only once the
central's adapter is scanning: btvirt reports an advertisement once, when it is switched on,
and the central's kernel drops that one report if it comes while its discovery is still
starting (:func:`_await_scanning`). This, not inherited BlueZ state, is what made the second
session's advertisement go unseen in about 2 boots in 8 before.

Why a fresh pair per session anyway: the sessions share one bluetoothd; on a fresh pair no
session inherits the devices, connections or advertising instances an earlier one left.

Bounded retry: a session whose sides never met (no Link on either side: the advertisement
was not seen, or the connection failed beyond the central's own retries) runs once more on
the spare pair; :data:`RETRIES` such retries per boot at most. A failure after the sides met
is never retried. Every attempt keeps its own folder ``OUT/<session>.<n>`` and is listed in
``OUT/sessions.json``, so the host sees each retry and why it happened.

Invariants: nothing is judged here; the guest's exit code is 0 when every session wrote its
records, whatever they say.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatt.spec import new_session_tag
from tests.bluez.guest_exchange import GO_FILE, SESSIONS, STEP

CONTROLLERS = 10
"""btvirt controllers: one pair for each of the four sessions and one spare pair."""
RETRIES = 1
"""Sessions per boot that may run again on the spare pair after their sides never met."""
PAYMENT = "payment"
CONFORMANCE = "conformance"
SYSTEM_PYTHON = "/usr/bin/python3"
"""Debian's Python, built with AF_BLUETOOTH (Bumble's hci-socket transport needs it; a
pyenv-built interpreter may lack it): it runs the runner on this venv's packages."""
PAY_AMOUNT = ("12.50", "EUR")
AUTO_APPROVE = "20.00"
FIND_WITHIN = STEP
"""Seconds the payee scans for the payer (it starts before the payer)."""
SCAN_WAIT = STEP
"""Seconds to wait for the central to scan before starting the peripheral anyway."""
SESSION_TIMEOUT = 3 * STEP
"""Seconds one side of one session may run before it is killed."""


@dataclass(kw_only=True)
class Pairs:
    """Hands out controller pairs, each at most once."""

    next_pair: int = 0

    def take(self) -> tuple[str, str]:
        k = self.next_pair
        if 2 * k + 1 >= CONTROLLERS:
            raise RuntimeError("no controller pair left")
        self.next_pair += 1
        return f"hci{2 * k}", f"hci{2 * k + 1}"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "P2PPAY_PASSPHRASE": ""}


def _stop(process: subprocess.Popen[bytes], grace: float) -> int | None:
    """Wait up to ``grace`` seconds, then end the process; its exit code, None if killed."""
    try:
        return process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return None


def _discovering(adapter: str) -> bool:
    """Whether bluetoothd reports adapter ``adapter`` as scanning (``Adapter1.Discovering``)."""
    reply = subprocess.run(
        [
            "dbus-send",
            "--system",
            "--print-reply",
            "--dest=org.bluez",
            f"/org/bluez/{adapter}",
            "org.freedesktop.DBus.Properties.Get",
            "string:org.bluez.Adapter1",
            "string:Discovering",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return "boolean true" in reply.stdout


def _await_scanning(adapter: str, scanner: subprocess.Popen[bytes], folder: Path) -> None:
    """Wait until the central scans on ``adapter`` (or its process ended, or SCAN_WAIT passed),
    then write ``folder/GO_FILE`` (a waiting peripheral advertises then).

    btvirt's controllers send an advertising report only when advertising or scanning is
    switched on, once, not every advertising interval as a radio does. When the peripheral
    advertises first, that one report reaches the central's kernel at the very moment its
    discovery starts, and the kernel drops it unless discovery is already in its finding state
    (seen in btmon: reports 50 µs before MGMT "Discovering", no "Device Found"; on every
    later scan restart again), so the central never hears of the peripheral. Advertising
    after the central scans gives a report the kernel delivers.
    """
    deadline = time.monotonic() + SCAN_WAIT
    while time.monotonic() < deadline and scanner.poll() is None:
        if _discovering(adapter):
            break
        time.sleep(0.1)
    (folder / GO_FILE).write_text(f"{adapter} scanning: {_discovering(adapter)}\n")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        return {"error": f"no record: {error!r}"}
    return loaded if isinstance(loaded, dict) else {"error": f"not an object: {loaded!r}"}


def run_exchange(folder: Path, session: str, pair: tuple[str, str]) -> bool:
    """One exchange session; True if the two sides met (either side had a Link)."""
    argv = [sys.executable, "-m", "tests.bluez.guest_exchange"]
    tag = new_session_tag()
    with (folder / "peripheral.log").open("w") as plog, (folder / "central.log").open("w") as clog:
        # Both start at once (their imports take seconds), but the peripheral advertises only
        # once the central scans: it waits for GO_FILE (see _await_scanning).
        server = subprocess.Popen(
            [*argv, "peripheral", str(folder), session, pair[0], tag], stderr=plog, env=_env()
        )
        client = subprocess.Popen(
            [*argv, "central", str(folder), session, pair[1], tag], stderr=clog, env=_env()
        )
        _await_scanning(pair[1], client, folder)
        _stop(client, SESSION_TIMEOUT)
        # The peripheral ends by itself once its Link closed; if the sides never met it is
        # still advertising, and nobody will come.
        _stop(server, STEP / 2)
    records = [_read_json(folder / f"{role}.json") for role in ("peripheral", "central")]
    return any(record.get("linked") for record in records)


def _cli(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "p2ppay", "--home", str(home), *args]


def run_payment(folder: Path, shared: Path, pair: tuple[str, str]) -> bool:
    """One payment through the CLI; True if the payer got a session (its JSON was printed).

    The homes are copied from ``shared`` (the out folder, on 9p) into the guest's tmpfs and
    back afterwards: SQLite's WAL needs shared memory (mmap), which 9p does not give
    (``disk I/O error``).
    """
    wallets = Path(tempfile.mkdtemp(prefix="wallets-"))
    for role in ("payer", "payee"):
        shutil.copytree(shared / role, wallets / role)
    payer_argv = _cli(
        wallets / "payer",
        "pay",
        "--adapter",
        pair[0],
        "--once",
        "--auto-approve-up-to",
        AUTO_APPROVE,
        "--json",
    )
    payee_argv = _cli(
        wallets / "payee",
        "request",
        *PAY_AMOUNT,
        "--adapter",
        pair[1],
        "--within",
        str(FIND_WITHIN),
        "--json",
    )
    files = {
        name: (folder / name).open("wb")
        for name in ("pay.out", "pay.err", "request.out", "request.err")
    }
    # The payer's controller only: the capture is the payer's view, as bench/tap.py's is.
    btmon = subprocess.Popen(
        ["btmon", "-i", pair[0], "-w", str(folder / "payer.btsnoop")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The payee first, the payer once it scans (see _await_scanning).
        payee = subprocess.Popen(
            payee_argv, stdout=files["request.out"], stderr=files["request.err"], env=_env()
        )
        _await_scanning(pair[1], payee, folder)
        payer = subprocess.Popen(
            payer_argv, stdout=files["pay.out"], stderr=files["pay.err"], env=_env()
        )
        payee_rc = _stop(payee, SESSION_TIMEOUT)
        payer_rc = _stop(payer, STEP / 2)
    finally:
        btmon.send_signal(signal.SIGINT)
        _stop(btmon, 5)
        for file in files.values():
            file.close()
        for role in ("payer", "payee"):
            shutil.rmtree(shared / role)
            shutil.copytree(wallets / role, shared / role)
    (folder / "attempt.json").write_text(
        json.dumps({"pair": pair, "pay_rc": payer_rc, "request_rc": payee_rc})
    )
    return bool((folder / "pay.out").read_bytes().strip())


def _system_python_env() -> dict[str, str]:
    """Run the repository with Debian's Python on this venv's installed packages (same
    CPython minor version, same ABI)."""
    packages = sysconfig.get_paths()["purelib"]
    repo = str(Path(__file__).resolve().parents[2])
    return {**_env(), "PYTHONPATH": os.pathsep.join((repo, packages))}


def run_conformance(folder: Path, shared: Path, pair: tuple[str, str]) -> bool:
    """Our payer (bless, ``pair[0]``) under the conformance runner (Bumble, raw HCI socket of
    ``pair[1]``); True if the sides met (the runner observed at least one case)."""
    wallets = Path(tempfile.mkdtemp(prefix="conformance-"))
    shutil.copytree(shared / "payer", wallets / "payer")
    index = pair[1].removeprefix("hci")
    # Bumble binds the HCI user channel, which the kernel grants only for a controller that
    # is down: take it from BlueZ.
    down = subprocess.run(
        ["btmgmt", "--index", index, "power", "off"], capture_output=True, text=True, check=False
    )
    (folder / "power-off.txt").write_text(down.stdout + down.stderr)
    payer_argv = _cli(
        wallets / "payer",
        "pay",
        "--adapter",
        pair[0],
        "--auto-approve-up-to",
        AUTO_APPROVE,
        "--auto-approve-count",
        "10",
        "--json",
    )
    runner_argv = [
        SYSTEM_PYTHON,
        "-m",
        "p2ppay",
        "--home",
        str(wallets / "runner"),
        "conformance",
        "--role",
        "payer",
        "--adapter",
        f"bumble:hci-socket:{index}",
        "--within",
        str(STEP),
        "--patience",
        "20",
        "--non-interactive",
        "--json",
    ]
    names = ("pay.out", "pay.err", "runner.out", "runner.err")
    files = {name: (folder / name).open("wb") for name in names}
    try:
        payer = subprocess.Popen(
            payer_argv, stdout=files["pay.out"], stderr=files["pay.err"], env=_env()
        )
        runner = subprocess.Popen(
            runner_argv,
            stdout=files["runner.out"],
            stderr=files["runner.err"],
            env=_system_python_env(),
        )
        runner_rc = _stop(runner, 8 * STEP)
        payer.send_signal(signal.SIGTERM)
        payer_rc = _stop(payer, STEP / 2)
    finally:
        for file in files.values():
            file.close()
    (folder / "attempt.json").write_text(
        json.dumps({"pair": pair, "pay_rc": payer_rc, "runner_rc": runner_rc})
    )
    report = _read_json(folder / "runner.out")
    return any(case.get("observed") is not None for case in report.get("cases", []))


def main(out: Path) -> int:
    pairs = Pairs()
    retries_left = RETRIES
    summary: dict[str, dict[str, Any]] = {}
    for session in (*SESSIONS, PAYMENT, CONFORMANCE):
        attempts: list[dict[str, Any]] = []
        summary[session] = {"attempts": attempts}
        while True:
            pair = pairs.take()
            folder = out / f"{session}.{len(attempts) + 1}"
            folder.mkdir()
            print(f"[guest_run] {session} attempt {len(attempts) + 1} on {pair}", flush=True)
            if session == PAYMENT:
                met = run_payment(folder, out / "wallets", pair)
            elif session == CONFORMANCE:
                met = run_conformance(folder, out / "wallets", pair)
            else:
                met = run_exchange(folder, session, pair)
            attempts.append({"folder": folder.name, "pair": list(pair), "met": met})
            if met or retries_left == 0:
                break
            retries_left -= 1
            print(
                f"[guest_run] {session}: the sides never met; retrying on a fresh pair", flush=True
            )
    (out / "sessions.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
