"""The kiosk config: validated once at start, every bad field named in one clear error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from p2ppay.cli import main
from p2ppay.errors import AppError, AppErrorCode
from p2ppay.kiosk.config import load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "kiosk" / "kiosk.toml"


def _minimal(**sections: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"wallet": {"home": "/srv/kiosk"}, "payments": {"currency": "EUR"}}
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return data


def _refusal(data: dict[str, Any]) -> str:
    with pytest.raises(AppError) as caught:
        parse_config(data)
    assert caught.value.code is AppErrorCode.KIOSK_CONFIG_INVALID
    return caught.value.message


def test_the_example_config_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert config.payments.currency == "EUR"
    assert config.api.unix_path == "/run/p2ppay-kiosk/api.sock"


def test_a_minimal_config_takes_the_documented_defaults() -> None:
    config = parse_config(_minimal())
    assert (config.radio.adapter, config.radio.min_rssi, config.api.listen) == (
        "virtual",
        -70,
        "unix:/run/p2ppay-kiosk/api.sock",
    )


def test_every_bad_field_is_named_in_one_error() -> None:
    message = _refusal(
        _minimal(
            radio={"min_rssi": 50, "adapter": "wifi0"},
            payments={"currency": "EURO", "queue_size": 0},
            ledger={"url": "not a url"},
        )
    )
    for field in (
        "radio.min_rssi",
        "radio.adapter",
        "payments.currency",
        "payments.queue_size",
        "ledger.url",
    ):
        assert field in message


def test_a_misspelt_key_is_refused_not_ignored() -> None:
    assert "radio.min_rrsi: unknown key" in _refusal(_minimal(radio={"min_rrsi": -60}))


def test_the_required_sections_are_named_when_missing() -> None:
    message = _refusal({})
    assert "wallet: required" in message and "payments: required" in message


@pytest.mark.parametrize("listen", ["0.0.0.0:8421", "192.168.1.20:80", "kiosk.local:8421"])
def test_the_api_refuses_to_listen_beyond_loopback(listen: str) -> None:
    assert "api.listen" in _refusal(_minimal(api={"listen": listen}))


@pytest.mark.parametrize(
    "listen", ["127.0.0.1:9000", "[::1]:9000", "localhost:9000", "unix:/run/k.sock"]
)
def test_the_api_listens_on_loopback_or_a_unix_socket(listen: str) -> None:
    assert parse_config(_minimal(api={"listen": listen})).api.listen == listen


def test_a_file_that_is_not_toml_is_refused_with_the_config_code(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text("[wallet\nhome = 1", encoding="utf-8")
    with pytest.raises(AppError) as caught:
        load_config(path)
    assert caught.value.code is AppErrorCode.KIOSK_CONFIG_INVALID
    assert "not TOML" in caught.value.message


def test_a_relative_wallet_home_is_taken_from_the_config_files_directory(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[wallet]\nhome = "wallet"\n[payments]\ncurrency = "EUR"\n', encoding="utf-8")
    assert load_config(path).wallet.home == tmp_path / "wallet"


def _example_with_home(tmp_path: Path, home: Path) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    path = tmp_path / "kiosk.toml"
    path.write_text(text.replace('"/var/lib/p2ppay-kiosk/wallet"', f'"{home}"'), encoding="utf-8")
    return path


def test_the_cli_check_prints_the_validated_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "wallet"
    assert main(["--home", str(home), "init", "--no-passphrase", "--json"]) == 0
    capsys.readouterr()
    config = _example_with_home(tmp_path, home)
    assert main(["kiosk", "--config", str(config), "--check", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["radio"]["adapter"] == "bumble:usb:0"


@pytest.mark.parametrize("problem", ["missing", "shared"])
def test_the_cli_check_catches_a_wallet_home_the_daemon_could_not_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], problem: str
) -> None:
    home = tmp_path / "wallet"
    if problem == "shared":
        assert main(["--home", str(home), "init", "--no-passphrase", "--json"]) == 0
        home.chmod(0o755)
    capsys.readouterr()
    config = _example_with_home(tmp_path, home)
    assert main(["kiosk", "--config", str(config), "--check", "--json"]) == 3
    printed = json.loads(capsys.readouterr().out)
    assert printed["error"] == "KIOSK_CONFIG_INVALID" and "wallet.home" in printed["message"]


def test_offline_limits_and_payer_wait_are_validated(tmp_path: Path) -> None:
    base = {"wallet": {"home": "w"}, "payments": {"currency": "EUR"}}
    limits = {"EUR": {"per_payment": "20.00", "per_payer_day": "50.00", "stale_list": "5.00"}}
    config = parse_config({**base, "offline_limits": {"max_list_age": 3600, **limits}})
    assert config.risk_policy().for_currency("EUR").per_payment == 20_00
    assert config.risk_policy().max_list_age == 3600
    with pytest.raises(AppError) as bad:
        parse_config({**base, "offline_limits": {"EUR": {"per_payment": "lots"}}})
    assert "offline_limits" in bad.value.message
    for wait, ok in ((1, False), (60, True), (601, False)):
        data = {**base, "payments": {"currency": "EUR", "payer_wait": wait}}
        if ok:
            assert parse_config(data).payments.payer_wait == wait
        else:
            with pytest.raises(AppError):
                parse_config(data)
    with pytest.raises(AppError):
        parse_config({**base, "radio": {"min_rssi": 20}})
    assert parse_config(base).radio.tag_listen == 0.0  # free by default (bench/kiosk.py)
    assert parse_config({**base, "radio": {"tag_listen": 0.05}}).radio.tag_listen == 0.05
    with pytest.raises(AppError):
        parse_config({**base, "radio": {"tag_listen": -1}})


def test_the_cli_refuses_a_bad_config_with_exit_3_and_the_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[wallet]\nhome = "w"\n[payments]\ncurrency = "XXX"\n', encoding="utf-8")
    assert main(["kiosk", "--config", str(path), "--json"]) == 3
    printed = json.loads(capsys.readouterr().out)
    assert printed["error"] == "KIOSK_CONFIG_INVALID"
    assert "payments.currency" in printed["message"]


def test_the_cli_refuses_a_tcp_api_without_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("P2PPAY_KIOSK_TOKEN", raising=False)
    path = tmp_path / "kiosk.toml"
    path.write_text(
        '[wallet]\nhome = "w"\n[payments]\ncurrency = "EUR"\n[api]\nlisten = "127.0.0.1:8421"\n',
        encoding="utf-8",
    )
    assert main(["kiosk", "--config", str(path), "--check", "--json"]) == 3
    printed = json.loads(capsys.readouterr().out)
    assert printed["error"] == "KIOSK_CONFIG_INVALID"
    assert "token" in printed["message"]
    monkeypatch.setenv("P2PPAY_KIOSK_TOKEN", "a-long-enough-token-0123")
    assert main(["--home", str(tmp_path / "w"), "init", "--no-passphrase", "--json"]) == 0
    capsys.readouterr()
    assert main(["kiosk", "--config", str(path), "--check", "--json"]) == 0
