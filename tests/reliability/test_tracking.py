"""A tracker learns nothing that links two of the payer's sessions before the payer pays it.

The attack (issue 12): a modified central connects to a payer again and again, each time
with an invoice the payer will not pay (over what is left, another currency, an issuer the
"payee" does not accept, over the auto-approval limit), and keeps every byte it hears:
the advertised address and session tag, the Info value, every chunk, and everything it can
decrypt (it is a real Noise peer with its own real keys, so its invoices verify).

The invariant a user cares about: the sessions share no byte that identifies the payer.
No address, tag, ephemeral or static key repeats; the wallet's key (Ed25519 or X25519),
its key id, its allowance (bytes, serial, issuer) and the label it chose to show payees it
pays (``init --label``: sent with a payment only) appear nowhere; the refusals are the same
unsigned code for every reason, so they are no oracle for what is left, the currency held
or the issuer; the only bytes common to two sessions are those every payer sends.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest
from nacl.signing import SigningKey

from gatt.bumble_backend import VirtualRadio
from gatt.link import LinkOptions
from p2ppay.roles import AutoApprovalLimits, CappedAutoApprove, PayerRole, SessionOutcome
from p2ppay.roles.radio import PAYER_INFO
from p2ppay.wallet.config import WalletConfig, save_config
from protocol import ErrorCode, open_as
from protocol.builders import make_invoice
from protocol.cbor import encode
from protocol.documents import Allowance
from protocol.keys import key_id, public_key
from protocol.negotiation import Capabilities, Offer
from protocol.noise import x25519_from_ed25519_public
from protocol.session.messages import Message, MessageKind, decode_refusal, encode_refusal
from tests.reliability.conftest import RunCount
from tests.reliability.harness import World
from tests.reliability.mallory import Mallory
from tests.world import now_s, spent

pytestmark = pytest.mark.anyio

TRACKER = SigningKey.generate()
PAYER_LABEL = "Ana Tracked"
"""The payer's self-chosen label: it would name the payer in every session if it leaked."""
WINDOW = 8
"""A byte string this long found in two sessions counts as shared (random bytes collide
with probability ~2**-64 per pair of positions)."""


@dataclass
class Heard:
    """Everything the tracker kept from one session."""

    address: str
    tag: str
    name: str
    info: bytes
    chunks: list[bytes] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)
    """Decrypted envelopes' bodies, in order (the answer, the refusal)."""
    kinds: list[MessageKind] = field(default_factory=list)
    payer_static: bytes | None = None

    def everything(self) -> bytes:
        return b"|".join([*self.chunks, *self.payloads])

    def windows(self) -> set[bytes]:
        """Every WINDOW-byte string in any one thing heard (chunks and payloads apart)."""
        return set().union(*(_windows(item) for item in [*self.chunks, *self.payloads]))


def _invoices(issuer: bytes) -> dict[str, bytes]:
    """Invoices the payer will not pay, one per reason, all signed by the tracker."""
    now = now_s()
    return {
        "over what is left": make_invoice(TRACKER, amount=400_00, currency="EUR", now=now).raw,
        "another currency": make_invoice(TRACKER, amount=1_00, currency="USD", now=now).raw,
        "issuer not accepted": make_invoice(
            TRACKER, amount=1_00, currency="EUR", now=now, issuers=(key_id(b"\x55" * 32),)
        ).raw,
        "over the auto-approval limit": make_invoice(
            TRACKER, amount=20_00, currency="EUR", now=now
        ).raw,
        "expired by the payer's clock": make_invoice(
            TRACKER, amount=1_00, currency="EUR", now=now - 3_600, ttl=60
        ).raw,
    }


async def _track_once(central: object, invoice: bytes) -> Heard:
    from gatt.bumble_backend.central import BumbleCentral

    assert isinstance(central, BumbleCentral)
    found = await central.find(within=5)
    link = await central.connect(found)
    assert link.peer.info is not None
    heard = Heard(
        address=found.address, tag=found.tag, name=found.name, info=link.peer.info.encode()
    )
    async with link:
        m = Mallory.on_link(link, TRACKER)
        offer = Offer.from_capabilities(
            Capabilities(max_chunk_size=link.max_chunk, currencies=("EUR", "USD")),
            tag=found.tag,  # public: it is on the air
        )
        await m.write(MessageKind.OFFER, offer.encode())
        answer = await m.read()
        await m.write(MessageKind.INVOICE, invoice)
        refusal = await m.read()
        heard.chunks = m.heard
        heard.payloads = [answer.body, refusal.body]
        heard.kinds = [answer.kind, refusal.kind]
        heard.payer_static = m.channel.remote_static
    return heard


def _windows(data: bytes) -> set[bytes]:
    return {data[i : i + WINDOW] for i in range(len(data) - WINDOW + 1)}


RANDOM_EDGE = 3
"""A window may straddle a random byte string (an ephemeral key) and bytes every payer
sends; up to this many random bytes at its edge are taken as chance (2**-24 per pair), more
must not match."""


def _straddles(window: bytes, common: list[bytes]) -> bool:
    """True if the window is bytes every payer sends with at most RANDOM_EDGE others at an end."""
    for k in range(1, RANDOM_EDGE + 1):
        head, tail = window[: WINDOW - k], window[k:]
        if any(c.startswith(tail) or c.endswith(head) for c in common):
            return True
    return False


@pytest.mark.reliability(
    "attack",
    "tracker: a modified central connects repeatedly with invoices the payer will not pay "
    "(over what is left, other currency, issuer not accepted, over the auto-approval limit, "
    "expired by the payer's clock)",
    expect="no address, tag, key, label, signature or refusal content repeats or identifies "
    "the payer; every refusal is the same unsigned SESSION_DECLINED; nothing is paid",
)
async def test_a_trackers_sessions_share_no_byte_that_identifies_the_payer(
    tmp_path: Path, runs: RunCount
) -> None:
    world = World.make(tmp_path, limit=300_00)
    save_config(world.homes.payer, WalletConfig(label=PAYER_LABEL))
    radio = VirtualRadio()
    options = LinkOptions(max_att_mtu=185)
    with world.homes.open_payer() as payer_wallet:
        allowance_state = payer_wallet.store.allowances.payer_position().allowance
        assert allowance_state is not None
        allowance = open_as(allowance_state.signed, Allowance)
        wallet_key = public_key(payer_wallet.identity.signing_key)
        invoices = _invoices(allowance.doc.issuer)
        limits = AutoApprovalLimits(currency="EUR", per_payment=5_00, total=5_00)
        payer = PayerRole(wallet=payer_wallet, approver=CappedAutoApprove(limits=limits))
        served: list[SessionOutcome] = []
        heard: list[Heard] = []
        async with (
            radio.open_peripheral(info=PAYER_INFO, options=options) as peripheral,
            radio.open_central(options=options) as tracker,
        ):

            async def serve() -> None:
                for _ in invoices:
                    served.append(await payer.serve_one(peripheral))

            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(serve)
                    for invoice in invoices.values():
                        heard.append(await _track_once(tracker, invoice))
        runs.add(len(heard))
        assert spent(payer_wallet) == 0

    # the payer's app knows why it refused; the tracker only hears "declined"
    assert [s.error for s in served] == [
        "SESSION_WALLET_CANNOT_PAY",
        "SESSION_WALLET_CANNOT_PAY",
        "SESSION_WALLET_CANNOT_PAY",
        "SESSION_DECLINED",
        "DOC_EXPIRED",
    ]
    refusal = encode_refusal(ErrorCode.SESSION_DECLINED)
    for h in heard:
        assert h.kinds == [MessageKind.ANSWER, MessageKind.REFUSAL]
        assert h.payloads[1] == refusal and decode_refusal(refusal) == ErrorCode.SESSION_DECLINED
        assert h.info == PAYER_INFO.encode()  # what every payer of this build says
    assert len({h.payloads[0] for h in heard}) == 1  # the same answer every time

    for field_name in ("address", "tag", "name", "payer_static"):
        values = [getattr(h, field_name) for h in heard]
        assert len(set(values)) == len(values), f"{field_name} repeats: {values}"

    stable = {
        "wallet key": wallet_key,
        "wallet Noise key": x25519_from_ed25519_public(wallet_key),
        "wallet key id": key_id(wallet_key),
        "allowance": allowance.raw,
        "allowance signature": allowance.raw[-64:],
        "allowance serial": encode(allowance.doc.serial),
        "issuer key": allowance.doc.issuer,
        "issuer key id": key_id(allowance.doc.issuer),
        "payer label": PAYER_LABEL.encode(),
    }
    for h in heard:
        everything = h.everything() + h.address.encode() + h.tag.encode()
        for what, value in stable.items():
            if len(value) >= 4:
                assert value not in everything, f"{what} leaked"
        assert h.payer_static != stable["wallet Noise key"]

    # what two sessions have in common is only what every payer sends: the answer and the
    # refusal envelopes (the answer is in clear in Noise message 1)
    answer = Message(kind=MessageKind.ANSWER, body=heard[0].payloads[0]).encode()
    declined = Message(kind=MessageKind.REFUSAL, body=refusal).encode()
    common = [answer, declined, PAYER_INFO.encode()]
    common_to_all = set().union(*(_windows(c) for c in common))
    for a, b in itertools.combinations(heard, 2):
        shared = {
            w for w in (a.windows() & b.windows()) - common_to_all if not _straddles(w, common)
        }
        assert not shared, f"sessions share {sorted(s.hex() for s in shared)[:5]}"
