"""Whoever answers a wallet's sync cannot plant trust (issue 11, SPEC 4.1).

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
from p2ppay.ledger import running_ledger
from p2ppay.sync import AdminClient, LedgerClient, SyncError, register_wallet, sync_outbox
from p2ppay.wallet.keyfile import KeyPurpose, decode_key_file
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


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _trust_state(party: Party) -> tuple[object, ...]:
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


async def _sync(party: Party, url: str) -> Any:
    async with LedgerClient(url, party.key, retry=FAST_RETRY) as client:
        with party.open() as wallet:
            return await sync_outbox(wallet.store, client, now=lambda: int(time.time()))


def _offline(party: Party, payer: SigningKey, allowance: SignedDocument[Allowance]) -> ErrorCode:
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


def _self_issued() -> tuple[SigningKey, SignedDocument[Allowance]]:
    mallory = SigningKey(b"mallory".ljust(32, b"."))
    now = int(time.time())
    allowance = make_allowance(
        ATTACKER, wallet=public_key(mallory), currency="EUR", limit=999_00,
        not_before=now - 60, not_after=now + 86400, serial=1,
    )  # fmt: skip
    return mallory, allowance


@asynccontextmanager
async def _scene(tmp_path: Path) -> AsyncIterator[Scene]:
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
            await _sync(payee, url)
        await fund(ledger, cheater, deposit=100_00, allowance=50_00)
        with cheater.open() as wallet:
            state = wallet.store.wallet.payer_state("EUR")
            assert state.allowance is not None
            allowance = open_as(state.allowance.signed, Allowance)
        async with AdminClient(ledger.url, ledger.admin_token) as admin:
            await admin.revoke(cheater.public.hex(), "double spender")
        report = await _sync(payee, ledger.url)
        assert (report.trust, report.revocations_version) == ("updated", 1)
        yield Scene(
            url=ledger.url, payee=payee, cheater=cheater, cheater_allowance=allowance,
            ledger_key=SigningKey(seed), recorded=recorded, clock=clock,
        )  # fmt: skip


async def _attacked(
    scene: Scene, rewrite: Callable[[dict[str, Any]], dict[str, Any]], code: AppErrorCode
) -> None:
    before = _trust_state(scene.payee)

    def on_sync(path: str, answer: dict[str, Any]) -> dict[str, Any]:
        return rewrite(answer) if path == "/v1/sync" else answer

    async with mitm(scene.url, on_sync) as url:
        with pytest.raises(SyncError) as refused:
            await _sync(scene.payee, url)
    assert refused.value.code is code
    assert _trust_state(scene.payee) == before
    mallory, allowance = _self_issued()
    assert _offline(scene.payee, mallory, allowance) is ErrorCode.DOC_UNTRUSTED_ISSUER
    assert (
        _offline(scene.payee, scene.cheater.key, scene.cheater_allowance)
        is ErrorCode.ACCEPT_PAYER_REVOKED
    )


def _own_lists(answer: dict[str, Any], *, key_field: bytes, version: int | None = None) -> Any:
    now = int(time.time())
    issuers = make_issuer_set(ATTACKER, issuers=[public_key(ATTACKER)], now=now)
    revoked = make_revocation_list(ATTACKER, keys=[], now=now)
    listed = _b64(revoked.raw)
    if version is not None:  # hand-signed: the builder refuses a version that is not the count
        from protocol import cbor
        from protocol.cose import Kind, sign1
        from protocol.documents import to_payload

        payload = {**to_payload(revoked.doc), 3: version}
        listed = _b64(sign1(ATTACKER, Kind.REVOCATION_LIST, cbor.encode(payload)))  # type: ignore[arg-type]
    return {
        **answer,
        "issuers": [public_key(ATTACKER).hex()],
        "revocations": {"version": version or 0, "keys": []},
        "trust": {
            "ledger_key": key_field.hex(),
            "issuer_set": _b64(issuers.raw),
            "revocation_list": listed,
        },
    }


def test_an_answer_naming_another_ledger_key_changes_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with _scene(tmp_path) as scene:
            await _attacked(
                scene,
                lambda a: _own_lists(a, key_field=public_key(ATTACKER)),
                AppErrorCode.SYNC_LEDGER_KEY_MISMATCH,
            )

    anyio.run(main)


def test_lists_signed_by_another_key_under_the_real_key_id_change_nothing(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with _scene(tmp_path) as scene:
            real = public_key(scene.ledger_key)
            await _attacked(
                scene,
                lambda a: _own_lists(a, key_field=real),
                AppErrorCode.SYNC_TRUST_BAD_SIGNATURE,
            )

    anyio.run(main)


def test_an_unsigned_answer_with_a_huge_version_changes_nothing(tmp_path: Path) -> None:
    def unsigned(answer: dict[str, Any]) -> dict[str, Any]:
        return {
            **answer,
            "issuers": [public_key(ATTACKER).hex()],
            "revocations": {"version": 2**62, "keys": []},
            "trust": None,
        }

    async def main() -> None:
        async with _scene(tmp_path) as scene:
            await _attacked(scene, unsigned, AppErrorCode.SYNC_TRUST_UNSIGNED)

    anyio.run(main)


def test_a_huge_version_signed_by_the_attacker_changes_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with _scene(tmp_path) as scene:
            real = public_key(scene.ledger_key)
            await _attacked(
                scene,
                lambda a: _own_lists(a, key_field=real, version=10**9),
                AppErrorCode.SYNC_TRUST_BAD_SIGNATURE,
            )

    anyio.run(main)


def test_a_replayed_older_real_answer_is_a_rollback_and_changes_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with _scene(tmp_path) as scene:
            old = scene.recorded["v0"]["trust"]
            await _attacked(scene, lambda a: {**a, "trust": old}, AppErrorCode.SYNC_TRUST_ROLLBACK)

    anyio.run(main)


def test_a_forked_list_even_under_the_ledger_key_changes_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with _scene(tmp_path) as scene:
            other = public_key(SigningKey(b"someone else".ljust(32, b".")))
            forked = make_revocation_list(
                scene.ledger_key, keys=[other, scene.cheater.public], now=int(time.time())
            )

            def fork(answer: dict[str, Any]) -> dict[str, Any]:
                trust = {**answer["trust"], "revocation_list": _b64(forked.raw)}
                return {**answer, "trust": trust}

            await _attacked(scene, fork, AppErrorCode.SYNC_TRUST_FORK)

    anyio.run(main)


def test_an_older_copy_of_the_same_list_settles_but_keeps_the_cached_lists(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with _scene(tmp_path) as scene:
            recorded: dict[str, Any] = {}

            def keep(path: str, answer: dict[str, Any]) -> dict[str, Any]:
                recorded.setdefault(path, answer)
                return answer

            async with mitm(scene.url, keep) as url:
                await _sync(scene.payee, url)
            scene.clock.now += 100  # the ledger signs a fresh copy
            report = await _sync(scene.payee, scene.url)
            assert report.trust == "updated"
            before = _trust_state(scene.payee)
            old = recorded["/v1/sync"]["trust"]
            async with mitm(scene.url, lambda p, a: {**a, "trust": old}) as url:
                report = await _sync(scene.payee, url)
            assert (report.trust, report.trust_code) == ("kept", "SYNC_TRUST_STALE")
            assert _trust_state(scene.payee) == before

    anyio.run(main)


def test_the_real_ledgers_lists_are_accepted_and_extend(tmp_path: Path) -> None:
    async def main() -> None:
        async with _scene(tmp_path) as scene:
            with scene.payee.open() as wallet:
                assert wallet.store.trust.revoked_in_order() == (scene.cheater.public,)
                assert wallet.store.trust.issuer_keys() == {public_key(scene.ledger_key)}
                pin = wallet.store.trust.ledger_pin()
                assert pin is not None and pin.public_key == public_key(scene.ledger_key)
            lost = new_party(tmp_path, "lost")
            async with LedgerClient(scene.url, lost.key, retry=FAST_RETRY) as client:
                await client.register()
                await client.revoke()  # a lost wallet revokes itself: the list grows
            report = await _sync(scene.payee, scene.url)
            assert (report.trust, report.revocations_version) == ("updated", 2)
            with scene.payee.open() as wallet:
                assert wallet.store.trust.revoked_in_order() == (
                    scene.cheater.public,
                    lost.public,
                )

    anyio.run(main)
