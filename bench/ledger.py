"""Benchmark: bundles per second through the ledger's sync endpoint, vs the Ed25519 floor.

Each bundle the ledger settles costs at least four Ed25519 verifications (invoice, payment,
the allowance inside the payment, receipt). The floor is those four ``VerifyKey.verify``
calls on the very same to-be-signed bytes, measured in the same run: it is the rate the
ledger could reach if verifying signatures were all it did, on one core.

The ledger runs as its own process (``python -m p2ppay ledger serve``, uvicorn), on SQLite and
on a private PostgreSQL; this process uploads fresh bundles (several payers, several payees,
one chain per payer) with signed ``POST /v1/sync`` calls of ``--batch`` bundles, one call at
a time per lane (``--concurrency`` lanes), and times the calls. Every answer must be
``settled``. Each of ``--rounds`` rounds uses fresh bundles and measures the floor right
before its upload; reported are the medians (and the best ratio). Ratio = ledger / floor.
``dup/s`` is the other party uploading the same bundles again (answered ``duplicate``).

    .venv/bin/python bench/ledger.py [--bundles 500] [--rounds 5] [--batch 100]
        [--concurrency 4] [--verify-workers CPUS] [--stores sqlite,postgresql]

The last line of output is one JSON object with the raw figures.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx
from nacl.signing import SigningKey, VerifyKey

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from p2ppay.sync import AdminClient, LedgerClient
from protocol.builders import make_invoice, make_payment, make_receipt
from protocol.bundle import decode_bundle, encode_bundle
from protocol.chain import ChainHead, head_of
from protocol.cose import parse_sign1
from protocol.documents import Allowance, Verdict
from protocol.verify import open_as

TOKEN = "bench-token-0123456789-abcdefghijklmnopqrstuvwxyz"
PAYERS = 10
PAYEES = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_ledger(db: str, workers: int, key: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "p2ppay",
            "ledger",
            "serve",
            "--db",
            db,
            "--port",
            str(port),
            "--issuer-key-file",
            str(key),
            "--verify-workers",
            str(workers),
            "--bundles-per-minute",
            str(10**9),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "P2PPAY_ADMIN_TOKEN": TOKEN},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"the ledger on {db} did not start")


async def make_bundles(url: str, count: int) -> list[bytes]:
    """Fund payers, get their allowances from the ledger, and sign ``count`` bundles."""
    payers = [SigningKey.generate() for _ in range(PAYERS)]
    payees = [SigningKey.generate() for _ in range(PAYEES)]
    per_payer = -(-count // PAYERS)
    allowances: list[tuple[SigningKey, object]] = []
    async with AdminClient(url, TOKEN) as admin:
        for key in payers:
            async with LedgerClient(url, key) as client:
                await client.register()
                await admin.deposit(bytes(key.verify_key).hex(), per_payer * 100, "EUR")
                issued = await client.request_allowance(
                    currency="EUR", amount_minor=per_payer * 100
                )
            allowances.append((key, open_as(base64.b64decode(issued.allowance), Allowance)))
    now = int(time.time())
    bundles: list[bytes] = []
    heads: list[ChainHead | None] = [None] * PAYERS
    for n in range(count):
        p = n % PAYERS
        key, allowance = allowances[p]
        payee = payees[n % PAYEES]
        invoice = make_invoice(payee, amount=100, currency="EUR", now=now)
        payment = make_payment(key, invoice=invoice, allowance=allowance, head=heads[p])  # type: ignore[arg-type]
        heads[p] = head_of(payment)
        receipt = make_receipt(payee, payment_hash=payment.hash, verdict=Verdict.ACCEPTED, now=now)
        bundles.append(encode_bundle(invoice.raw, payment.raw, receipt.raw))
    return bundles


def verification_floor(bundles: list[bytes]) -> float:
    """Seconds per bundle for its four bare Ed25519 verifications."""
    jobs: list[tuple[VerifyKey, bytes, bytes]] = []
    for bundle in bundles:
        invoice, payment, receipt = decode_bundle(bundle)
        opened = open_as(payment, __import__("protocol.documents").documents.Payment)
        allowance = opened.allowance
        assert allowance is not None
        docs = (
            (invoice, open_as(invoice, __import__("protocol.documents").documents.Invoice).signer),
            (payment, opened.signer),
            (allowance.raw, allowance.signer),
            (receipt, open_as(receipt, __import__("protocol.documents").documents.Receipt).signer),
        )
        for raw, signer in docs:
            envelope = parse_sign1(raw)
            jobs.append((VerifyKey(signer), envelope.to_be_signed(), envelope.signature))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for key, message, signature in jobs:
            key.verify(message, signature)
        best = min(best, time.perf_counter() - start)
    return best / len(bundles)


async def upload(
    url: str, bundles: list[bytes], batch: int, concurrency: int, expect: str = "settled"
) -> float:
    """Seconds to upload ``bundles``, ``batch`` per call, ``concurrency`` calls in flight
    (wallets syncing at once); every answer must be ``expect``."""
    key = SigningKey.generate()
    encoded = [base64.b64encode(b).decode("ascii") for b in bundles]
    async with LedgerClient(url, key) as client:
        await client.register()
        batches = [encoded[i : i + batch] for i in range(0, len(encoded), batch)]

        async def uploader(lane: int) -> None:
            for chunk in batches[lane::concurrency]:
                answer = await client.sync(chunk, [])
                bad = [r for r in answer.results if r.status != expect]
                if bad:
                    raise RuntimeError(f"not {expect}: {bad[0]}")

        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for lane in range(concurrency):
                tg.start_soon(uploader, lane)
        return time.perf_counter() - start


def run_store(store: str, args: argparse.Namespace) -> dict[str, object]:
    """Median over ``rounds`` of (ledger rate, floor rate, ratio), each round on fresh
    bundles, the floor measured right before the upload it is compared with."""
    cleanup = None
    if store == "sqlite":
        tmp = tempfile.mkdtemp(prefix="p2ppay-bench-")
        db = f"sqlite:///{tmp}/ledger.sqlite3"
        cleanup = lambda: shutil.rmtree(tmp, ignore_errors=True)  # noqa: E731
    else:
        from tests.ledger.pg import create_database, start_postgres

        server = start_postgres()
        cleanup = server.stop
        db = anyio.run(create_database, server, "bench")
    count, batch, rounds = args.bundles, args.batch, args.rounds
    workers, concurrency = args.verify_workers, args.concurrency
    keys = tempfile.mkdtemp(prefix="p2ppay-bench-key-")
    process, url = start_ledger(db, workers, Path(keys) / "issuer.key")
    rates: list[float] = []
    floors: list[float] = []
    repeats: list[float] = []
    try:
        bundles = anyio.run(make_bundles, url, count * rounds + batch)
        anyio.run(upload, url, bundles[:batch], batch, 1)  # warm-up, untimed
        for r in range(rounds):
            chunk = bundles[batch + r * count : batch + (r + 1) * count]
            floors.append(1 / verification_floor(chunk))
            rates.append(count / anyio.run(upload, url, chunk, batch, concurrency))
            # The other party uploads the same bundles: answered ``duplicate``.
            repeats.append(count / anyio.run(upload, url, chunk, batch, concurrency, "duplicate"))
    finally:
        process.terminate()
        process.wait(timeout=15)
        if cleanup is not None:
            cleanup()
        shutil.rmtree(keys, ignore_errors=True)
    ratios = [rate / floor for rate, floor in zip(rates, floors, strict=True)]
    return {
        "store": store,
        "bundles_per_round": count,
        "rounds": rounds,
        "batch": batch,
        "verify_workers": workers,
        "concurrency": concurrency,
        "bundles_per_s": round(statistics.median(rates), 1),
        "floor_bundles_per_s": round(statistics.median(floors), 1),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_best": round(max(ratios), 3),
        "duplicate_bundles_per_s": round(statistics.median(repeats), 1),
        "ratios": [round(x, 3) for x in ratios],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=500, help="bundles per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument(
        "--verify-workers",
        type=int,
        default=os.cpu_count() or 1,
        help="ledger worker processes verifying bundles (0: in the serving process)",
    )
    parser.add_argument("--concurrency", type=int, default=4, help="sync calls in flight")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    rows = [run_store(s, args) for s in args.stores.split(",")]
    print("median of rounds; ratio = ledger bundles/s / floor bundles/s (goal >= 0.5)")
    print(f"{'store':<12}{'bundles/s':>12}{'floor/s':>12}{'ratio':>8}{'best':>8}{'dup/s':>10}")
    for row in rows:
        print(
            f"{row['store']:<12}{row['bundles_per_s']:>12}{row['floor_bundles_per_s']:>12}"
            f"{row['ratio']:>8}{row['ratio_best']:>8}{row['duplicate_bundles_per_s']:>10}"
        )
    print(json.dumps({"bench": "ledger", "cpu_count": os.cpu_count(), "results": rows}))


if __name__ == "__main__":
    main()
