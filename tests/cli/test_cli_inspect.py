"""``p2ppay inspect``: exit 0 with the decoded documents when valid, the code name otherwise."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from p2ppay.cli import main
from protocol.bundle import encode_bundle
from protocol.keys import public_key
from tests.protocol.docworld import NOW, World


def _write_bundle(tmp_path: Path, world: World) -> Path:
    invoice = world.invoice()
    payment = world.payment(invoice=invoice)
    path = tmp_path / "bundle.cbor"
    path.write_bytes(encode_bundle(invoice.raw, payment.raw, world.receipt(payment).raw))
    return path


def test_a_valid_bundle_prints_its_three_documents_with_signer_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = World()
    path = _write_bundle(tmp_path, world)
    assert main(["inspect", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["kind"] == "bundle"
    kinds = [d["kind"] for d in result["documents"]]
    assert kinds == ["invoice", "payment", "receipt"]
    assert result["documents"][0]["signer"] == public_key(world.payee).hex()
    assert result["documents"][1]["signer"] == public_key(world.payer).hex()
    assert result["documents"][1]["fields"]["amount"] == "12.50"
    assert result["documents"][1]["allowance"]["signer"] == public_key(world.issuer).hex()


def test_a_tampered_bundle_exits_non_zero_with_the_code_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_bundle(tmp_path, World())
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # inside the receipt's signature
    path.write_bytes(bytes(data))
    assert main(["inspect", str(path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["error"] == "COSE_BAD_SIGNATURE"


def test_a_single_document_is_checked_at_the_given_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "invoice.cbor"
    path.write_bytes(World().invoice().raw)
    assert main(["inspect", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "invoice"
    assert main(["inspect", str(path), "--json", "--at", str(NOW + 86400)]) == 1
    assert json.loads(capsys.readouterr().out)["error"] == "DOC_EXPIRED"


def test_an_allowance_shows_its_validity_dates_in_local_time_and_raw_in_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # +05:30: a local time no UTC text matches
    time.tzset()
    try:
        allowance = World().allowance()
        path = tmp_path / "allowance.cbor"
        path.write_bytes(allowance.raw)
        assert main(["inspect", str(path)]) == 0
        text = capsys.readouterr().out
        assert main(["inspect", str(path), "--json"]) == 0
        (doc,) = json.loads(capsys.readouterr().out)["documents"]
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    begin, end = allowance.doc.not_before, allowance.doc.not_after
    local = dt.timezone(dt.timedelta(hours=5, minutes=30))
    shown = [
        dt.datetime.fromtimestamp(t, tz=local).strftime("%Y-%m-%d %H:%M") for t in (begin, end)
    ]
    assert f"valid from {shown[0]} IST until {shown[1]} IST" in text
    assert (doc["fields"]["not_before"], doc["fields"]["not_after"]) == (begin, end)
    utc = [
        dt.datetime.fromtimestamp(t, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in (begin, end)
    ]
    assert doc["dates"] == {"valid_from": utc[0], "valid_until": utc[1]}


def test_a_bundle_shows_the_payments_allowance_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_bundle(tmp_path, World())
    assert main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    assert "allowance valid from " in text and " until " in text
    assert "made " in text and " expires " in text
