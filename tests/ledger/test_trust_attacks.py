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
from pathlib import Path
from typing import Any

import anyio
from nacl.signing import SigningKey

from p2ppay.errors import AppErrorCode
from p2ppay.sync import LedgerClient
from protocol.keys import public_key
from protocol.trustlists import make_revocation_list
from tests.ledger.mitm import mitm
from tests.ledger.trust_world import (
    ATTACKER,
    attacked,
    b64,
    own_lists,
    scene,
    sync,
    trust_state,
)
from tests.ledger.world import FAST_RETRY, new_party


def test_an_answer_naming_another_ledger_key_changes_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path) as world:
            await attacked(
                world,
                lambda a: own_lists(a, key_field=public_key(ATTACKER)),
                AppErrorCode.SYNC_LEDGER_KEY_MISMATCH,
            )

    anyio.run(main)


def test_lists_signed_by_another_key_under_the_real_key_id_change_nothing(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with scene(tmp_path) as world:
            real = public_key(world.ledger_key)
            await attacked(
                world,
                lambda a: own_lists(a, key_field=real),
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
        async with scene(tmp_path) as world:
            await attacked(world, unsigned, AppErrorCode.SYNC_TRUST_UNSIGNED)

    anyio.run(main)


def test_a_huge_version_signed_by_the_attacker_changes_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path) as world:
            real = public_key(world.ledger_key)
            await attacked(
                world,
                lambda a: own_lists(a, key_field=real, version=10**9),
                AppErrorCode.SYNC_TRUST_BAD_SIGNATURE,
            )

    anyio.run(main)


def test_a_replayed_older_real_answer_is_a_rollback_and_changes_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path) as world:
            old = world.recorded["v0"]["trust"]
            await attacked(world, lambda a: {**a, "trust": old}, AppErrorCode.SYNC_TRUST_ROLLBACK)

    anyio.run(main)


def test_a_forked_list_even_under_the_ledger_key_changes_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path) as world:
            other = public_key(SigningKey(b"someone else".ljust(32, b".")))
            forked = make_revocation_list(
                world.ledger_key, keys=[other, world.cheater.public], now=int(time.time())
            )

            def fork(answer: dict[str, Any]) -> dict[str, Any]:
                trust = {**answer["trust"], "revocation_list": b64(forked.raw)}
                return {**answer, "trust": trust}

            await attacked(world, fork, AppErrorCode.SYNC_TRUST_FORK)

    anyio.run(main)


def test_an_older_copy_of_the_same_list_settles_but_keeps_the_cached_lists(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with scene(tmp_path) as world:
            recorded: dict[str, Any] = {}

            def keep(path: str, answer: dict[str, Any]) -> dict[str, Any]:
                recorded.setdefault(path, answer)
                return answer

            async with mitm(world.url, keep) as url:
                await sync(world.payee, url)
            world.clock.now += 100  # the ledger signs a fresh copy
            report = await sync(world.payee, world.url)
            assert report.trust == "updated"
            before = trust_state(world.payee)
            old = recorded["/v1/sync"]["trust"]
            async with mitm(world.url, lambda p, a: {**a, "trust": old}) as url:
                report = await sync(world.payee, url)
            assert (report.trust, report.trust_code) == ("kept", "SYNC_TRUST_STALE")
            assert trust_state(world.payee) == before

    anyio.run(main)


def test_the_real_ledgers_lists_are_accepted_and_extend(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path) as world:
            with world.payee.open() as wallet:
                assert wallet.store.trust.revoked_in_order() == (world.cheater.public,)
                assert wallet.store.trust.issuer_keys() == {public_key(world.ledger_key)}
                pin = wallet.store.trust.ledger_pin()
                assert pin is not None and pin.public_key == public_key(world.ledger_key)
            lost = new_party(tmp_path, "lost")
            async with LedgerClient(world.url, lost.key, retry=FAST_RETRY) as client:
                await client.register()
                await client.revoke()  # a lost wallet revokes itself: the list grows
            report = await sync(world.payee, world.url)
            assert (report.trust, report.revocations_version) == ("updated", 2)
            with world.payee.open() as wallet:
                assert wallet.store.trust.revoked_in_order() == (
                    world.cheater.public,
                    lost.public,
                )

    anyio.run(main)


def test_get_trust_needs_no_authentication_and_verifies_under_the_ledger_key(
    tmp_path: Path,
) -> None:
    import httpx

    from protocol.documents import IssuerSet, RevocationList
    from protocol.trustlists import open_list

    async def main() -> None:
        async with scene(tmp_path) as world:
            async with httpx.AsyncClient(base_url=world.url) as plain:
                answer = (await plain.get("/v1/trust")).json()
            ledger = public_key(world.ledger_key)
            assert answer["ledger_key"] == ledger.hex()
            now = int(time.time())
            listed = open_list(
                base64.b64decode(answer["revocation_list"]), RevocationList, ledger=ledger, now=now
            )
            assert listed.doc.keys == (world.cheater.public,)
            issuers = open_list(
                base64.b64decode(answer["issuer_set"]), IssuerSet, ledger=ledger, now=now
            )
            assert issuers.doc.issuers == (ledger,)

    anyio.run(main)
