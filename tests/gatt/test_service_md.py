"""gatt/SERVICE.md and gatt.spec agree: the document is the spec, the code implements it."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatt.spec import (
    ATT_MTU_DEFAULT,
    ATT_MTU_MAX,
    MAX_ATTRIBUTE_VALUE,
    MAX_WRITE_VALUE,
    NAME_PREFIX,
    SERVICE,
    TAG_ALPHABET,
    TAG_LENGTH,
    Info,
    Permissions,
    Properties,
    Role,
    decode_start,
    encode_start,
    is_end,
    local_name_for,
    max_chunk,
    max_write_chunk,
    new_session_tag,
    tag_from_local_name,
)

DOC = (Path(__file__).resolve().parents[2] / "gatt" / "SERVICE.md").read_text()

_PROPERTY_WORDS = {
    "read": Properties.READ,
    "write": Properties.WRITE,
    "write without response": Properties.WRITE_WITHOUT_RESPONSE,
    "notify": Properties.NOTIFY,
}
_PERMISSION_WORDS = {
    "readable": Permissions.READABLE,
    "writeable": Permissions.WRITEABLE,
    "none": Permissions(0),
}


def _table(heading: str) -> list[list[str]]:
    """Rows (cells stripped of spaces and backticks) of the first table under ``heading``."""
    section = DOC.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    cells = [[c.replace("`", "").strip() for c in row.strip("|").split("|")] for row in rows]
    return [row for row in cells[2:] if row]  # skip the header and the ---|--- line


def _items(heading: str) -> dict[str, str]:
    return {row[0]: row[1] for row in _table(heading)}


def test_service_uuid_matches_the_document() -> None:
    assert uuid.UUID(_items("Service")["primary service UUID"]) == SERVICE.uuid


def test_characteristics_match_the_document_row_for_row() -> None:
    documented = {}
    for role, uid, properties, permissions, length in _table("Characteristics"):
        props = Properties(0)
        for word in properties.split(", "):
            props |= _PROPERTY_WORDS[word]
        perms = Permissions(0)
        for word in permissions.split(", "):
            perms |= _PERMISSION_WORDS[word]
        documented[Role(role)] = (uuid.UUID(uid), props, perms, int(length))
    coded = {
        c.role: (c.uuid, c.properties, c.permissions, c.max_length) for c in SERVICE.characteristics
    }
    assert documented == coded


def test_every_role_appears_once_with_a_distinct_uuid() -> None:
    roles = [c.role for c in SERVICE.characteristics]
    uuids = {c.uuid for c in SERVICE.characteristics} | {SERVICE.uuid}
    assert sorted(r.value for r in roles) == sorted(r.value for r in Role)
    assert len(uuids) == len(roles) + 1


def test_chunk_rule_matches_the_document() -> None:
    items = _items("Chunk rule")
    assert items["chunk size"] == "min(ATT_MTU - 3, 512) bytes"
    assert items["central write size"] == "min(ATT_MTU - 3, 510) bytes"
    assert max_write_chunk(517) == MAX_WRITE_VALUE == 510
    assert int(items["largest attribute value"]) == MAX_ATTRIBUTE_VALUE
    assert int(items["default ATT MTU"]) == ATT_MTU_DEFAULT
    assert int(items["largest ATT MTU asked for"]) == ATT_MTU_MAX


@pytest.mark.parametrize(
    ("mtu", "chunk"), [(23, 20), (185, 182), (247, 244), (515, 512), (517, 512)]
)
def test_max_chunk_is_mtu_minus_3_capped_at_512(mtu: int, chunk: int) -> None:
    assert max_chunk(mtu) == chunk


def test_advertising_format_matches_the_document() -> None:
    items = _items("Advertising")
    assert items["local name"] == f"{NAME_PREFIX} + session tag"
    match = re.fullmatch(r"(\d+) characters of (\S+) \((\d+) random bits\)", items["session tag"])
    assert match is not None
    assert (int(match[1]), match[2]) == (TAG_LENGTH, TAG_ALPHABET)
    assert int(match[3]) == TAG_LENGTH * 5


def test_info_example_in_the_document_is_what_the_code_encodes() -> None:
    example = re.search(r"max message size 16384 → `([0-9a-f ]+)`", DOC)
    assert example is not None
    assert Info(versions=(1, 2), max_message_size=16384).encode() == bytes.fromhex(example[1])


@given(
    versions=st.lists(st.integers(0, 255), min_size=1, max_size=20, unique=True).map(
        lambda v: tuple(sorted(v))
    ),
    size=st.integers(1, 2**32 - 1),
)
def test_info_round_trips(versions: tuple[int, ...], size: int) -> None:
    info = Info(versions=versions, max_message_size=size)
    assert Info.decode(info.encode()) == info


@given(st.binary(max_size=40))
def test_info_decode_accepts_only_exact_encodings(data: bytes) -> None:
    try:
        info = Info.decode(data)
    except ValueError:
        return
    assert info.encode() == data


def test_session_tags_are_fresh_and_fit_the_name_format() -> None:
    tags = {new_session_tag() for _ in range(50)}
    assert len(tags) == 50
    for tag in tags:
        assert tag_from_local_name(local_name_for(tag)) == tag


@pytest.mark.parametrize("name", [None, "", "pp", "ppABCDEF", "xxabcdef", "ppabcdefg", "ppabc1ef"])
def test_names_that_are_not_ours_carry_no_tag(name: str | None) -> None:
    assert tag_from_local_name(name) is None


@pytest.mark.parametrize("mtu", [23, 185, 247, 517])
def test_start_carries_the_att_mtu_as_documented(mtu: int) -> None:
    assert encode_start(mtu) == bytes([0x01]) + mtu.to_bytes(2, "big")
    assert decode_start(encode_start(mtu)) == mtu


def test_bare_start_means_mtu_23_and_end_is_one_byte() -> None:
    assert decode_start(b"\x01") == 23
    assert is_end(b"\x02")
    assert not is_end(b"\x01")


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"\x02",
        b"\x01\x00",
        b"\x01\x00\x16",
        b"\x01\x02\x06",
        b"\x03\x00\x17",
        b"\x01\x00\x17\x00",
    ],
)
def test_anything_else_is_not_a_start(value: bytes) -> None:
    assert decode_start(value) is None
