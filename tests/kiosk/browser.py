"""Debian's Chromium, headless, driven by Playwright for Python (no browser download).

Missing Chromium or Playwright fails the test with the command that installs it, like the
BlueZ and PostgreSQL tests: a browser test is never silently skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = (
    "apt-get install -y --no-install-recommends chromium   (or: bash scripts/setup.sh --system)"
)
VIEWPORT = {"width": 1024, "height": 600}
"""A typical 7-10 inch kiosk panel."""

SCREENS_SEEN = """
() => {
  window.__screens = [document.querySelector("main").dataset.screen];
  new MutationObserver(() => {
    const screen = document.querySelector("main").dataset.screen;
    if (window.__screens[window.__screens.length - 1] !== screen) window.__screens.push(screen);
  }).observe(document.querySelector("main"), {attributes: true});
}
"""
"""Records, in the page itself, every screen the display shows (read with __screens)."""


@asynccontextmanager
async def chromium(*args: str) -> AsyncIterator[Browser]:
    """Headless Chromium (the system one), with extra command-line ``args``; fails loudly
    when it is not installed."""
    if not CHROMIUM.exists():  # noqa: ASYNC240 (once, before the browser starts)
        pytest.fail(f"{CHROMIUM} is missing; the browser tests need it: {INSTALL}")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail("Playwright is missing: bash scripts/setup.sh")
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", *args], headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def screen_of(page: Page) -> str:
    """The display's current screen name."""
    return str(await page.locator("main").get_attribute("data-screen"))


async def wait_screen(page: Page, screen: str, timeout_s: float = 20) -> None:
    """Wait until the display shows ``screen``."""
    await page.wait_for_selector(f'main[data-screen="{screen}"]', timeout=timeout_s * 1000)


_COLOURS = """
() => {
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const colour = getComputedStyle(el).backgroundColor;
      if (colour !== "transparent" && !colour.startsWith("rgba(0, 0, 0, 0")) return colour;
    }
    return "rgb(255, 255, 255)";
  };
  return ["#title", "#status", "#memo", "#instruction", "#reason", "#sas"]
    .map((sel) => document.querySelector(sel))
    .filter((el) => el && el.offsetParent !== null && el.textContent.trim())
    .map((el) => {
      const style = getComputedStyle(el);
      return [el.id, style.color, background(el), parseFloat(style.fontSize)];
    });
}
"""


def _luminance(rgb: str) -> float:
    channels = [int(part) / 255 for part in rgb[rgb.index("(") + 1 : -1].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


async def worst_contrast(page: Page) -> tuple[float, float]:
    """The lowest WCAG contrast ratio of the visible text on the display, and the smallest
    text size (CSS px) among it, as the browser renders them."""
    ratios, sizes = [], []
    for _, colour, background, size in await page.evaluate(_COLOURS):
        fg, bg = _luminance(colour), _luminance(background)
        ratios.append((max(fg, bg) + 0.05) / (min(fg, bg) + 0.05))
        sizes.append(size)
    return min(ratios), min(sizes)
