"""A scene for the trust attacks (issue 11, SPEC 4.1): a real ledger, a pinned payee, attackers.

Each attacker is a real HTTP proxy on loopback between the payee and the real ledger
(``tests/ledger/mitm.py``), answering with its own real keys. The invariant a payee cares
about: after any such answer, its trust (pinned key, issuer keys, revocation list, the
signed copies) is exactly what it was, a self-issued 999.00 EUR allowance is still refused
offline, and a revoked cheater is still refused; the real ledger's lists are accepted.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from nacl.signing import SigningKey

from p2ppay.errors import AppErrorCode
from p2ppay.files.keyfile import KeyPurpose, decode_key_file
from p2ppay.ledger import running_ledger
from p2ppay.sync import AdminClient, LedgerClient, SyncError, register_wallet, sync_outbox
from protocol.acceptance import check_payment
from protocol.builders import make_allowance, make_invoice, make_payment
from protocol.documents import Allowance
from protocol.errors import ErrorCode, ProtocolError
from protocol.keys import public_key
from protocol.trustlists import make_issuer_set, make_revocation_list
from protocol.verify import SignedDocument, open_as
from tests.ledger.mitm import mitm
from tests.ledger.world import FAST_RETRY, Party, fund, new_party

ATTACKER = SigningKey(b"attacker".ljust(32, b"."))
"""The man in the middle's own key: it signs issuer sets, lists and allowances."""


class Clock:
    """The ledger's clock, movable by the test."""

    def __init__(self) -> None:
        self.now = int(time.time())

    def __call__(self) -> int:
        return self.now


@dataclass(frozen=True, kw_only=True)
class Scene:
    """A real ledger, a pinned payee that holds list version 1 (the cheater), the attackers'
    material, and the answers recorded on the way."""

    url: str
    payee: Party
    cheater: Party
    cheater_allowance: SignedDocument[Allowance]
    ledger_key: SigningKey
    recorded: dict[str, dict[str, Any]]
    clock: Clock


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def trust_state(party: Party) -> tuple[object, ...]:
    with party.open() as wallet:
        t = wallet.store.trust
        return (
            t.ledger_pin(),
            t.issuer_keys(),
            t.revoked_in_order(),
            t.revocation_info(),
            t.signed_issuer_set(),
            t.signed_revocation_list(),
        )


async def sync(party: Party, url: str) -> Any:
    async with LedgerClient(url, party.key, retry=FAST_RETRY) as client:
        with party.open() as wallet:
            return await sync_outbox(wallet.store, client, now=lambda: int(time.time()))


def offline(party: Party, payer: SigningKey, allowance: SignedDocument[Allowance]) -> ErrorCode:
    """The payee's offline verdict on a payment of the allowance's whole limit."""
    now = int(time.time())
    with party.open() as wallet:
        invoice = make_invoice(party.key, amount=allowance.doc.limit, currency="EUR", now=now)
        payment = make_payment(payer, invoice=invoice, allowance=allowance, head=None)
        with pytest.raises(ProtocolError) as refused:
            check_payment(
                payment.raw,
                invoice=invoice,
                payee_key=party.public,
                trusted_issuers=wallet.store.trust.issuer_keys(),
                revoked=wallet.store.trust.revoked_keys(),
                last_seen=None,
                now=now,
            )
    return refused.value.code


def self_issued() -> tuple[SigningKey, SignedDocument[Allowance]]:
    mallory = SigningKey(b"mallory".ljust(32, b"."))
    now = int(time.time())
    allowance = make_allowance(
        ATTACKER,
        wallet=public_key(mallory),
        currency="EUR",
        limit=999_00,
        not_before=now - 60,
        not_after=now + 86400,
        serial=1,
    )
    return mallory, allowance


@asynccontextmanager
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
    clock = Clock()
    db = tmp_path / "ledger.sqlite3"
    async with running_ledger(db_url=f"sqlite:///{db}", clock=clock) as ledger:
        key_file = await anyio.Path(f"{db}.issuer-key").read_bytes()
        seed = decode_key_file(key_file, purpose=KeyPurpose.ISSUER, passphrase=None)[1]
        payee = new_party(tmp_path, "payee")
        cheater = new_party(tmp_path, "cheater")
        recorded: dict[str, dict[str, Any]] = {}

        def record(path: str, answer: dict[str, Any]) -> dict[str, Any]:
            if path == "/v1/sync":
                recorded.setdefault("v0", answer)
            return answer

        async with LedgerClient(ledger.url, payee.key, retry=FAST_RETRY) as client:
            with payee.open() as wallet:
                await register_wallet(wallet, client, ledger.url, now=clock())
        async with mitm(ledger.url, record) as url:  # an honest path: it only listens
            await sync(payee, url)
        await fund(ledger, cheater, deposit=100_00, allowance=50_00)
        with cheater.open() as wallet:
            state = wallet.store.allowances.payer_position("EUR")
            assert state.allowance is not None
            allowance = open_as(state.allowance.signed, Allowance)
        async with AdminClient(ledger.url, ledger.admin_token) as admin:
            await admin.revoke(cheater.public.hex(), "double spender")
        report = await sync(payee, ledger.url)
        assert (report.trust, report.revocations_version) == ("updated", 1)
        yield Scene(
            url=ledger.url,
            payee=payee,
            cheater=cheater,
            cheater_allowance=allowance,
            ledger_key=SigningKey(seed),
            recorded=recorded,
            clock=clock,
        )


async def attacked(
    world: Scene, rewrite: Callable[[dict[str, Any]], dict[str, Any]], code: AppErrorCode
) -> None:
    before = trust_state(world.payee)

    def on_sync(path: str, answer: dict[str, Any]) -> dict[str, Any]:
        return rewrite(answer) if path == "/v1/sync" else answer

    async with mitm(world.url, on_sync) as url:
        with pytest.raises(SyncError) as refused:
            await sync(world.payee, url)
    assert refused.value.code is code
    assert trust_state(world.payee) == before
    mallory, allowance = self_issued()
    assert offline(world.payee, mallory, allowance) is ErrorCode.DOC_UNTRUSTED_ISSUER
    assert (
        offline(world.payee, world.cheater.key, world.cheater_allowance)
        is ErrorCode.ACCEPT_PAYER_REVOKED
    )


def own_lists(answer: dict[str, Any], *, key_field: bytes, version: int | None = None) -> Any:
    now = int(time.time())
    issuers = make_issuer_set(ATTACKER, issuers=[public_key(ATTACKER)], now=now)
    revoked = make_revocation_list(ATTACKER, keys=[], now=now)
    listed = b64(revoked.raw)
    if version is not None:  # hand-signed: the builder refuses a version that is not the count
        from protocol import cbor
        from protocol.cose import Kind, sign1
        from protocol.documents import to_payload

        payload = {**to_payload(revoked.doc), 3: version}
        listed = b64(sign1(ATTACKER, Kind.REVOCATION_LIST, cbor.encode(payload)))
    return {
        **answer,
        "issuers": [public_key(ATTACKER).hex()],
        "revocations": {"version": version or 0, "keys": []},
        "trust": {
            "ledger_key": key_field.hex(),
            "issuer_set": b64(issuers.raw),
            "revocation_list": listed,
        },
    }
