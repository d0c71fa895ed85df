"""Benchmark: create and fully verify invoice + payment + receipt (with the allowance).

One "flow" is what a payment costs the protocol layer end to end:

- create: the issuer signs an allowance, the payee an invoice, the payer a payment,
  the payee a receipt (4 Ed25519 signatures);
- verify: the payer verifies the invoice, the payee runs the full offline acceptance
  check on the payment bytes (payer signature + allowance issuer signature + every rule),
  the payer verifies the receipt (4 Ed25519 verifications).

The floor is the same 4 ``SigningKey.sign`` and 4 ``VerifyKey.verify`` PyNaCl calls on the
very same to-be-signed bytes, measured in the same run, interleaved round by round so that
both see the same machine load. Reported: median microseconds per flow and the ratio.

    .venv/bin/python bench/documents.py [--rounds 15] [--flows 200]

The last line of output is one JSON object with the raw figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from nacl.signing import SigningKey, VerifyKey

from protocol.acceptance import check_payment
from protocol.builders import make_allowance, make_invoice, make_payment, make_receipt
from protocol.cose import parse_sign1
from protocol.documents import Invoice, Receipt, Verdict
from protocol.keys import public_key
from protocol.verify import verify_as

NOW = 1_800_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--flows", type=int, default=200, help="flows per round")
    args = parser.parse_args()

    issuer, payer, payee = (SigningKey(bytes([n]) * 32) for n in (1, 2, 3))
    trusted = frozenset({public_key(issuer)})
    payee_public = public_key(payee)
    ids = [i.to_bytes(16, "big") for i in range(args.flows)]

    def flow(i: int) -> None:
        allowance = make_allowance(
            issuer,
            wallet=public_key(payer),
            currency="EUR",
            limit=100_00,
            not_before=NOW - 60,
            not_after=NOW + 86400,
            serial=i,
        )
        invoice = make_invoice(
            payee,
            amount=12_50,
            currency="EUR",
            now=NOW,
            memo="coffee",
            invoice_id=ids[i],
            nonce=ids[i],
        )
        payment = make_payment(payer, invoice=invoice, allowance=allowance, head=None)
        receipt = make_receipt(payee, payment_hash=payment.hash, verdict=Verdict.ACCEPTED, now=NOW)
        # the payer checks the invoice, the payee the payment, the payer the receipt
        verify_as(invoice.raw, Invoice, now=NOW)
        check_payment(
            payment.raw,
            invoice=invoice,
            payee_key=payee_public,
            trusted_issuers=trusted,
            now=NOW,
        )
        verify_as(receipt.raw, Receipt, now=NOW)

    # The floor signs and verifies exactly the bytes our flow signs and verifies.
    sample_allowance = make_allowance(
        issuer,
        wallet=public_key(payer),
        currency="EUR",
        limit=100_00,
        not_before=NOW - 60,
        not_after=NOW + 86400,
        serial=0,
    )
    sample_invoice = make_invoice(payee, amount=12_50, currency="EUR", now=NOW, memo="coffee")
    sample_payment = make_payment(
        payer, invoice=sample_invoice, allowance=sample_allowance, head=None
    )
    sample_receipt = make_receipt(
        payee, payment_hash=sample_payment.hash, verdict=Verdict.ACCEPTED, now=NOW
    )
    jobs: list[tuple[SigningKey, bytes]] = [
        (issuer, parse_sign1(sample_allowance.raw).to_be_signed()),
        (payee, parse_sign1(sample_invoice.raw).to_be_signed()),
        (payer, parse_sign1(sample_payment.raw).to_be_signed()),
        (payee, parse_sign1(sample_receipt.raw).to_be_signed()),
    ]
    signatures = [key.sign(msg).signature for key, msg in jobs]

    def floor(_: int) -> None:
        for key, msg in jobs:
            key.sign(msg)
        for (key, msg), sig in zip(jobs, signatures, strict=True):
            VerifyKey(bytes(key.verify_key)).verify(msg, sig)

    def timed(fn: object, n: int) -> float:
        assert callable(fn)
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        return (time.perf_counter() - start) / n * 1e6

    timed(flow, 20)  # warm-up: imports, pydantic schema caches
    timed(floor, 20)
    ours: list[float] = []
    base: list[float] = []
    for _ in range(args.rounds):
        ours.append(timed(flow, args.flows))
        base.append(timed(floor, args.flows))
    ours_us, base_us = statistics.median(ours), statistics.median(base)
    ratios = [o / b for o, b in zip(ours, base, strict=True)]
    ratio = statistics.median(ratios)

    sizes = {
        "allowance": len(sample_allowance.raw),
        "invoice": len(sample_invoice.raw),
        "payment": len(sample_payment.raw),
        "receipt": len(sample_receipt.raw),
    }
    print(f"{'':34}{'median us/flow':>16}{'min':>10}{'max':>10}")
    print(
        f"{'p2ppay create + verify (4+4 ops)':34}{ours_us:16.1f}{min(ours):10.1f}{max(ours):10.1f}"
    )
    print(
        f"{'PyNaCl floor (4 sign + 4 verify)':34}{base_us:16.1f}{min(base):10.1f}{max(base):10.1f}"
    )
    print(f"{'ratio (median of per-round ratios)':34}{ratio:16.2f}   goal <= 3.00")
    print("bytes on the wire: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    print(
        json.dumps(
            {
                "bench": "documents",
                "rounds": args.rounds,
                "flows_per_round": args.flows,
                "ours_us_per_flow": round(ours_us, 2),
                "floor_us_per_flow": round(base_us, 2),
                "ratio": round(ratio, 3),
                "goal_ratio": 3.0,
                "ours_us_rounds": [round(x, 2) for x in ours],
                "floor_us_rounds": [round(x, 2) for x in base],
                "sizes": sizes,
            }
        )
    )


if __name__ == "__main__":
    main()
