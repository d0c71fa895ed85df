"""Benchmark: the payer's and the payee's CPU per payment, roles and stores included.

Run: ``.venv/bin/python bench/roles.py [--payments 50] [--mtu 247]``

Two real wallets (key files, SQLite stores, an issuer-signed allowance) pay each other
``--payments`` times through :class:`~p2ppay.roles.PayerRole` and
:class:`~p2ppay.roles.PayeeRole` on one Bumble virtual radio (real ATT/GATT), one invoice per
payment. ``bench/sessions.py`` measures the bare sessions; this one adds what the
application does around them: opening documents, the store's transactions, the durable
session log.

Attribution: every asyncio callback runs in a context; the payer's task and the payee's task
each set a context variable naming their side, and tasks and callbacks they start inherit
it. The CPU time (``time.thread_time``) of each callback is added to its side; callbacks
of nobody's (the virtual radio's own controller) go to ``radio``. Signing the invoice
(``PayeeRole.new_invoice``) counts for the payee. Each side's Ed25519 signature checks
(``protocol.cose``'s ``VerifyKey.verify``) are counted too: a deterministic measure of
documents opened again. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.events
import contextvars
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from nacl.signing import VerifyKey

import protocol.cose
from gatt.bumble_backend import VirtualRadio
from gatt.link import LinkOptions
from p2ppay.roles import AutoApprove, PayeeRole, PayerRole
from p2ppay.roles.radio import PAYER_INFO
from p2ppay.wallet import WalletHome, init_wallet, open_wallet
from p2ppay.wallet.issuer import init_issuer, open_issuer

_SIDE: contextvars.ContextVar[str] = contextvars.ContextVar("bench_side", default="radio")
_CPU: dict[str, float] = {"payer": 0.0, "payee": 0.0, "radio": 0.0}
_VERIFIES: dict[str, int] = {"payer": 0, "payee": 0, "radio": 0}


class _CountingVerifyKey(VerifyKey):
    """``VerifyKey`` that counts each signature check for the side running it."""

    def verify(self, *args: Any, **kwargs: Any) -> Any:
        _VERIFIES[_SIDE.get()] += 1
        return super().verify(*args, **kwargs)


def _install_meter() -> Callable[[], None]:
    """Charge each asyncio callback's CPU to the side whose context it runs in."""
    original = asyncio.events.Handle._run

    def _run(self: asyncio.events.Handle) -> None:
        side = self._context.get(_SIDE, "radio")  # type: ignore[attr-defined]
        start = time.thread_time()
        try:
            original(self)
        finally:
            _CPU[side] += time.thread_time() - start

    asyncio.events.Handle._run = _run  # type: ignore[method-assign]
    protocol.cose.VerifyKey = _CountingVerifyKey  # type: ignore[attr-defined]

    def uninstall() -> None:
        asyncio.events.Handle._run = original  # type: ignore[method-assign]
        protocol.cose.VerifyKey = VerifyKey  # type: ignore[attr-defined]

    return uninstall


def _homes(root: Path, *, limit: int, now: int) -> tuple[WalletHome, WalletHome]:
    issuer_home = WalletHome.resolve(root / "issuer")
    issuer_key = init_issuer(issuer_home, now=now)
    payer_home = WalletHome.resolve(root / "payer")
    payee_home = WalletHome.resolve(root / "payee")
    payer_id = init_wallet(payer_home, passphrase=None, now=now)
    init_wallet(payee_home, passphrase=None, now=now)
    allowance = open_issuer(issuer_home).grant(payer_id.public_key, limit, "EUR", now=now)
    with open_wallet(payer_home, passphrase=None, now=now) as payer:
        payer.import_allowance(allowance, now=now)
    with open_wallet(payee_home, passphrase=None, now=now) as payee:
        payee.trust_issuer(issuer_key, now=now)
    return payer_home, payee_home


async def _run(root: Path, *, payments: int, mtu: int) -> dict[str, Any]:
    now = int(time.time())
    payer_home, payee_home = _homes(root, limit=payments * 100, now=now)
    radio = VirtualRadio()
    options = LinkOptions(max_att_mtu=mtu)
    completed = 0
    with (
        open_wallet(payer_home, passphrase=None, now=now) as payer_wallet,
        open_wallet(payee_home, passphrase=None, now=now) as payee_wallet,
    ):
        payer = PayerRole(
            wallet=payer_wallet, approver=AutoApprove(limit=100, currency="EUR"), linger=0
        )
        payee = PayeeRole(wallet=payee_wallet, attempts=1)
        async with (
            radio.open_peripheral(info=PAYER_INFO, options=options) as peripheral,
            radio.open_central(options=options) as central,
        ):
            uninstall = _install_meter()
            wall = time.perf_counter()
            try:
                for _ in range(payments):
                    start = time.thread_time()
                    _SIDE.set("payee")
                    invoice = payee.new_invoice(amount=1, currency="EUR", memo="bench")
                    _SIDE.set("radio")
                    _CPU["payee"] += time.thread_time() - start

                    async def serve() -> None:
                        _SIDE.set("payer")
                        outcome = await payer.serve_one(peripheral)
                        assert outcome.completed, outcome

                    async with anyio.create_task_group() as tg:
                        tg.start_soon(serve)
                        _SIDE.set("payee")
                        collected = await payee.collect(central, invoice)
                        _SIDE.set("radio")
                    assert collected.completed, collected
                    completed += 1
            finally:
                uninstall()
            wall = time.perf_counter() - wall
    verifies = {f"{side}_verifies": count for side, count in _VERIFIES.items()}
    return {"payments": completed, "mtu": mtu, "wall_s": wall, **_CPU, **verifies}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=50, help="payments to run")
    parser.add_argument("--mtu", type=int, default=247, help="ATT MTU of the virtual links")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = anyio.run(lambda: _run(Path(tmp), payments=args.payments, mtu=args.mtu))
    n = result["payments"]
    per = {side: 1000 * result[side] / n for side in ("payer", "payee", "radio")}
    print(f"{n} payments at ATT MTU {result['mtu']}, {result['wall_s']:.1f} s wall")
    checks = {side: result[f"{side}_verifies"] / n for side in ("payer", "payee", "radio")}
    print(f"{'side':<8}{'CPU ms/payment':>16}{'signature checks/payment':>26}")
    for side, ms in per.items():
        print(f"{side:<8}{ms:>16.2f}{checks[side]:>26.1f}")
    print(
        json.dumps(
            {
                "payments": n,
                "mtu": result["mtu"],
                "payer_cpu_ms": round(per["payer"], 3),
                "payee_cpu_ms": round(per["payee"], 3),
                "radio_cpu_ms": round(per["radio"], 3),
                "payer_verifies": checks["payer"],
                "payee_verifies": checks["payee"],
                "wall_s": round(result["wall_s"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
