"""A web page in the kiosk's own browser attacks the point-of-sale API (issue 11, item 4).

Any page a local browser opens can send requests to loopback: "simple" cross-site POSTs
(``text/plain`` or form bodies, no preflight), requests through a rebound DNS name (its own
``Host``), with the browser's ``Origin`` and ``Sec-Fetch-Site`` headers. Each attack below
is sent to a real kiosk on a loopback TCP port exactly as the browser would send it, and
must end in its own refusal code with nothing created and nothing cancelled: the invoice
the point of sale created before keeps scanning for its customer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from p2ppay.errors import AppError, AppErrorCode
from p2ppay.kiosk.config import ApiConfig, parse_config
from p2ppay.kiosk.guard import COOKIE, resolve_token
from p2ppay.kiosk.service import Kiosk
from p2ppay.wallet import Wallet
from tests.controllers import free_port
from tests.kiosk.browser import chromium
from tests.kiosk.kit import (
    TOKEN,
    kiosk_config,
    make_shop,
    pos_client,
    running_kiosk,
    short_socket_dir,
    tcp_client,
)

pytestmark = pytest.mark.anyio

BODY = '{"amount": "9.99", "memo": "planted"}'


def _invoices(wallet: Wallet) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{wallet.store.path}?mode=ro", uri=True)) as conn:
        count: int = conn.execute("SELECT count(*) FROM invoices").fetchone()[0]
    return count


@contextlib.asynccontextmanager
async def _tcp_kiosk(tmp_path: Path) -> AsyncIterator[tuple[Kiosk, Wallet, int]]:
    shop = make_shop(tmp_path, payers=0)
    port = free_port()
    config = kiosk_config(
        shop, tmp_path / "unused", api={"listen": f"127.0.0.1:{port}"}, radio={"scan_timeout": 30}
    )
    with shop.open_kiosk_wallet() as wallet:
        async with running_kiosk(config, wallet, token=TOKEN) as kiosk:
            yield kiosk, wallet, port


JSON = {"Content-Type": "application/json"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# (what the page sends on top of a well-formed POS request, the refusal it gets)
ATTACKS = {
    "no token (a page cannot know it)": ({**JSON}, None, 401, "KIOSK_UNAUTHORIZED"),
    "a wrong token": (
        {**JSON, "Authorization": "Bearer guessed-guessed-guessed"},
        None,
        401,
        "KIOSK_UNAUTHORIZED",
    ),
    "a text/plain simple request": (
        {**AUTH, "Content-Type": "text/plain;charset=UTF-8"},
        None,
        415,
        "KIOSK_NOT_JSON",
    ),
    "a form post": (
        {**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
        None,
        415,
        "KIOSK_NOT_JSON",
    ),
    "a cross-site Origin": (
        {**AUTH, **JSON, "Origin": "https://evil.example"},
        None,
        403,
        "KIOSK_CROSS_SITE",
    ),
    "a null Origin (sandboxed frame)": (
        {**AUTH, **JSON, "Origin": "null"},
        None,
        403,
        "KIOSK_CROSS_SITE",
    ),
    "Sec-Fetch-Site cross-site": (
        {**AUTH, **JSON, "Sec-Fetch-Site": "cross-site"},
        None,
        403,
        "KIOSK_CROSS_SITE",
    ),
    "Sec-Fetch-Site same-site": (
        {**AUTH, **JSON, "Sec-Fetch-Site": "same-site"},
        None,
        403,
        "KIOSK_CROSS_SITE",
    ),
    "a rebound DNS name in Host": (
        {**AUTH, **JSON},
        "rebind.evil.example:{port}",
        403,
        "KIOSK_BAD_HOST",
    ),
    "localhost instead of the configured 127.0.0.1": (
        {**AUTH, **JSON},
        "localhost:{port}",
        403,
        "KIOSK_BAD_HOST",
    ),
}


async def test_the_point_of_sale_with_its_token_is_served(tmp_path: Path) -> None:
    async with _tcp_kiosk(tmp_path) as (_, wallet, port), tcp_client(port) as pos:
        created = await pos.post("/invoices", json={"amount": "1.00"})
        same_origin = await pos.get(
            f"/invoices/{created.json()['id']}",
            headers={"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"},
        )
        assert created.status_code == 201 and same_origin.status_code == 200
        await pos.post(f"/invoices/{created.json()['id']}/cancel")
        assert _invoices(wallet) == 1


async def test_on_a_unix_socket_a_cross_site_origin_is_refused_too(tmp_path: Path) -> None:
    shop = make_shop(tmp_path, payers=0)
    socket = short_socket_dir() / "api.sock"
    with shop.open_kiosk_wallet() as wallet:
        async with running_kiosk(kiosk_config(shop, socket), wallet), pos_client(socket) as pos:
            refused = await pos.post(
                "/invoices", content=BODY, headers={**JSON, "Origin": "https://evil.example"}
            )
            plain = await pos.post(
                "/invoices", content=BODY, headers={"Content-Type": "text/plain"}
            )
            assert (refused.status_code, refused.json()["error"]) == (403, "KIOSK_CROSS_SITE")
            assert (plain.status_code, plain.json()["error"]) == (415, "KIOSK_NOT_JSON")
            assert _invoices(wallet) == 0


async def test_the_operator_page_needs_the_token_and_its_cookie_never_opens_the_api(
    tmp_path: Path,
) -> None:
    async with _tcp_kiosk(tmp_path) as (_, wallet, port):
        async with tcp_client(port, token=None) as browser:
            login_form = await browser.get("/")
            assert login_form.status_code == 401 and 'id="login"' in login_form.text
            wrong = await browser.post("/login", json={"token": "not-the-token-at-all"})
            assert (wrong.status_code, wrong.json()["error"]) == (401, "KIOSK_UNAUTHORIZED")
            assert COOKIE not in browser.cookies
            right = await browser.post("/login", json={"token": TOKEN})
            assert (
                right.status_code == 204
                and "samesite=strict" in right.headers["set-cookie"].lower()
            )
            page = await browser.get("/")
            assert page.status_code == 200 and "Last payments" in page.text
            # The cookie is the page's, not a key to the API.
            api = await browser.post("/invoices", json={"amount": "1.00"})
            assert (api.status_code, api.json()["error"]) == (401, "KIOSK_UNAUTHORIZED")
            display = await browser.get("/display")
            assert display.status_code == 200
        assert _invoices(wallet) == 0


async def test_the_display_is_public_but_not_to_another_site(tmp_path: Path) -> None:
    async with (
        _tcp_kiosk(tmp_path) as (_, _wallet, port),
        tcp_client(port, token=None) as browser,
    ):
        assert (await browser.get("/display")).status_code == 200
        assert (await browser.get("/static/display.js")).status_code == 200
        framed = await browser.get("/display/state", headers={"Sec-Fetch-Site": "cross-site"})
        assert (framed.status_code, framed.json()["error"]) == (403, "KIOSK_CROSS_SITE")
        rebound = await browser.get("/display/state", headers={"Host": f"evil.example:{port}"})
        assert (rebound.status_code, rebound.json()["error"]) == (403, "KIOSK_BAD_HOST")


async def test_the_socket_is_born_private_and_never_chmoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_chmod(*args: object, **kwargs: object) -> None:
        raise AssertionError("the socket was chmod-ed after bind")

    monkeypatch.setattr(os, "chmod", no_chmod)
    shop = make_shop(tmp_path, payers=0)
    socket = short_socket_dir() / "api.sock"
    umask = os.umask(0)  # the most permissive umask a service could inherit
    try:
        with shop.open_kiosk_wallet() as wallet:
            async with running_kiosk(kiosk_config(shop, socket), wallet):
                mode = socket.stat().st_mode & 0o777
    finally:
        os.umask(umask)
    assert mode == 0o660


def _api(listen: str, **extra: object) -> ApiConfig:
    minimal = {"wallet": {"home": "/srv/k"}, "payments": {"currency": "EUR"}}
    return parse_config({**minimal, "api": {"listen": listen, **extra}}).api


def test_a_tcp_listener_without_a_token_does_not_start() -> None:
    api = _api("127.0.0.1:8421")
    with pytest.raises(AppError) as caught:
        resolve_token(api, {})
    assert caught.value.code is AppErrorCode.KIOSK_CONFIG_INVALID
    assert "P2PPAY_KIOSK_TOKEN" in caught.value.message
    assert resolve_token(api, {"P2PPAY_KIOSK_TOKEN": TOKEN}) == TOKEN
    with pytest.raises(AppError):
        resolve_token(api, {"P2PPAY_KIOSK_TOKEN": "short"})


def test_the_token_file_must_not_be_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n", encoding="utf-8")
    path.chmod(0o644)
    api = _api("127.0.0.1:8421", token_file=str(path))
    with pytest.raises(AppError) as caught:
        resolve_token(api, {})
    assert "chmod 600" in caught.value.message
    path.chmod(0o600)
    assert resolve_token(api, {"P2PPAY_KIOSK_TOKEN": "ignored-when-a-file-is-set"}) == TOKEN
    assert resolve_token(_api("unix:/run/k.sock"), {}) is None


EVIL_PAGE = """<!doctype html><html lang="en"><body>
<iframe name="sink"></iframe>
<form id="cancel" method="post" enctype="text/plain" target="sink"></form>
<script>
async function attack(kiosk, id) {
  const tries = [
    fetch(kiosk + "/invoices", {method: "POST", mode: "no-cors",
      headers: {"Content-Type": "text/plain"}, body: '{"amount": "9.99", "memo": "planted"}'}),
    fetch(kiosk + "/invoices/" + id + "/cancel", {method: "POST", mode: "no-cors"}),
    fetch(kiosk + "/invoices", {method: "POST", mode: "no-cors",
      headers: {"Authorization": "Bearer stolen"}, body: "{}"}),
  ];
  await Promise.allSettled(tries);
  const form = document.getElementById("cancel");
  form.action = kiosk + "/invoices/" + id + "/cancel";
  const loaded = new Promise((done) => document.querySelector("iframe").onload = done);
  form.submit();
  await loaded;
  return "done";
}
</script></body></html>"""


@pytest.mark.slow
async def test_a_page_open_in_the_kiosks_browser_creates_and_cancels_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        _tcp_kiosk(tmp_path) as (kiosk, wallet, port),
        tcp_client(port) as pos,
        chromium(
            "--host-resolver-rules=MAP rebind.test 127.0.0.1",
            # Recent Chromium blocks public pages from reaching loopback by itself (Local
            # Network Access); turned off here so that the kiosk's own guard is what is
            # tested, as with an older browser or a page served from the box itself.
            "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,"
            "PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults",
        ) as browser,
    ):
        mine = (await pos.post("/invoices", json={"amount": "1.00"})).json()["id"]
        page = await browser.new_page()
        # The attacker's site, as the browser sees it (served by the test, not the network).
        await page.route(
            "http://evil.test/**",
            lambda route: route.fulfill(body=EVIL_PAGE, content_type="text/html"),
        )
        await page.goto("http://evil.test/")
        with caplog.at_level(logging.INFO, logger="p2ppay.kiosk.guard"):
            done = await page.evaluate(
                "([kiosk, id]) => attack(kiosk, id)", [f"http://127.0.0.1:{port}", mine]
            )
            # DNS rebinding: the kiosk's own port under the attacker's name.
            rebound = await page.goto(f"http://rebind.test:{port}/display/state")
            assert rebound is not None and rebound.status == 403
            assert (await rebound.json())["error"] == "KIOSK_BAD_HOST"
            same_name = await page.evaluate(
                """async () => (await fetch("/invoices", {method: "POST",
                     headers: {"Content-Type": "application/json"},
                     body: '{"amount": "9.99"}'})).status"""
            )
            assert same_name == 403
        assert done == "done"
        refused = [
            (r.__dict__["error"], r.__dict__["path"])
            for r in caplog.records
            if r.getMessage() == "request refused"
        ]
        assert ("KIOSK_CROSS_SITE", "/invoices") in refused
        assert ("KIOSK_CROSS_SITE", f"/invoices/{mine}/cancel") in refused
        assert ("KIOSK_BAD_HOST", "/invoices") in refused
        assert _invoices(wallet) == 1 and kiosk.metrics.requests == 1
        still = (await pos.get(f"/invoices/{mine}")).json()
        assert still["state"] in {"queued", "scanning"}
        await pos.post(f"/invoices/{mine}/cancel")
