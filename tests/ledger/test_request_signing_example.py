"""LEDGER.md's worked example of a signed wallet request is what the code signs and checks,
byte for byte, so a phone team can test its own signer against the document alone."""

from __future__ import annotations

import re
from pathlib import Path

from nacl.signing import SigningKey, VerifyKey

from p2ppay.api.signing import sign_request
from p2ppay.ledger.auth import check_request

DOC = (Path(__file__).resolve().parents[2] / "p2ppay" / "LEDGER.md").read_text()
BODY = b'{"bundles": [], "query": []}'


def _field(name: str) -> str:
    match = re.search(rf"    {re.escape(name)}:\s+([0-9a-f]+(?:\n\s+[0-9a-f]+)*)", DOC)
    assert match is not None, name
    return "".join(match.group(1).split())


def test_the_documented_example_is_what_the_wallet_signs() -> None:
    key = SigningKey(bytes(range(32)))
    headers = sign_request(
        key, method="POST", path="/v1/sync", body=BODY, now=1_800_000_000, nonce=bytes(range(16))
    )
    assert headers["X-P2PPay-Key"] == _field("X-P2PPay-Key")
    assert headers["X-P2PPay-Signature"] == _field("X-P2PPay-Signature")
    signed = bytes.fromhex(_field("signed bytes (hex)"))
    assert signed.startswith(b"p2ppay-ledger-request-v1\nPOST\n/v1/sync\n1800000000\n")
    VerifyKey(bytes.fromhex(_field("X-P2PPay-Key"))).verify(
        signed, bytes.fromhex(_field("X-P2PPay-Signature"))
    )
    request = check_request(headers, method="POST", path="/v1/sync", body=BODY)
    assert request.timestamp == 1_800_000_000
