"""Whoever answers a payee's sync (a man in the middle on loopback, its own real keys) cannot
plant trust: each hostile answer ends in its code, the payee's trust is exactly as it was,
and the payee still refuses a self-issued 999.00 EUR allowance and a revoked cheater offline
(the full set, with the real ledger's lists accepted: tests/ledger/test_trust_attacks.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from p2ppay.errors import AppErrorCode
from protocol.keys import public_key
from tests.ledger.trust_world import ATTACKER, Scene, attacked, own_lists, scene

pytestmark = pytest.mark.anyio

Attack = Callable[[Scene], Callable[[dict[str, Any]], dict[str, Any]]]

ATTACKS: dict[str, tuple[Attack, AppErrorCode]] = {
    "own-key": (
        lambda w: lambda a: own_lists(a, key_field=public_key(ATTACKER)),
        AppErrorCode.SYNC_LEDGER_KEY_MISMATCH,
    ),
    "own-signature": (
        lambda w: lambda a: own_lists(a, key_field=public_key(w.ledger_key)),
        AppErrorCode.SYNC_TRUST_BAD_SIGNATURE,
    ),
    "unsigned-huge-version": (
        lambda w: lambda a: {**a, "revocations": {"version": 2**62, "keys": []}, "trust": None},
        AppErrorCode.SYNC_TRUST_UNSIGNED,
    ),
    "signed-huge-version": (
        lambda w: lambda a: own_lists(a, key_field=public_key(w.ledger_key), version=10**9),
        AppErrorCode.SYNC_TRUST_BAD_SIGNATURE,
    ),
    "replayed-rollback": (
        lambda w: lambda a: {**a, "trust": w.recorded["v0"]["trust"]},
        AppErrorCode.SYNC_TRUST_ROLLBACK,
    ),
}


@pytest.mark.reliability(
    "attack",
    "whoever answers a payee's sync plants trust: its own ledger key or signature, an "
    "unsigned or huge-version revocation list, a replayed older list",
    expect="the sync is refused with its SYNC_* code; the payee's trust exactly as before; "
    "a self-issued 999.00 EUR allowance and a revoked cheater still refused offline",
)
@pytest.mark.parametrize("name", list(ATTACKS))
async def test_a_hostile_sync_answer_plants_no_trust(tmp_path: Path, name: str) -> None:
    make, code = ATTACKS[name]
    async with scene(tmp_path) as world:
        await attacked(world, make(world), code)
