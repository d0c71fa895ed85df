"""The payer's side for two laptops: advertise and pay invoices up to a limit.

    .venv/bin/python examples/two_laptops/payer.py HOME [ADAPTER] [LIMIT]

HOME is a wallet home set up with ``p2ppay init`` and ``p2ppay allowance import``. ADAPTER
is ``os`` (the laptop's Bluetooth through BlueZ/CoreBluetooth/WinRT, the default),
``bumble:usb:0`` for a USB dongle, or ``virtual``. Pays one invoice up to LIMIT (default
20.00) in the allowance's currency, then exits. The CLI equivalent:
``p2ppay --home HOME pay --adapter ADAPTER --once --auto-approve-up-to LIMIT``.
"""

from __future__ import annotations

import sys
import time

import anyio

from p2ppay.roles import AutoApprove, PayerRole
from p2ppay.roles.radio import payer_peripheral
from p2ppay.wallet import WalletHome, open_wallet
from protocol import parse_amount


async def main(home: str, adapter: str, limit: str) -> int:
    with open_wallet(WalletHome.resolve(home), passphrase=None, now=int(time.time())) as wallet:
        allowance = wallet.store.allowances.payer_position().allowance
        if allowance is None:
            print("no allowance: run 'p2ppay allowance import FILE' first")
            return 1
        approver = AutoApprove(
            limit=parse_amount(limit, allowance.currency), currency=allowance.currency
        )
        role = PayerRole(wallet=wallet, approver=approver, progress=print)
        async with payer_peripheral(adapter) as peripheral:
            outcome = await role.serve_one(peripheral)
    print(f"{outcome.status}: {outcome.amount} {outcome.currency} (code {outcome.sas})")
    return 0 if outcome.completed else 1


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    adapter = sys.argv[2] if len(sys.argv) > 2 else "os"
    limit = sys.argv[3] if len(sys.argv) > 3 else "20.00"
    raise SystemExit(anyio.run(main, sys.argv[1], adapter, limit))
