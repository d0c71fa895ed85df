"""A little shop for kiosk tests: an issuer, a kiosk wallet, payers that walk up and pay.

Everything is real: key files, SQLite stores, signed allowances, the Bumble virtual radio
(each payer heard at its own RSSI through the radio's test seam), the kiosk's HTTP API on a
Unix socket, reached with httpx. Only timeouts are shortened.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx

from gatt.bumble_backend.hosts import VirtualRadio
from gatt.link import Peripheral
from p2ppay.kiosk import Kiosk, KioskConfig, parse_config
from p2ppay.kiosk.daemon import serve
from p2ppay.roles import Approver, AutoApprove, Decision, PayerRole, SessionOutcome
from p2ppay.roles.radio import PAYER_INFO
from p2ppay.wallet import Wallet, WalletHome, init_wallet, open_wallet
from p2ppay.wallet.issuer import init_issuer, open_issuer
from protocol import Invoice

TAG_LINE = "advertising as payer, session tag "


def now_s() -> int:
    return int(time.time())


@dataclass(frozen=True, kw_only=True)
class Shop:
    """Homes on disk: the issuer, the kiosk (trusting it) and ``payers`` with allowances."""

    root: Path
    kiosk: WalletHome
    payers: tuple[WalletHome, ...]

    def open_kiosk_wallet(self) -> Wallet:
        return open_wallet(self.kiosk, passphrase=None, now=now_s())

    def open_payer(self, i: int) -> Wallet:
        return open_wallet(self.payers[i], passphrase=None, now=now_s())


def make_shop(root: Path, *, payers: int = 3, limit: int = 500_00) -> Shop:
    now = now_s()
    issuer_home = WalletHome.resolve(root / "issuer")
    issuer_key = init_issuer(issuer_home, now=now)
    issuer = open_issuer(issuer_home)
    kiosk = WalletHome.resolve(root / "kiosk")
    init_wallet(kiosk, passphrase=None, now=now)
    with open_wallet(kiosk, passphrase=None, now=now) as wallet:
        wallet.trust_issuer(issuer_key, now=now)
    homes = []
    for i in range(payers):
        home = WalletHome.resolve(root / f"payer{i}")
        identity = init_wallet(home, passphrase=None, now=now)
        allowance = issuer.grant(identity.public_key, limit, "EUR", now=now)
        with open_wallet(home, passphrase=None, now=now) as wallet:
            wallet.import_allowance(allowance, now=now)
        homes.append(home)
    return Shop(root=root, kiosk=kiosk, payers=tuple(homes))


def short_socket_dir() -> Path:
    """A short directory for Unix sockets (their paths are limited to ~100 bytes)."""
    return Path(tempfile.mkdtemp(prefix="kio", dir="/tmp"))


def kiosk_config(shop: Shop, socket: Path, **sections: dict[str, Any]) -> KioskConfig:
    data: dict[str, Any] = {
        "wallet": {"home": str(shop.kiosk.root)},
        "radio": {
            "adapter": "virtual",
            "min_rssi": -70,
            "margin_db": 6,
            "listen": 0.3,
            "scan_timeout": 5.0,
        },
        "payments": {"currency": "EUR", "attempts": 1},
        "api": {"listen": f"unix:{socket}"},
        "daemon": {
            "shutdown_grace": 10.0,
            "health_interval": 0.5,
            "backoff_initial": 0.2,
            "backoff_max": 1.0,
        },
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return parse_config(data)


class HeldApproval:
    """A payer's approver that tells the test it was asked, then waits for the answer."""

    def __init__(self) -> None:
        self.asked = anyio.Event()
        self.answer: Decision | None = None
        self.sas: str | None = None
        """The SAS the payer's prompt showed."""
        self._answered = anyio.Event()

    def decide(self, decision: Decision) -> None:
        self.answer = decision
        self._answered.set()

    async def __call__(self, invoice: Invoice, sas: str) -> Decision:
        self.sas = sas
        self.asked.set()
        await self._answered.wait()
        assert self.answer is not None
        return self.answer


@dataclass(kw_only=True)
class Customer:
    """A payer device that serves payees one after another and tells its current tag."""

    index: int
    wallet: Wallet
    approver: Approver
    tags: list[str] = field(default_factory=list)
    outcomes: list[SessionOutcome] = field(default_factory=list)
    advertising: anyio.Event = field(default_factory=anyio.Event)

    @property
    def tag(self) -> str:
        return self.tags[-1]

    def progress(self, line: str) -> None:
        if line.startswith(TAG_LINE):
            self.tags.append(line[len(TAG_LINE) :].split(";", maxsplit=1)[0].strip())
            self.advertising.set()

    async def serve(self, peripheral: Peripheral) -> None:
        role = PayerRole(wallet=self.wallet, approver=self.approver, progress=self.progress)
        while True:
            self.outcomes.append(await role.serve_one(peripheral))


@asynccontextmanager
async def customers(
    shop: Shop, radio: VirtualRadio, rssi: list[int], *, approver: Approver | None = None
) -> AsyncIterator[list[Customer]]:
    """Payers 0..len(rssi)-1 advertising on ``radio`` at the given signal strengths."""
    approve = approver or AutoApprove(limit=100_00, currency="EUR")
    wallets = [shop.open_payer(i) for i in range(len(rssi))]
    people = [Customer(index=i, wallet=w, approver=approve) for i, w in enumerate(wallets)]
    try:
        async with anyio.create_task_group() as tg:
            for person, level in zip(people, rssi, strict=True):
                peripheral = radio.open_peripheral(info=PAYER_INFO, rssi=level)
                await peripheral.start()
                tg.start_soon(_serve_then_close, person, peripheral)
            with anyio.fail_after(10):
                for person in people:
                    await person.advertising.wait()
            yield people
            tg.cancel_scope.cancel()
    finally:
        for wallet in wallets:
            wallet.close()


async def _serve_then_close(person: Customer, peripheral: Peripheral) -> None:
    try:
        await person.serve(peripheral)
    finally:
        with anyio.CancelScope(shield=True):
            await peripheral.aclose()


@asynccontextmanager
async def running_kiosk(
    config: KioskConfig, wallet: Wallet, *, token: str | None = None
) -> AsyncIterator[Kiosk]:
    """The kiosk daemon (API included) in this event loop; stopped cleanly on exit."""
    kiosk = Kiosk(config=config, wallet=wallet)
    ready = anyio.Event()
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: serve(kiosk, stop=stop, on_ready=ready.set, handle_signals=False, token=token)
        )
        with anyio.fail_after(10):
            await ready.wait()
            await kiosk.adapter.wait_up()
        try:
            yield kiosk
        finally:
            stop.set()


def pos_client(socket: Path) -> httpx.AsyncClient:
    """The point of sale's HTTP client on the kiosk's Unix socket."""
    return httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(uds=str(socket)), base_url="http://kiosk", timeout=30
    )


TOKEN = "test-token-0123456789abcdef"
"""The API token the TCP tests configure."""


def tcp_client(port: int, token: str | None = TOKEN) -> httpx.AsyncClient:
    """The point of sale's HTTP client on the kiosk's loopback TCP port, with the token."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30)


async def wait_final(pos: httpx.AsyncClient, request_id: str, within: float = 30) -> dict[str, Any]:
    """Follow the request's SSE stream to its final state; every status event, in order."""
    events: list[dict[str, Any]] = []
    with anyio.fail_after(within):
        async with pos.stream("GET", f"/invoices/{request_id}/events") as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[len("data: ") :]))
    return {"final": events[-1], "events": events}
