"""The ledger is not a free signature-checking service.

The request's signature, nonce and the caller's registration are checked, and its rate
counted, before any bundle is verified; refusals are remembered by bundle hash, so sending
the same bad bundle again costs no signature check. Verification is counted at the one seam
every path goes through (:func:`p2ppay.ledger.verifier.check_bundle`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from p2ppay.errors import AppErrorCode
from p2ppay.ledger import settlement, verifier
from p2ppay.ledger.auth import SignedRequest
from p2ppay.ledger.errors import LedgerError
from p2ppay.ledger.service import DEFAULT_BUNDLES_PER_MINUTE, LedgerConfig, LedgerService
from p2ppay.ledger.settlement import Checked, Outcome
from protocol.keys import public_key
from tests.ledger.world import now_s

pytestmark = pytest.mark.anyio


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every bundle the ledger verifies, in order."""
    seen: list[bytes] = []
    real = settlement.check_bundle  # the function verifier calls by its own name

    def counting(raw: bytes, *, issuer: bytes, now: int) -> Checked | Outcome:
        seen.append(raw)
        return real(raw, issuer=issuer, now=now)

    monkeypatch.setattr(verifier, "check_bundle", counting)
    yield seen


def signed(key: SigningKey, nonce: bytes) -> SignedRequest:
    return SignedRequest(public_key=public_key(key), timestamp=now_s(), nonce=nonce)


async def open_service(
    tmp_path: Path, *, bundles_per_minute: int = DEFAULT_BUNDLES_PER_MINUTE
) -> LedgerService:
    config = LedgerConfig(
        db_url=f"sqlite:///{tmp_path / 'l.db'}",
        admin_token="t" * 32,
        clock=now_s,
        bundles_per_minute=bundles_per_minute,
    )
    return await LedgerService.open(config)


async def test_an_unregistered_caller_is_refused_before_any_bundle_is_verified(
    tmp_path: Path, verified: list[bytes]
) -> None:
    service = await open_service(tmp_path)
    try:
        stranger = SigningKey.generate()
        with pytest.raises(LedgerError) as refused:
            await service.sync(signed(stranger, b"n" * 16), [b"\x83\x41a"] * 200, [])
        assert refused.value.code is AppErrorCode.LEDGER_UNKNOWN_ACCOUNT
        assert verified == []
    finally:
        await service.close()


async def test_a_replayed_request_is_refused_before_any_bundle_is_verified(
    tmp_path: Path, verified: list[bytes]
) -> None:
    service = await open_service(tmp_path)
    try:
        wallet = SigningKey.generate()
        await service.register(public_key(wallet))
        request = signed(wallet, b"r" * 16)
        await service.sync(request, [b"\x83\x41a", b"\x83\x41b"], [])
        assert len(verified) == 2
        with pytest.raises(LedgerError) as refused:
            await service.sync(request, [b"\x83\x41c"] * 100, [])
        assert refused.value.code is AppErrorCode.LEDGER_REPLAY
        assert len(verified) == 2
    finally:
        await service.close()


async def test_refusals_are_remembered_by_bundle_hash(
    tmp_path: Path, verified: list[bytes]
) -> None:
    service = await open_service(tmp_path)
    try:
        wallet = SigningKey.generate()
        await service.register(public_key(wallet))
        first = await service.sync(signed(wallet, b"1" * 16), [b"\x83\x41a"], [])
        again = await service.sync(signed(wallet, b"2" * 16), [b"\x83\x41a"] * 50, [])
        assert len(verified) == 1
        assert {(o.status.value, o.error) for o in first.outcomes + again.outcomes} == {
            ("rejected", "BUNDLE_MALFORMED")
        }
    finally:
        await service.close()


async def test_bundles_per_key_per_minute_are_limited(
    tmp_path: Path, verified: list[bytes]
) -> None:
    service = await open_service(tmp_path, bundles_per_minute=10)
    try:
        wallet, other = SigningKey.generate(), SigningKey.generate()
        for key in (wallet, other):
            await service.register(public_key(key))
        await service.sync(signed(wallet, b"1" * 16), [b"\x83\x41a"] * 10, [])
        with pytest.raises(LedgerError) as refused:
            await service.sync(signed(wallet, b"2" * 16), [b"\x83\x41b"], [])
        assert refused.value.code is AppErrorCode.LEDGER_RATE_LIMITED
        assert len(verified) == 1
        # Another key has its own budget; the refused request consumed nothing.
        await service.sync(signed(other, b"3" * 16), [b"\x83\x41b"], [])
        assert len(verified) == 2
    finally:
        await service.close()
