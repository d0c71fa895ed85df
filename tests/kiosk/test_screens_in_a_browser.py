"""The customer display and the operator page in a real browser (issue 14).

Debian's headless Chromium, driven by Playwright, opens the pages a kiosk-mode browser
would open, on a real kiosk (TCP API with its token) and a real payer on the virtual
radio. The display is watched from inside the page (every screen it shows is recorded by a
MutationObserver), the SAS is read off the page and compared with the one the payer's
prompt showed, and a screenshot of each state lands in the test's output folder.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest

from gatt.bumble_backend import loop_radio
from p2ppay.roles import Decision
from tests.controllers import free_port
from tests.kiosk import browser as browser_kit
from tests.kiosk.browser import (
    SCREENS_SEEN,
    VIEWPORT,
    chromium,
    screen_of,
    wait_screen,
    worst_contrast,
)
from tests.kiosk.kit import (
    TOKEN,
    HeldApproval,
    customers,
    kiosk_config,
    make_shop,
    running_kiosk,
    tcp_client,
    wait_final,
)

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def _readable(page: Page) -> None:
    """Every visible text at WCAG AAA contrast (7:1) and at least 24 px at 1024x600."""
    ratio, smallest = await worst_contrast(page)
    assert ratio >= 7, f"contrast {ratio:.1f}:1 on the {await screen_of(page)} screen"
    assert smallest >= 24, f"{smallest} px text on the {await screen_of(page)} screen"


async def test_the_display_shows_amount_sas_and_paid_and_the_operator_page_lists_it(
    tmp_path: Path,
) -> None:
    shop = make_shop(tmp_path / "shop", payers=1)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    port = free_port()
    config = kiosk_config(
        shop,
        tmp_path / "unused",
        api={"listen": f"127.0.0.1:{port}"},
        radio={"scan_timeout": 30, "min_rssi": -90},
    )
    approval = HeldApproval()
    with shop.open_kiosk_wallet() as wallet:
        async with (
            running_kiosk(config, wallet, token=TOKEN),
            tcp_client(port) as pos,
            chromium() as browser,
        ):
            page = await browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
            fetched: list[str] = []
            page.on("request", lambda request: fetched.append(request.url))
            async with page.expect_request("**/display/events"):
                await page.goto(f"http://127.0.0.1:{port}/display")
            # No network but the kiosk: every asset it needs is served by the kiosk itself.
            origin = f"http://127.0.0.1:{port}/"
            assert fetched and all(url.startswith(origin) for url in fetched), fetched
            assert {url[len(origin) :] for url in fetched} >= {
                "display",
                "static/display.css",
                "static/display.js",
                "display/events",
            }
            await page.evaluate(SCREENS_SEEN)
            assert await page.locator("html").get_attribute("lang") == "en"
            assert await screen_of(page) == "idle"
            await page.screenshot(path=shots / "1-idle.png")
            await _readable(page)

            # The point of sale asks before the customer's phone is out: the amount shows.
            created = await pos.post("/invoices", json={"amount": "3.50", "memo": "Espresso"})
            request_id = created.json()["id"]
            await wait_screen(page, "amount")
            assert "3.50 EUR" in await page.locator("#title").inner_text()
            assert await page.locator("#memo").inner_text() == "Espresso"
            await page.wait_for_selector("#status:text('Looking for your phone')")
            await page.screenshot(path=shots / "2-amount.png")
            await _readable(page)

            async with customers(shop, loop_radio(), [-40], approver=approval) as people:
                with anyio.fail_after(20):
                    await approval.asked.wait()
                # The payer's prompt is up: the display shows the SAS meanwhile.
                await page.wait_for_selector("#sas-box:not([hidden])", timeout=10_000)
                shown = (await page.locator("#sas").inner_text()).strip()
                assert shown == approval.sas
                assert await screen_of(page) == "verifying"
                await page.screenshot(path=shots / "3-sas.png")
                await _readable(page)
                approval.decide(Decision(approve=True))
                final = (await wait_final(pos, request_id))["final"]
                assert final["state"] == "completed" and final["sas"] == shown
                await wait_screen(page, "paid")
                assert "Paid 3.50 EUR" in await page.locator("#title").inner_text()
                await page.screenshot(path=shots / "4-paid.png")
                await _readable(page)
                payer_tag = final["payer_tag"]
                assert payer_tag in people[0].tags

            seen = await page.evaluate("window.__screens")
            wanted = ["idle", "amount", "verifying", "paid"]
            assert [s for s in seen if s in wanted] == wanted, seen
            # Back to idle after the hold, with no page reload.
            await wait_screen(page, "idle", timeout_s=15)
            await page.screenshot(path=shots / "5-idle-again.png")

            # The operator page: its login form, the token, then the payment in the list.
            operator = await browser.new_page(viewport={"width": 1280, "height": 900})
            first = await operator.goto(f"http://127.0.0.1:{port}/")
            assert first is not None and first.status == 401
            await operator.fill("#token", TOKEN)
            async with operator.expect_navigation():
                await operator.click("button[type=submit]")
            row = operator.locator("#payments tbody tr").first
            text = await row.inner_text()
            assert "3.50 EUR" in text and "Espresso" in text and "completed" in text
            assert payer_tag in text
            assert "3.50" in await operator.locator("#totals").inner_text()
            assert await operator.locator("#status").get_attribute("data-ok") == "true"
            await operator.screenshot(path=shots / "6-operator.png", full_page=True)
    for name in ("1-idle", "2-amount", "3-sas", "4-paid", "5-idle-again", "6-operator"):
        assert (shots / f"{name}.png").stat().st_size > 1000


async def test_a_failed_payment_shows_its_reason_and_the_display_recovers_after_a_restart(
    tmp_path: Path,
) -> None:
    shop = make_shop(tmp_path / "shop", payers=0)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    port = free_port()
    config = kiosk_config(
        shop, tmp_path / "unused", api={"listen": f"127.0.0.1:{port}"}, radio={"scan_timeout": 1}
    )
    with shop.open_kiosk_wallet() as wallet:
        async with chromium() as browser:
            page = await browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
            async with running_kiosk(config, wallet, token=TOKEN), tcp_client(port) as pos:
                await page.goto(f"http://127.0.0.1:{port}/display")
                await page.evaluate(SCREENS_SEEN)
                created = await pos.post("/invoices", json={"amount": "1.20", "memo": "Ticket"})
                final = (await wait_final(pos, created.json()["id"]))["final"]
                assert final["error"] == "NO_PAYER_FOUND"
                await wait_screen(page, "failed")
                assert "failed" in (await page.locator("#title").inner_text()).lower()
                reason = await page.locator("#reason").inner_text()
                assert reason.startswith("No phone was found")
                assert "No money was taken" in await page.locator("#instruction").inner_text()
                await page.screenshot(path=shots / "1-failed.png")
                await _readable(page)
            # The kiosk is gone (stopped, as a restart would): the display says so.
            await wait_screen(page, "offline", timeout_s=15)
            assert not await page.locator("#connection").is_hidden()
            await page.screenshot(path=shots / "2-offline.png")
            with contextlib.suppress(httpx.TransportError):
                async with httpx.AsyncClient() as probe:
                    await probe.get(f"http://127.0.0.1:{port}/display/state", timeout=1)
                    pytest.fail("the kiosk still answers after it stopped")
            async with running_kiosk(config, wallet, token=TOKEN):
                await wait_screen(page, "idle", timeout_s=20)
                assert await page.locator("#connection").is_hidden()
                await page.screenshot(path=shots / "3-recovered.png")
                seen = await page.evaluate("window.__screens")
    assert seen == ["idle", "amount", "failed", "offline", "idle"], seen


async def test_without_chromium_the_browser_tests_fail_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(browser_kit, "CHROMIUM", tmp_path / "no-chromium")
    with pytest.raises(pytest.fail.Exception) as caught:
        async with chromium():
            pass
    assert "apt-get install -y --no-install-recommends chromium" in str(caught.value)
