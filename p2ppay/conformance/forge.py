"""Documents a conforming device must refuse, signed with the runner's own real keys.

The builders in :mod:`protocol.builders` refuse to make these (an unknown currency) or cannot
(a signature over other bytes), so the runner signs COSE_Sign1 itself here: what a modified
app would send. Only the runner uses them, and only against a device under test.
"""

from __future__ import annotations

import cbor2
from nacl.signing import SigningKey

from protocol import cbor
from protocol.cose import sign1
from protocol.documents import Document, to_payload

__all__ = ["raw_sign", "with_payload"]


def raw_sign(key: SigningKey, doc: Document) -> bytes:
    """A COSE_Sign1 of ``doc`` by ``key``, without the sender-side rule checks."""
    return sign1(key, doc.KIND, cbor.encode(to_payload(doc)))


def with_payload(signed: bytes, doc: Document) -> bytes:
    """``signed`` with its payload replaced by ``doc``'s and the original signature kept:
    a signature that does not verify (COSE_BAD_SIGNATURE), everything else well formed."""
    tag = cbor2.loads(signed)
    protected, unprotected, _, signature = tag.value
    forged = [protected, dict(unprotected), cbor.encode(to_payload(doc)), signature]
    return cbor.encode(cbor2.CBORTag(tag.tag, forged))
