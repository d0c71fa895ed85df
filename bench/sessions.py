"""Benchmark: what one payment session costs on the air and on the CPU.

Run: ``.venv/bin/python bench/sessions.py [--payments 20]``

For ATT MTU 23, 185, 247 and 517 it runs complete payments between a real PayerSession and
a real PayeeSession joined by an in-memory pipe (chunk size = min(MTU - 3, 512)), from the
payee's first write to the receipt, session construction included, and reports:

- bytes on air: every chunk with its one-byte header (``bytes``), and the same plus the
  3-byte ATT header of each Write Command / Handle Value Notification (``att_bytes``);
- chunks each way and direction changes (a lower bound on connection events; the chunks of
  one message go back to back);
- CPU time of both sides together (``time.process_time``) against the raw crypto floor
  measured in the same run: every libsodium call the sessions made (X25519, ChaCha20-Poly1305,
  BLAKE2b, Ed25519 sign/verify and key conversions) is recorded once with its real
  arguments and replayed directly, so the floor is the same primitive work with no Python
  protocol code around it. ``ratio`` = session CPU / floor.

Goals (issue 3): at most 6 direction changes, at most 1,600 bytes on air at MTU 247, CPU at
most 3x the floor. The last line is one JSON object with the raw figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import nacl.bindings
from nacl.signing import SigningKey

from protocol import (
    NEED_DATA,
    Completed,
    InvoiceReceived,
    PayeePolicy,
    PayeeSession,
    PayerSession,
    PayerWallet,
    PersistRequired,
    chunk_size_for_mtu,
    make_allowance,
    make_invoice,
    public_key,
)

MTUS = (23, 185, 247, 517)
ATT_HEADER = 3
GOAL_DIRECTION_CHANGES = 6
GOAL_BYTES_AT_247 = 1600
GOAL_RATIO = 3.0
NOW_S = 1_760_000_000

ISSUER = SigningKey(bytes([1]) * 32)
PAYER = SigningKey(bytes([2]) * 32)
PAYEE = SigningKey(bytes([3]) * 32)
ALLOWANCE = make_allowance(
    ISSUER,
    wallet=public_key(PAYER),
    currency="EUR",
    limit=10**9,
    not_before=NOW_S - 86_400,
    not_after=NOW_S + 86_400,
    serial=1,
).raw

# Every libsodium entry point the protocol uses; all are looked up on nacl.bindings at call time.
PRIMITIVES = (
    "crypto_scalarmult",
    "crypto_scalarmult_base",
    "crypto_aead_chacha20poly1305_ietf_encrypt",
    "crypto_aead_chacha20poly1305_ietf_decrypt",
    "crypto_generichash_blake2b_salt_personal",
    "crypto_sign",
    "crypto_sign_open",
    "crypto_sign_seed_keypair",
    "crypto_sign_ed25519_pk_to_curve25519",
    "crypto_sign_ed25519_sk_to_curve25519",
)


def _invoice(number: int) -> bytes:
    return make_invoice(
        PAYEE,
        invoice_id=number.to_bytes(16, "big"),
        amount=1250,
        currency="EUR",
        memo="coffee",
        now=NOW_S,
    ).raw


def one_payment(chunk_size: int, invoice: bytes) -> list[tuple[str, bytes]]:
    """Run one payment; return the chunks as (sender, chunk) in air order."""
    payer = PayerSession(
        wallet=PayerWallet(identity=PAYER, allowance=ALLOWANCE, head=None),
        max_chunk_size=chunk_size,
    )
    payee = PayeeSession(
        identity=PAYEE,
        invoice=invoice,
        policy=PayeePolicy(trusted_issuers=(public_key(ISSUER),)),
        max_chunk_size=chunk_size,
    )
    now = NOW_S * 1000
    air: list[tuple[str, bytes]] = []
    payee.start(now)
    done = 0
    while done < 2:
        moved = False
        for name, sender, receiver in (("payee", payee, payer), ("payer", payer, payee)):
            for chunk in sender.data_to_send():
                air.append((name, chunk))
                receiver.receive_data(chunk, now)
                moved = True
            while (event := sender.next_event()) is not NEED_DATA:
                moved = True
                if isinstance(event, InvoiceReceived):
                    payer.approve()
                elif isinstance(event, PersistRequired):
                    sender.persisted(event.record_id)
                elif isinstance(event, Completed):
                    done += 1
                else:
                    assert type(event).__name__ in ("PaymentReceived", "ReceiptReceived"), event
        if not moved:
            raise SystemExit(f"payment stalled at chunk size {chunk_size}")
    return air


@contextmanager
def recording() -> Iterator[list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]]:
    """Record every libsodium call made inside the block (function, args, kwargs)."""
    calls: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
    originals = {name: getattr(nacl.bindings, name) for name in PRIMITIVES}

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(*args: Any, **kwargs: Any) -> Any:
            calls.append((function, args, kwargs))
            return function(*args, **kwargs)

        return recorded

    for name, function in originals.items():
        setattr(nacl.bindings, name, wrap(function))
    try:
        yield calls
    finally:
        for name, function in originals.items():
            setattr(nacl.bindings, name, function)


def measure(mtu: int, payments: int) -> dict[str, Any]:
    chunk_size = chunk_size_for_mtu(mtu)
    invoices = [_invoice(n) for n in range(payments)]
    with recording() as calls:
        air = one_payment(chunk_size, invoices[0])
    one_payment(chunk_size, invoices[0])  # warm-up outside the clock

    start = time.process_time()
    for invoice in invoices:
        one_payment(chunk_size, invoice)
    session_cpu = (time.process_time() - start) / payments

    start = time.process_time()
    for _ in range(payments):
        for function, args, kwargs in calls:
            function(*args, **kwargs)
    floor_cpu = (time.process_time() - start) / payments

    senders = [sender for sender, _ in air]
    changes = sum(1 for a, b in itertools.pairwise(senders) if a != b)
    total = sum(len(chunk) for _, chunk in air)
    return {
        "mtu": mtu,
        "chunk_size": chunk_size,
        "bytes": total,
        "att_bytes": total + ATT_HEADER * len(air),
        "chunks_payee_to_payer": senders.count("payee"),
        "chunks_payer_to_payee": senders.count("payer"),
        "direction_changes": changes,
        "crypto_calls": len(calls),
        "cpu_ms": round(session_cpu * 1000, 3),
        "floor_ms": round(floor_cpu * 1000, 3),
        "ratio": round(session_cpu / floor_cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=20, help="payments timed per MTU")
    options = parser.parse_args()
    rows = [measure(mtu, options.payments) for mtu in MTUS]

    header = (
        f"{'MTU':>4} {'chunk':>5} {'bytes':>6} {'+ATT':>6} {'payee>':>6} {'<payer':>6} "
        f"{'dir':>4} {'calls':>5} {'cpu ms':>7} {'floor ms':>8} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['mtu']:>4} {r['chunk_size']:>5} {r['bytes']:>6} {r['att_bytes']:>6} "
            f"{r['chunks_payee_to_payer']:>6} {r['chunks_payer_to_payee']:>6} "
            f"{r['direction_changes']:>4} {r['crypto_calls']:>5} {r['cpu_ms']:>7.3f} "
            f"{r['floor_ms']:>8.3f} {r['ratio']:>6.2f}"
        )
    at_247 = next(r for r in rows if r["mtu"] == 247)
    verdict = {
        "direction_changes": max(r["direction_changes"] for r in rows) <= GOAL_DIRECTION_CHANGES,
        "bytes_at_247": at_247["bytes"] <= GOAL_BYTES_AT_247,
        "cpu_ratio": max(r["ratio"] for r in rows) <= GOAL_RATIO,
    }
    print()
    print(
        f"goals: direction changes <= {GOAL_DIRECTION_CHANGES}: {verdict['direction_changes']}; "
        f"bytes at MTU 247 <= {GOAL_BYTES_AT_247}: {verdict['bytes_at_247']} "
        f"({at_247['bytes']}); CPU <= {GOAL_RATIO}x floor: {verdict['cpu_ratio']}"
    )
    print(
        json.dumps(
            {
                "bench": "sessions",
                "payments": options.payments,
                "goals": {
                    "direction_changes": GOAL_DIRECTION_CHANGES,
                    "bytes_at_247": GOAL_BYTES_AT_247,
                    "cpu_ratio": GOAL_RATIO,
                },
                "met": verdict,
                "results": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
