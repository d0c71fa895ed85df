"""Hostile peers that speak the real wire protocol over a real Link, with their own rules.

Mallory runs a real channel (:class:`protocol.session.channel.Channel`: the plaintext
opening, then Noise with the payer as initiator) and real envelopes, so the genuine role on
the other side gets exactly what a modified app would send; what she sends in them is up to
the test. Also: documents signed without the checks
:func:`protocol.verify.sign` makes (an attacker does not run our builders' checks).
"""

from __future__ import annotations

import cbor2
from nacl.signing import SigningKey

from gatt.link import Central, Link, Peripheral
from gatt.spec import new_session_tag
from protocol import cbor
from protocol.cose import Kind, sign1
from protocol.documents import Allowance, Document, Payment, to_payload
from protocol.framing import MIN_CHUNK_SIZE
from protocol.negotiation import Answer, Capabilities, Offer, answer_offer
from protocol.noise import KeyPair
from protocol.session.channel import Channel
from protocol.session.messages import Message, MessageKind

__all__ = [
    "ABSENT",
    "Mallory",
    "forge_allowance",
    "forge_payment",
    "payload_bytes",
    "raw_sign",
    "with_payload",
]

NOW_MS = 0
"""Mallory's reassembler clock never runs out: she does not time anything."""


def raw_sign(key: SigningKey, doc: Document) -> bytes:
    """A COSE_Sign1 of ``doc`` by ``key``, without any of the sender-side checks."""
    return sign1(key, doc.KIND, cbor.encode(to_payload(doc)))


def with_payload(signed: bytes, doc: Document) -> bytes:
    """``signed`` with its payload replaced by ``doc`` and the original signature kept."""
    tag = cbor2.loads(signed)
    protected, unprotected, _, signature = tag.value
    forged = [protected, dict(unprotected), cbor.encode(to_payload(doc)), signature]
    return cbor.encode(cbor2.CBORTag(tag.tag, forged))


class Mallory:
    """One end of a session with a hostile app behind it."""

    def __init__(
        self,
        link: Link,
        channel: Channel,
        *,
        reveal: KeyPair | None = None,
        tag: str | None = None,
    ) -> None:
        self.link = link
        self.channel = channel
        self._reveal = reveal
        self.tag = tag
        """As a payee: the tag of the payer it connected to (bound into its offer)."""
        self.heard: list[bytes] = []
        """Every raw chunk received, in order (what a tracker keeps)."""

    @classmethod
    async def as_payer(
        cls, peripheral: Peripheral, identity: SigningKey, *, tag: str | None = None
    ) -> Mallory:
        """Advertise (``tag``, else a fresh one), accept the payee's connection, be the Noise
        initiator. ``identity`` is disclosed with the first message written after the invoice.
        """
        link = await peripheral.accept(tag=tag or new_session_tag())
        channel = Channel(
            opener=False,
            static=None,
            chunk_size=MIN_CHUNK_SIZE,
            reassembly_timeout_ms=10_000,
        )
        return cls(link, channel, reveal=KeyPair.from_ed25519_seed(bytes(identity)))

    @classmethod
    def on_link(cls, link: Link, identity: SigningKey | None = None) -> Mallory:
        """A payee-side Mallory on a Link she already connected (a fresh key if none given)."""
        channel = Channel(
            opener=True,
            static=KeyPair.from_ed25519_seed(bytes(identity or SigningKey.generate())),
            chunk_size=link.max_chunk,
            reassembly_timeout_ms=10_000,
        )
        return cls(link, channel)

    @classmethod
    async def as_payee(cls, central: Central, identity: SigningKey) -> Mallory:
        """Connect to the first payer seen, write the opening, be the Noise responder."""
        found = await central.find(within=5)
        link = await central.connect(found)
        channel = Channel(
            opener=True,
            static=KeyPair.from_ed25519_seed(bytes(identity)),
            chunk_size=link.max_chunk,
            reassembly_timeout_ms=10_000,
        )
        return cls(link, channel, tag=found.tag)

    async def read(self) -> Message:
        """The next whole message from the peer, decrypted."""
        while True:
            chunk = await self.link.receive()
            self.heard.append(chunk)
            message = self.channel.feed(chunk, NOW_MS)
            if message is not None:
                return Message.decode(self.channel.read(message))

    async def write(self, kind: MessageKind, body: bytes) -> None:
        await self.write_envelope(Message(kind=kind, body=body).encode())

    async def write_envelope(self, envelope: bytes) -> None:
        """Send ``envelope`` as one whole message, whatever its bytes (a hostile envelope)."""
        if self.channel.needs_static and self._reveal is not None:
            self.channel.reveal(self._reveal)
        self.channel.write(envelope)
        for chunk in self.channel.drain():
            await self.link.send(chunk)

    async def answer(self, currency: str = "EUR") -> None:
        """Payer side: read the offer and answer it (the opening and Noise message 1)."""
        offer = Offer.decode((await self.read()).body)
        self.channel.use_chunk_size(min(offer.chunk_size, self.link.max_chunk))
        answer = answer_offer(
            offer, Capabilities(max_chunk_size=self.link.max_chunk, currencies=(currency,))
        )
        self.channel.apply(answer)
        await self.write(MessageKind.ANSWER, answer.encode())

    async def offer(self, currency: str = "EUR") -> None:
        """Payee side: offer and read the answer (the opening and Noise message 1)."""
        offer = Offer.from_capabilities(
            Capabilities(max_chunk_size=self.link.max_chunk, currencies=(currency,)), tag=self.tag
        )
        await self.write(MessageKind.OFFER, offer.encode())
        self.channel.apply(Answer.decode((await self.read()).body))


# --- hostile documents: any value in any field, signed with the attacker's own keys -------

ABSENT = object()
"""A field value meaning "leave the key out of the map"."""

PAYMENT_KEYS = {name: key for key, name in Payment.WIRE}
ALLOWANCE_KEYS = {name: key for key, name in Allowance.WIRE}


def payload_bytes(fields: dict[int, object], *, extra: dict[object, object] | None = None) -> bytes:
    """Deterministic CBOR of a map with whatever values (ints past 64 bits become bignums,
    which a strict decoder refuses); ABSENT values are left out."""
    items: dict[object, object] = {k: v for k, v in fields.items() if v is not ABSENT}
    items.update(extra or {})
    return cbor2.dumps(items, canonical=True)


def forge_allowance(signer: SigningKey, /, **values: object) -> bytes:
    """An allowance signed by ``signer`` whose fields are exactly ``values`` (by name)."""
    fields = {ALLOWANCE_KEYS[name]: value for name, value in values.items()}
    return sign1(signer, Kind.ALLOWANCE, payload_bytes(fields))


def forge_payment(
    signer: SigningKey, /, *, extra: dict[object, object] | None = None, **values: object
) -> bytes:
    """A payment signed by ``signer`` whose fields are exactly ``values`` (by name)."""
    fields = {PAYMENT_KEYS[name]: value for name, value in values.items()}
    return sign1(signer, Kind.PAYMENT, payload_bytes(fields, extra=extra))
