"""Benchmark: 100 customers in a row at the kiosk, on the virtual radio.

Run: ``.venv/bin/python bench/kiosk.py [--customers 100] [--select tag|signal]``

A real kiosk (daemon, queue, cashier, HTTP API on a Unix socket) collects into a real payee
wallet (SQLite, ``synchronous=FULL``); customers walk up one at a time (a payer device opens
on the shared virtual radio, advertises, pays with its own wallet, leaves), and the point of
sale posts each invoice through the API, with the customer's session tag (``--select tag``)
or letting the kiosk pick the strongest signal above the gate (``--select signal``, which
adds the ``radio.listen`` window to compare signals). Five payer wallets take turns.

Measured per payment, from the POS request (POST) to the receipt (the final status event on
the SSE stream): the total, and the kiosk's own phase times (what its status events say):
``queued``; ``scanning`` (until a payer is chosen); ``connecting`` (link set-up: connect,
MTU, discovery, Info, subscriptions, START); ``handshake`` (Noise handshake, invoice, the
payer's approval and its signed, stored payment, until the payment verifies offline);
``persisting`` (payment and receipt committed to SQLite, the receipt signed and sent, the
session closed). ``other`` is the rest: HTTP, invoice signing and storing, SSE delivery.

Scan share: per payment, the fraction of its time (POS request to receipt) spent scanning,
i.e. listening for and choosing the payer (by tag, or by signal with the adaptive
``radio.listen`` window, ``--listen``); printed as p50 / p95 / mean over the payments, in
both selection modes.

Baseline, in the same run: the same payments, chosen the same way, driven straight through
``PayeeRole.collect`` (no kiosk, no HTTP, no queue); ``overhead`` = kiosk p50 / direct p50.

On the virtual radio a connection is made at the payer's next advertisement (every 20 ms),
so ``connecting`` includes up to one advertising interval.
The last line is one JSON object with the raw figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx

from gatt.bumble_backend import loop_radio
from p2ppay.kiosk import Kiosk, parse_config
from p2ppay.kiosk.daemon import serve
from p2ppay.roles import AutoApprove, PayeeRole, PayerChoice, PayerRole
from p2ppay.roles.radio import PAYER_INFO
from p2ppay.wallet import Wallet, WalletHome, init_wallet, open_wallet
from p2ppay.wallet.issuer import init_issuer, open_issuer

PHASES = ("queued", "scanning", "connecting", "handshake", "persisting")
PAYERS = 5
AMOUNT = "1.25"
TAG_LINE = "advertising as payer, session tag "


def _now() -> int:
    return int(time.time())


def make_wallets(root: Path) -> tuple[WalletHome, list[WalletHome]]:
    now = _now()
    issuer_home = WalletHome.resolve(root / "issuer")
    issuer_key = init_issuer(issuer_home, now=now)
    issuer = open_issuer(issuer_home)
    kiosk = WalletHome.resolve(root / "kiosk")
    init_wallet(kiosk, passphrase=None, now=now)
    with open_wallet(kiosk, passphrase=None, now=now) as wallet:
        wallet.trust_issuer(issuer_key, now=now)
    payers = []
    for i in range(PAYERS):
        home = WalletHome.resolve(root / f"payer{i}")
        identity = init_wallet(home, passphrase=None, now=now)
        allowance = issuer.grant(identity.public_key, 10_000_00, "EUR", now=now)
        with open_wallet(home, passphrase=None, now=now) as wallet:
            wallet.import_allowance(allowance, now=now)
        payers.append(home)
    return kiosk, payers


async def customer_walks_up(
    wallet: Wallet, pay: Callable[[str], Awaitable[None]], *, rssi: int = -45
) -> None:
    """One customer: open a payer device, show the tag, pay, leave."""
    tag_seen = anyio.Event()
    tags: list[str] = []

    def progress(line: str) -> None:
        if line.startswith(TAG_LINE) and not tags:
            tags.append(line[len(TAG_LINE) :].split(";", maxsplit=1)[0].strip())
            tag_seen.set()

    role = PayerRole(
        wallet=wallet, approver=AutoApprove(limit=100_00, currency="EUR"), progress=progress
    )
    async with (
        loop_radio().open_peripheral(info=PAYER_INFO, rssi=rssi) as peripheral,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(role.serve_one, peripheral)
        with anyio.fail_after(10):
            await tag_seen.wait()
        await pay(tags[0])


async def kiosk_run(
    kiosk_home: WalletHome,
    payers: list[WalletHome],
    customers: int,
    select: str,
    sock: Path,
    *,
    listen: float,
) -> list[dict[str, Any]]:
    config = parse_config(
        {
            "wallet": {"home": str(kiosk_home.root)},
            "radio": {"adapter": "virtual", "min_rssi": -70, "margin_db": 6, "listen": listen},
            "payments": {"currency": "EUR", "queue_size": 4},
            "api": {"listen": f"unix:{sock}"},
            "daemon": {"log_level": "WARNING", "health_interval": 60},
        }
    )
    samples: list[dict[str, Any]] = []
    wallets = [open_wallet(home, passphrase=None, now=_now()) for home in payers]
    try:
        with open_wallet(kiosk_home, passphrase=None, now=_now()) as wallet:
            kiosk = Kiosk(config=config, wallet=wallet)
            stop = anyio.Event()
            ready = anyio.Event()
            transport = httpx.AsyncHTTPTransport(uds=str(sock))
            async with (
                anyio.create_task_group() as tg,
                httpx.AsyncClient(transport=transport, base_url="http://kiosk") as pos,
            ):
                tg.start_soon(
                    lambda: serve(kiosk, stop=stop, on_ready=ready.set, handle_signals=False)
                )
                await ready.wait()
                await kiosk.adapter.wait_up()

                async def pay(tag: str) -> None:
                    body: dict[str, str] = {"amount": AMOUNT, "memo": "bench"}
                    if select == "tag":
                        body["tag"] = tag
                    started = time.perf_counter()
                    created = await pos.post("/invoices", json=body)
                    request_id = created.json()["id"]
                    final: dict[str, Any] = {}
                    async with pos.stream("GET", f"/invoices/{request_id}/events") as stream:
                        async for line in stream.aiter_lines():
                            if line.startswith("data: "):
                                final = json.loads(line[len("data: ") :])
                    total_ms = (time.perf_counter() - started) * 1000
                    view = (await pos.get(f"/invoices/{request_id}")).json()
                    samples.append(
                        {
                            "state": final["state"],
                            "error": final["error"],
                            "total_ms": total_ms,
                            "phases_ms": view["phases_ms"],
                        }
                    )

                for i in range(customers):
                    await customer_walks_up(wallets[i % PAYERS], pay)
                stop.set()
    finally:
        for payer in wallets:
            payer.close()
    return samples


async def direct_run(
    kiosk_home: WalletHome, payers: list[WalletHome], customers: int, select: str, listen: float
) -> list[float]:
    """Baseline: the same payments through PayeeRole.collect, no kiosk around it."""
    times: list[float] = []
    wallets = [open_wallet(home, passphrase=None, now=_now()) for home in payers]
    try:
        with open_wallet(kiosk_home, passphrase=None, now=_now()) as wallet:
            async with loop_radio().open_central() as central:
                for i in range(customers):

                    async def pay(tag: str) -> None:
                        choice = (
                            PayerChoice(tag=tag)
                            if select == "tag"
                            else PayerChoice(min_rssi=-70, margin_db=6, listen=listen)
                        )
                        role = PayeeRole(wallet=wallet, choice=choice)
                        started = time.perf_counter()
                        invoice = role.new_invoice(amount=125, currency="EUR", memo="bench")
                        outcome = await role.collect(central, invoice)
                        assert outcome.completed, outcome
                        times.append((time.perf_counter() - started) * 1000)

                    await customer_walks_up(wallets[i % PAYERS], pay)
    finally:
        for payer in wallets:
            payer.close()
    return times


def _p(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--select", choices=("tag", "signal"), default="tag")
    parser.add_argument("--baseline", type=int, default=30, help="direct payments (baseline)")
    parser.add_argument(
        "--listen", type=float, default=0.2, help="radio.listen: longest signal window, seconds"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kb", dir="/tmp") as tmp:
        root = Path(tmp)
        kiosk_home, payers = make_wallets(root)
        started = time.perf_counter()
        samples = anyio.run(
            partial(
                kiosk_run,
                kiosk_home,
                payers,
                args.customers,
                args.select,
                root / "api.sock",
                listen=args.listen,
            )
        )
        wall_s = time.perf_counter() - started
        direct = anyio.run(direct_run, kiosk_home, payers, args.baseline, args.select, args.listen)

    ok = [s for s in samples if s["state"] == "completed"]
    totals = [s["total_ms"] for s in ok]
    phase = {name: [s["phases_ms"].get(name, 0.0) for s in ok] for name in PHASES}
    other = [s["total_ms"] - sum(s["phases_ms"].get(n, 0.0) for n in PHASES) for s in ok]
    mean_total = statistics.fmean(totals)
    rows = [(name, phase[name]) for name in PHASES] + [("other", other)]
    p50, p95 = _p(totals, 50), _p(totals, 95)
    direct_p50 = _p(direct, 50)
    per_minute = len(ok) / wall_s * 60
    scan_share = [s["phases_ms"].get("scanning", 0.0) / s["total_ms"] for s in ok]

    print(
        f"kiosk: {args.customers} customers in a row, select={args.select}, virtual radio, "
        f"API on a Unix socket"
    )
    print(
        f"completed {len(ok)}/{len(samples)}; {per_minute:.1f} payments/min "
        f"(wall {wall_s:.1f} s, including each customer walking up)"
    )
    print(f"POS request -> receipt: p50 {p50:.1f} ms, p95 {p95:.1f} ms, mean {mean_total:.1f} ms")
    print(f"{'phase':<12}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}{'share':>9}")
    for name, values in rows:
        share = statistics.fmean(values) / mean_total
        print(
            f"{name:<12}{_p(values, 50):>10.1f}{_p(values, 95):>10.1f}"
            f"{statistics.fmean(values):>10.1f}{share:>8.1%}"
        )
    print(
        f"scan share (listening for and choosing the payer), per payment: "
        f"p50 {_p(scan_share, 50):.1%}, p95 {_p(scan_share, 95):.1%}, "
        f"mean {statistics.fmean(scan_share):.1%} (select={args.select}, "
        f"listen <= {args.listen:g} s)"
    )
    print(
        f"baseline: PayeeRole.collect directly ({len(direct)} payments) p50 {direct_p50:.1f} ms; "
        f"kiosk overhead x{p50 / direct_p50:.2f}"
    )
    print(
        json.dumps(
            {
                "bench": "kiosk",
                "customers": args.customers,
                "select": args.select,
                "listen_s": args.listen,
                "completed": len(ok),
                "failed": dict(Counter(s["error"] for s in samples if s["state"] != "completed")),
                "wall_s": round(wall_s, 3),
                "payments_per_minute": round(per_minute, 2),
                "p50_ms": round(p50, 2),
                "p95_ms": round(p95, 2),
                "mean_ms": round(mean_total, 2),
                "phase_mean_ms": {n: round(statistics.fmean(v), 2) for n, v in rows},
                "phase_share": {n: round(statistics.fmean(v) / mean_total, 4) for n, v in rows},
                "scan_share": {
                    "p50": round(_p(scan_share, 50), 4),
                    "p95": round(_p(scan_share, 95), 4),
                    "mean": round(statistics.fmean(scan_share), 4),
                },
                "baseline_direct_p50_ms": round(direct_p50, 2),
                "overhead_ratio_p50": round(p50 / direct_p50, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
