"""protocol/vectors/sessions.json against an independent Noise implementation (noiseprotocol).

The payer is the Noise initiator after the payee's plaintext opening, whose bytes end the
prologue. Replaying each side with ``noiseprotocol`` from the vector's keys must produce
the vector's Noise messages byte for byte and read the other side's, and the payer's
wallet key must appear (encrypted) only in the payment's message.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from noise.connection import Keypair as NoiseKeypair
from noise.connection import NoiseConnection

from protocol.negotiation import PROLOGUE
from protocol.noise import HandshakeState, KeyPair, protocol_name
from protocol.session.messages import Message, MessageKind

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "protocol" / "vectors" / "sessions.json").read_text()
)["vectors"]


def _side(case: dict[str, Any], *, payer: bool) -> NoiseConnection:
    keys = case["keys"]
    conn = NoiseConnection.from_name(protocol_name("XX"))
    if payer:
        conn.set_as_initiator()
        static = keys.get("payer_one_time_static_private", keys["payer_static_private"])
        ephemeral = keys["payer_ephemeral_private"]
    else:
        conn.set_as_responder()
        static, ephemeral = keys["payee_static_private"], keys["payee_ephemeral_private"]
    conn.set_prologue(bytes.fromhex(case["prologue"]))
    conn.set_keypair_from_private_bytes(NoiseKeypair.STATIC, bytes.fromhex(static))
    conn.set_keypair_from_private_bytes(NoiseKeypair.EPHEMERAL, bytes.fromhex(ephemeral))
    with warnings.catch_warnings():  # "fixed ephemerals are for testing": that is what this is
        warnings.simplefilter("ignore", UserWarning)
        conn.start_handshake()
    return conn


@pytest.mark.parametrize("case", VECTORS, ids=[c["name"] for c in VECTORS])
def test_noiseprotocol_reproduces_every_message(case: dict[str, Any]) -> None:
    opening, *noise = case["messages"]
    assert opening["message"] == opening["envelope"]  # the opening is plaintext
    assert case["prologue"] == (PROLOGUE + bytes.fromhex(opening["envelope"])).hex()
    payer, payee = _side(case, payer=True), _side(case, payer=False)
    for message in noise:
        envelope, wire = bytes.fromhex(message["envelope"]), bytes.fromhex(message["message"])
        sender, receiver = (payer, payee) if message["from"] == "payer" else (payee, payer)
        if message["step"] == "transport":
            assert bytes(sender.encrypt(envelope)) == wire
            assert bytes(receiver.decrypt(wire)) == envelope
        else:
            assert bytes(sender.write_message(envelope)) == wire
            assert bytes(receiver.read_message(wire)) == envelope
    assert payer.handshake_finished and payee.handshake_finished


@pytest.mark.parametrize("case", VECTORS, ids=[c["name"] for c in VECTORS])
def test_the_payers_wallet_key_is_only_in_the_payment_message(case: dict[str, Any]) -> None:
    keys = case["keys"]
    payee = HandshakeState(
        initiator=False,
        prologue=bytes.fromhex(case["prologue"]),
        static=KeyPair.from_private(bytes.fromhex(keys["payee_static_private"])),
        ephemeral=KeyPair.from_private(bytes.fromhex(keys["payee_ephemeral_private"])),
    )
    wallet = KeyPair.from_private(bytes.fromhex(keys["payer_static_private"])).public
    kinds = []
    for message in case["messages"][1:4]:
        wire = bytes.fromhex(message["message"])
        if message["from"] == "payee":
            assert payee.write_message(bytes.fromhex(message["envelope"])) == wire
            continue
        assert wallet not in wire
        assert payee.remote_static is None  # nothing of the payer's before its message 3
        kinds.append(Message.decode(payee.read_message(wire)).kind)
    last = MessageKind.PAYMENT if case["name"] == "payment" else MessageKind.REFUSAL
    assert kinds == [MessageKind.ANSWER, last]
    assert (payee.remote_static == wallet) is (last is MessageKind.PAYMENT)
