"""The command line's contract, for every command at once.

- With ``--json``, stdout holds exactly one JSON object, whatever happens: success, a typed
  error, or a usage error argparse found (``{"error": "USAGE", ...}``).
- Exit statuses are the README's: 0 ok, 1 failed payment or invalid document, 2 usage,
  3 local error (130 interrupted).
- No input a person can type produces a traceback or an ``INTERNAL_ERROR`` (the bug net).

Commands run in-process (``p2ppay.cli.main``) on a home that holds no wallet, so none of them
reaches the radio, the network or a server: each stops at its first typed refusal.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2ppay.cli import build_parser, main

EXIT_CODES = {0, 1, 2, 3}
# They would do real work with good arguments (serve, run the demo, probe adapters):
# their usage errors are checked, not random arguments.
LONG_RUNNING = {
    ("ledger", "serve"),
    ("demo",),
    ("doctor",),
    ("kiosk",),
    ("scan",),
    ("conformance",),
}


def _commands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix
        return
    for name, sub in subs[0].choices.items():
        yield from _commands(sub, (*prefix, name))


COMMANDS = sorted(_commands(build_parser()))


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_json_object(stdout: str) -> dict[str, object]:
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout
    value = json.loads(lines[0])
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_usage_error_is_one_json_object_and_exit_2(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, [*command, "--no-such-flag", "--json"])
    assert code == 2, (out, err)
    body = _one_json_object(out)
    assert body["error"] == "USAGE" and "usage: p2ppay" in str(body["message"])
    assert "Traceback" not in err


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in LONG_RUNNING], ids=" ".join)
def test_every_command_answers_json_on_an_empty_home(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    home = tmp_path / "nobody"
    code, out, err = _run(capsys, ["--home", str(home), *command, "--json"])
    assert code in EXIT_CODES, (out, err)
    body = _one_json_object(out)
    if code != 0:
        assert body["error"] not in ("INTERNAL_ERROR", None), body
    assert "Traceback" not in err


JUNK = st.sampled_from(
    [
        "",
        " ",
        "-1",
        "0",
        "5",
        "9999",
        "1e999",
        "nan",
        "inf",
        "12.505",
        "0.00",
        "-3.00",
        "99999999999999999999",
        "EUR",
        "eur",
        "XXX",
        "ab" * 32,
        "ab" * 31,
        "zz" * 32,
        "/nonexistent/folder/file",
        ".",
        "--mtu",
        "--within",
        "--ttl",
        "--attempts",
        "--min-rssi",
        "--tag",
        "--out",
        "--valid-days",
        "--ledger",
        "http://",
        "\u00e9\u0000",
        "--currency",
        "--limit",
        "--memo",
    ]
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    command=st.sampled_from([c for c in COMMANDS if c not in LONG_RUNNING]),
    junk=st.lists(JUNK, max_size=5),
)
def test_no_bad_argument_produces_a_traceback(
    command: tuple[str, ...],
    junk: list[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = tmp_path_factory.mktemp("home") / "nobody"
    code, out, err = _run(capsys, ["--home", str(home), *command, *junk, "--json"])
    assert code in EXIT_CODES, (command, junk, out, err)
    body = _one_json_object(out)
    assert body.get("error") != "INTERNAL_ERROR", (command, junk, body)
    assert "Traceback" not in err


# Commands that would reach the radio or the network with good arguments.
ON_AIR_OR_NETWORK = {
    ("pay",),
    ("request",),
    ("resume",),
    ("register",),
    ("sync",),
    ("statement",),
    ("allowance", "request"),
    ("ledger", "deposit"),
    ("conformance",),
}
OFFLINE = [c for c in COMMANDS if c not in LONG_RUNNING | ON_AIR_OR_NETWORK]


@pytest.fixture(scope="module")
def wallet_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wallet that is also a development issuer, holding an allowance it granted itself."""
    from p2ppay.wallet import KdfParams, WalletHome, init_wallet, open_wallet
    from p2ppay.wallet.issuer import init_issuer, open_issuer

    home = WalletHome(root=tmp_path_factory.mktemp("contract") / "w")
    identity = init_wallet(home, passphrase=None, now=1_800_000_000, kdf=KdfParams.minimum())
    init_issuer(home, now=1_800_000_000)
    import time

    now = int(time.time())
    allowance = open_issuer(home).grant(identity.public_key, 50_00, "EUR", now=now)
    with open_wallet(home, passphrase=None, now=now) as wallet:
        wallet.import_allowance(allowance, now=now)
    return home.root


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(command=st.sampled_from(OFFLINE), junk=st.lists(JUNK, max_size=6))
def test_no_bad_argument_to_a_real_wallet_produces_a_traceback(
    command: tuple[str, ...],
    junk: list[str],
    capsys: pytest.CaptureFixture[str],
    wallet_home: Path,
) -> None:
    code, out, err = _run(capsys, ["--home", str(wallet_home), *command, *junk, "--json"])
    assert code in EXIT_CODES, (command, junk, out, err)
    body = _one_json_object(out)
    assert body.get("error") != "INTERNAL_ERROR", (command, junk, body)
    assert "Traceback" not in err


KEY = "ab" * 32


@pytest.mark.parametrize(
    ("argv", "code", "error"),
    [
        (["pay", "--mtu", "5"], 2, "USAGE"),
        (["pay", "--mtu", "9999"], 2, "USAGE"),
        (["request", "1.00", "EUR", "--mtu", "5"], 2, "USAGE"),
        (["request", "1.00", "EUR", "--within", "0"], 2, "USAGE"),
        (["request", "1.00", "EUR", "--attempts", "0"], 2, "USAGE"),
        (["request", "1.00", "EUR", "--ttl", "99999999"], 2, "USAGE"),
        (["request", "1.00", "EUR", "--within", "nan"], 2, "USAGE"),
        (["request", "12.505", "EUR"], 2, "MONEY_BAD_DECIMAL"),
        (
            ["issuer", "grant", KEY, "5.00", "EUR", "--out", "/nonexistent/x.allowance"],
            3,
            "FILE_UNWRITABLE",
        ),
        (["allowance", "import", "/nonexistent/x.allowance"], 3, "FILE_UNREADABLE"),
        (["allowance", "import", "a\x00b"], 3, "FILE_UNREADABLE"),  # found by Hypothesis
        (["inspect", "a\x00b"], 3, "FILE_UNREADABLE"),
        (["export", "abcd", "--out", "/nonexistent/x.bundle"], 3, "STORE_NOT_FOUND"),
    ],
)
def test_the_inputs_people_got_tracebacks_from_are_typed_errors(
    argv: list[str],
    code: int,
    error: str,
    capsys: pytest.CaptureFixture[str],
    wallet_home: Path,
) -> None:
    got, out, err = _run(capsys, ["--home", str(wallet_home), *argv, "--json"])
    assert (got, _one_json_object(out)["error"]) == (code, error), err
