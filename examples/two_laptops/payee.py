"""The payee's side for two laptops: ask the nearby payer for an amount.

    .venv/bin/python examples/two_laptops/payee.py HOME AMOUNT CURRENCY [ADAPTER]

HOME is a wallet home set up with ``p2ppay init`` and ``p2ppay trust-issuer``. Scans for
payers, picks the strongest one (refusing to guess between equally close ones), sends the
invoice, verifies the payment offline, stores it and returns a signed receipt. The CLI
equivalent: ``p2ppay --home HOME request AMOUNT CURRENCY --adapter ADAPTER``.
"""

from __future__ import annotations

import sys
import time

import anyio

from p2ppay.roles import PayeeRole
from p2ppay.roles.radio import payee_central
from p2ppay.wallet import WalletHome, open_wallet
from protocol import parse_amount


async def main(home: str, amount: str, currency: str, adapter: str) -> int:
    with open_wallet(WalletHome.resolve(home), passphrase=None, now=int(time.time())) as wallet:
        role = PayeeRole(wallet=wallet, progress=print)
        invoice = role.new_invoice(amount=parse_amount(amount, currency), currency=currency)
        async with payee_central(adapter) as central:
            outcome = await role.collect(central, invoice)
    print(f"{outcome.status}: {outcome.amount} {outcome.currency} (code {outcome.sas})")
    return 0 if outcome.completed else 1


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    adapter = sys.argv[4] if len(sys.argv) > 4 else "os"
    raise SystemExit(anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], adapter))
