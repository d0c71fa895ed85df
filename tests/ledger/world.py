"""Wallets, a ledger and offline payments for the ledger tests, with real parts only.

Wallets are real homes (key file, SQLite store); the ledger is a real uvicorn server on
loopback; payments are built and checked with ``protocol`` exactly as the roles do, and
persisted through the store's money steps, without the radio (the radio has its own tests).
``pay_offline(..., cheat=True)`` is the one dishonest step: the payer signs a second payment
at a counter it already used, bypassing its store, as a double-spender would.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio
from nacl.signing import SigningKey

from p2ppay.files.keyfile import KdfParams
from p2ppay.ledger import running_ledger
from p2ppay.store.documents import (
    invoice_record,
    last_seen,
    payer_head,
    payment_in,
    receipt_record,
)
from p2ppay.sync import AdminClient, LedgerClient, RetryPolicy, request_allowance
from p2ppay.wallet import Wallet, WalletHome, init_wallet, open_wallet
from protocol.acceptance import check_payment
from protocol.builders import make_invoice, make_payment, make_receipt
from protocol.bundle import encode_bundle
from protocol.chain import ChainHead
from protocol.documents import Allowance, Verdict
from protocol.verify import open_as


class LedgerAt(Protocol):
    """Where a ledger listens (a LedgerAt, or a ledger in another process)."""

    @property
    def url(self) -> str: ...

    @property
    def admin_token(self) -> str: ...


FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=30)


def now_s() -> int:
    return int(time.time())


@dataclass(frozen=True, kw_only=True)
class Party:
    """A wallet home and its key."""

    home: WalletHome
    key: SigningKey

    @property
    def public(self) -> bytes:
        return bytes(self.key.verify_key)

    def open(self) -> Wallet:
        return open_wallet(self.home, passphrase=None, now=now_s())

    def client(self, ledger: LedgerAt, clock: Callable[[], int] = now_s) -> LedgerClient:
        return LedgerClient(ledger.url, self.key, retry=FAST_RETRY, clock=clock)


def new_party(root: Path, name: str) -> Party:
    home = WalletHome.resolve(root / name)
    init_wallet(home, passphrase=None, now=now_s(), kdf=KdfParams.minimum())
    with open_wallet(home, passphrase=None, now=now_s()) as wallet:
        key = wallet.identity.signing_key
    return Party(home=home, key=key)


async def fund(
    ledger: LedgerAt,
    party: Party,
    *,
    deposit: int,
    allowance: int = 0,
    currency: str = "EUR",
) -> None:
    """Register ``party``, deposit, and (if ``allowance``) import a ledger allowance."""
    async with party.client(ledger) as client:
        await client.register()
        async with AdminClient(ledger.url, ledger.admin_token) as admin:
            await admin.deposit(party.public.hex(), deposit, currency)
        if allowance:
            with party.open() as wallet:
                await request_allowance(
                    wallet, client, amount_minor=allowance, currency=currency, now=now_s()
                )


async def trust_ledger(ledger: LedgerAt, party: Party) -> None:
    """A payee learns the ledger's issuer key (and lists) by syncing once."""
    from p2ppay.sync import sync_outbox

    async with party.client(ledger) as client:
        await client.register()
        with party.open() as wallet:
            await sync_outbox(wallet.store, client, now=now_s)


def pay_offline(
    payer: Party,
    payee: Party,
    amount: int,
    *,
    currency: str = "EUR",
    cheat_head: ChainHead | bool | None = False,
    receipt_lost: bool = False,
) -> bytes:
    """One offline payment, checked by the payee as the role does; returns its bundle.

    ``cheat_head`` (a head, or None for "counter 1") makes the payer sign after that head
    instead of its stored one, and not record it: a double spend. ``receipt_lost``: the
    link drops before the payer stores the receipt.
    """
    now = now_s()
    with payer.open() as payer_wallet, payee.open() as payee_wallet:
        state = payer_wallet.store.allowances.payer_position(currency)
        assert state.allowance is not None, "the payer has no allowance"
        allowance = open_as(state.allowance.signed, Allowance)
        head = payer_head(state.allowance) if cheat_head is False else cheat_head
        assert head is None or isinstance(head, ChainHead)
        invoice = make_invoice(payee.key, amount=amount, currency=currency, now=now)
        payment = make_payment(payer.key, invoice=invoice, allowance=allowance, head=head)
        if cheat_head is False:
            payer_wallet.store.payments.record_invoice(invoice_record(invoice), now=now)
            payer_wallet.store.payments.persist_outgoing(
                payment_in(payment, invoice=invoice), now=now
            )
        store = payee_wallet.store
        check_payment(
            payment.raw,
            invoice=invoice,
            payee_key=payee.public,
            trusted_issuers=store.trust.issuer_keys(),
            revoked=store.trust.revoked_keys(),
            last_seen=last_seen(
                store.counterparties.seen_chain(allowance.doc.issuer, allowance.doc.serial)
            ),
            now=now,
        )
        store.payments.record_invoice(invoice_record(invoice), now=now)
        store.payments.persist_incoming(payment_in(payment, invoice=invoice), now=now)
        receipt = make_receipt(
            payee.key, payment_hash=payment.hash, verdict=Verdict.ACCEPTED, now=now
        )
        store.payments.persist_receipt(receipt_record(receipt, invoice_id=invoice.doc.id), now=now)
        if cheat_head is False and not receipt_lost:
            payer_wallet.store.payments.persist_receipt(
                receipt_record(receipt, invoice_id=invoice.doc.id), now=now
            )
    return encode_bundle(invoice.raw, payment.raw, receipt.raw)


@contextmanager
def ledger_in_thread(db_url: str, *, admin_token: str) -> Iterator[str]:
    """A ledger on loopback served from a thread of its own; yields its URL."""
    ready: queue.Queue[str | BaseException] = queue.Queue()
    stop = threading.Event()

    async def serve() -> None:
        try:
            async with running_ledger(db_url=db_url, admin_token=admin_token) as ledger:
                ready.put(ledger.url)
                while not stop.is_set():  # noqa: ASYNC110 - a threading.Event, not an anyio one
                    await anyio.sleep(0.05)
        except BaseException as exc:
            ready.put(exc)
            raise

    thread = threading.Thread(target=anyio.run, args=(serve,), daemon=True)
    thread.start()
    url = ready.get(timeout=60)
    if isinstance(url, BaseException):
        raise url
    try:
        yield url
    finally:
        stop.set()
        thread.join(timeout=30)
