"""Noise_*_25519_ChaChaPoly_BLAKE2b: published vectors, interop with noiseprotocol, failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey
from noise.connection import Keypair as NoiseKeypair
from noise.connection import NoiseConnection

from protocol.errors import ErrorCode, LocalProtocolError, ProtocolError, RemoteProtocolError
from protocol.noise import (
    PATTERNS,
    CipherState,
    HandshakeState,
    KeyPair,
    TransportState,
    protocol_name,
    short_authentication_string,
    x25519_from_ed25519_public,
)

VECTORS = Path("/work/shared/vectors/noise-25519-chachapoly-blake2b.json")


def _vectors() -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads(VECTORS.read_text())
    return list(data["vectors"])


def _hex(vector: dict[str, Any], key: str) -> bytes | None:
    return bytes.fromhex(vector[key]) if key in vector else None


def _pair(vector: dict[str, Any], key: str) -> KeyPair | None:
    raw = _hex(vector, key)
    return KeyPair.from_private(raw) if raw is not None else None


def _handshakes(vector: dict[str, Any]) -> tuple[HandshakeState, HandshakeState]:
    pattern = vector["protocol_name"].split("_")[1]
    initiator = HandshakeState(
        pattern=pattern,
        initiator=True,
        prologue=_hex(vector, "init_prologue") or b"",
        static=_pair(vector, "init_static"),
        remote_static=_hex(vector, "init_remote_static"),
        ephemeral=_pair(vector, "init_ephemeral"),
    )
    responder = HandshakeState(
        pattern=pattern,
        initiator=False,
        prologue=_hex(vector, "resp_prologue") or b"",
        static=_pair(vector, "resp_static"),
        remote_static=_hex(vector, "resp_remote_static"),
        ephemeral=_pair(vector, "resp_ephemeral"),
    )
    return initiator, responder


def test_vector_file_has_the_xx_case() -> None:
    names = {vector["protocol_name"] for vector in _vectors()}
    assert "Noise_XX_25519_ChaChaPoly_BLAKE2b" in names


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: v["protocol_name"])
def test_published_vector_is_reproduced_byte_for_byte(vector: dict[str, Any]) -> None:
    initiator, responder = _handshakes(vector)
    one_way = len(PATTERNS[vector["protocol_name"].split("_")[1]][2]) == 1
    writer, reader = initiator, responder
    transport_send: TransportState | None = None
    transport_receive: TransportState | None = None
    for message in vector["messages"]:
        payload = bytes.fromhex(message["payload"])
        expected = bytes.fromhex(message["ciphertext"])
        if not initiator.finished:
            wire = writer.write_message(payload)
            assert wire == expected
            assert reader.read_message(wire) == payload
            writer, reader = reader, writer
            if initiator.finished:
                assert initiator.handshake_hash.hex() == vector["handshake_hash"]
                assert responder.handshake_hash.hex() == vector["handshake_hash"]
                # one-way patterns: only the initiator sends; otherwise turns keep alternating
                sender = initiator if one_way else writer
                receiver = responder if sender is initiator else initiator
                transport_send, transport_receive = sender.transport(), receiver.transport()
            continue
        assert transport_send is not None
        assert transport_receive is not None
        wire = transport_send.encrypt(payload)
        assert wire == expected
        assert transport_receive.decrypt(wire) == payload
        if not one_way:
            transport_send, transport_receive = transport_receive, transport_send


def _their_side(*, initiator: bool, static: bytes, prologue: bytes) -> NoiseConnection:
    conn = NoiseConnection.from_name(protocol_name("XX"))
    if initiator:
        conn.set_as_initiator()
    else:
        conn.set_as_responder()
    conn.set_prologue(prologue)
    conn.set_keypair_from_private_bytes(NoiseKeypair.STATIC, static)
    conn.start_handshake()
    return conn


@pytest.mark.parametrize("we_initiate", [True, False], ids=["we-initiate", "they-initiate"])
def test_interoperates_with_noiseprotocol(we_initiate: bool) -> None:
    prologue = b"p2ppay interop"
    ours_static, theirs_static = KeyPair.generate(), KeyPair.generate()
    ours = HandshakeState(initiator=we_initiate, prologue=prologue, static=ours_static)
    theirs = _their_side(initiator=not we_initiate, static=theirs_static.private, prologue=prologue)
    for index in range(3):
        payload = f"message {index}".encode()
        if ours.my_turn:
            assert bytes(theirs.read_message(ours.write_message(payload))) == payload
        else:
            assert ours.read_message(bytes(theirs.write_message(payload))) == payload
    assert ours.finished
    assert theirs.handshake_finished
    assert ours.handshake_hash == theirs.get_handshake_hash()
    assert ours.remote_static == theirs_static.public
    channel = ours.transport()
    assert bytes(theirs.decrypt(channel.encrypt(b"to them"))) == b"to them"
    assert channel.decrypt(bytes(theirs.encrypt(b"to us"))) == b"to us"


def _finished_xx(prologue: bytes = b"") -> tuple[HandshakeState, HandshakeState]:
    initiator = HandshakeState(initiator=True, prologue=prologue, static=KeyPair.generate())
    responder = HandshakeState(initiator=False, prologue=prologue, static=KeyPair.generate())
    responder.read_message(initiator.write_message(b""))
    initiator.read_message(responder.write_message(b""))
    responder.read_message(initiator.write_message(b""))
    return initiator, responder


def test_replayed_transport_message_is_rejected() -> None:
    initiator, responder = _finished_xx()
    wire = initiator.transport().encrypt(b"pay 5")
    receiving = responder.transport()
    assert receiving.decrypt(wire) == b"pay 5"
    with pytest.raises(RemoteProtocolError) as info:
        receiving.decrypt(wire)
    assert info.value.code is ErrorCode.NOISE_DECRYPT_FAILED


def test_reordered_transport_messages_are_rejected() -> None:
    initiator, responder = _finished_xx()
    sending = initiator.transport()
    sending.encrypt(b"first")
    second = sending.encrypt(b"second")
    with pytest.raises(RemoteProtocolError) as info:
        responder.transport().decrypt(second)
    assert info.value.code is ErrorCode.NOISE_DECRYPT_FAILED


def test_tampered_handshake_message_fails_the_handshake() -> None:
    initiator = HandshakeState(initiator=True, static=KeyPair.generate())
    responder = HandshakeState(initiator=False, static=KeyPair.generate())
    responder.read_message(initiator.write_message(b"offer"))
    second = bytearray(responder.write_message(b"answer"))
    second[40] ^= 1
    with pytest.raises(RemoteProtocolError) as info:
        initiator.read_message(bytes(second))
    assert info.value.code is ErrorCode.NOISE_DECRYPT_FAILED


def test_different_prologues_fail_the_handshake() -> None:
    initiator = HandshakeState(initiator=True, prologue=b"p2ppay/1", static=KeyPair.generate())
    responder = HandshakeState(initiator=False, prologue=b"p2ppay/2", static=KeyPair.generate())
    responder.read_message(initiator.write_message(b""))
    with pytest.raises(RemoteProtocolError):
        initiator.read_message(responder.write_message(b""))


def test_failed_handshake_refuses_further_messages() -> None:
    initiator = HandshakeState(initiator=True, static=KeyPair.generate())
    initiator.write_message(b"")
    with pytest.raises(ProtocolError):
        initiator.read_message(b"short")
    with pytest.raises(RemoteProtocolError) as info:
        initiator.read_message(bytes(96))
    assert info.value.code is ErrorCode.NOISE_OUT_OF_TURN


def test_writing_out_of_turn_is_local_misuse() -> None:
    responder = HandshakeState(initiator=False, static=KeyPair.generate())
    with pytest.raises(LocalProtocolError) as info:
        responder.write_message(b"")
    assert info.value.code is ErrorCode.NOISE_OUT_OF_TURN


def test_transport_before_the_end_of_the_handshake_is_misuse() -> None:
    with pytest.raises(LocalProtocolError):
        HandshakeState(initiator=True, static=KeyPair.generate()).transport()


def test_truncated_handshake_message_is_too_short() -> None:
    responder = HandshakeState(initiator=False, static=KeyPair.generate())
    with pytest.raises(RemoteProtocolError) as info:
        responder.read_message(bytes(31))
    assert info.value.code is ErrorCode.NOISE_MESSAGE_TOO_SHORT


def test_low_order_ephemeral_key_is_rejected() -> None:
    responder = HandshakeState(initiator=False, static=KeyPair.generate())
    responder.read_message(bytes(32))  # the identity point; the DH comes with message 2
    with pytest.raises(RemoteProtocolError) as info:
        responder.write_message(b"")
    assert info.value.code is ErrorCode.NOISE_BAD_PUBLIC_KEY


def test_nonce_exhaustion_is_an_error_not_a_wraparound() -> None:
    cipher = CipherState(key=bytes(32), nonce=2**64 - 2)
    cipher.encrypt_with_ad(b"", b"last one")
    with pytest.raises(LocalProtocolError) as info:
        cipher.encrypt_with_ad(b"", b"one too many")
    assert info.value.code is ErrorCode.NOISE_NONCE_EXHAUSTED


def test_short_authentication_string_is_equal_on_both_sides() -> None:
    initiator, responder = _finished_xx()
    sas = short_authentication_string(initiator.handshake_hash)
    assert sas == short_authentication_string(responder.handshake_hash)
    assert len(sas) == 6
    assert sas.isdigit()


def test_short_authentication_string_differs_between_handshakes() -> None:
    hashes = {_finished_xx()[0].handshake_hash for _ in range(4)}
    strings = {short_authentication_string(h, digits=12) for h in hashes}
    assert len(strings) == 4


def test_ed25519_identity_converts_to_its_noise_static_key() -> None:
    signing = SigningKey.generate()
    static = KeyPair.from_ed25519_seed(bytes(signing))
    assert x25519_from_ed25519_public(bytes(signing.verify_key)) == static.public


def test_peer_static_key_is_the_converted_signing_key_after_handshake() -> None:
    payee_id, payer_id = SigningKey.generate(), SigningKey.generate()
    initiator = HandshakeState(initiator=True, static=KeyPair.from_ed25519_seed(bytes(payee_id)))
    responder = HandshakeState(initiator=False, static=KeyPair.from_ed25519_seed(bytes(payer_id)))
    responder.read_message(initiator.write_message(b""))
    initiator.read_message(responder.write_message(b""))
    responder.read_message(initiator.write_message(b""))
    assert initiator.remote_static == x25519_from_ed25519_public(bytes(payer_id.verify_key))
    assert responder.remote_static == x25519_from_ed25519_public(bytes(payee_id.verify_key))


@settings(max_examples=100, deadline=None)
@given(step=st.integers(0, 2), data=st.binary(max_size=200))
def test_arbitrary_handshake_bytes_raise_only_protocol_errors(step: int, data: bytes) -> None:
    initiator = HandshakeState(initiator=True, static=KeyPair.generate())
    responder = HandshakeState(initiator=False, static=KeyPair.generate())
    if step == 0:
        target = responder
    else:
        responder.read_message(initiator.write_message(b""))
        target = initiator
        if step == 2:
            initiator.read_message(responder.write_message(b""))
            target = responder
            initiator.write_message(b"")
    try:
        target.read_message(data)
    except ProtocolError:
        return
    assert step == 0  # only message 1 (plaintext e || payload) can be forged by anyone
    assert len(data) >= 32
