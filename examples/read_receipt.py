"""Read and check a payment bundle (as written by ``p2ppay export``), with p2ppay's rules.

    .venv/bin/python examples/read_receipt.py BUNDLE [ISSUER_PUBLIC_KEY_HEX]

Prints who paid whom, how much, and the receipt's verdict, after checking every signature
and the payee's offline rules at the receipt's time. With an issuer key, the allowance must
come from that issuer. Exit 1 with the error code name if anything does not hold.
"""

from __future__ import annotations

import sys
from pathlib import Path

from protocol import ProtocolError, format_amount
from protocol.bundle import verify_bundle


def main(argv: list[str]) -> int:
    data = Path(argv[1]).read_bytes()
    trusted = {bytes.fromhex(argv[2])} if len(argv) > 2 else None
    try:
        bundle = verify_bundle(data, trusted_issuers=trusted)
    except ProtocolError as exc:
        print(f"invalid: {exc.code.name}: {exc.message}")
        return 1
    invoice, payment, receipt = bundle.invoice.doc, bundle.payment.doc, bundle.receipt.doc
    print(f"invoice  {invoice.id.hex()}  memo {invoice.memo!r}")
    print(f"payer    {payment.payer.hex()}  (counter {payment.counter})")
    print(f"payee    {invoice.payee.hex()}")
    print(f"amount   {format_amount(payment.amount, payment.currency)} {payment.currency}")
    print(f"receipt  {receipt.verdict.name.lower()} at {receipt.time}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
