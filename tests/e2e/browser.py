"""What the browser tests share: Debian's Chromium, screenshots, a trader who registers, and
the harness's Kafka calls made off Playwright's event loop."""
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.integration.harness import ROOT, SECRETS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("PINEWIRE_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "e2e"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def off_loop(fn, *args, **kwargs):
    """The harness's Kafka calls use asyncio.run, which cannot run inside Playwright's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def ticks(site, symbol: str, prices: list[str]) -> None:
    off_loop(site.ticks, symbol, prices)


def shot(page, name: str) -> None:
    """A screenshot for the record (no test reads it): Chromium's capture now and then fails
    with a protocol error under load; it is tried again, and a second failure is written down
    in place of the picture rather than failing the test."""
    from playwright.sync_api import Error
    path = ARTIFACTS / f"{name}.png"
    for attempt in range(2):
        try:
            page.screenshot(path=str(path), full_page=True)
            return
        except Error as exc:
            failed = exc
    path.with_suffix(".png.txt").write_text(f"no screenshot: {failed}\n")


def visitor(browser, base_url: str):
    """A new browser context (its own cookies) and a page in it."""
    context = browser.new_context(base_url=base_url, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    return context.new_page()


def register(browser, site, username: str):
    page = visitor(browser, site.settings.base_url)
    page.goto("/register")
    shot(page, "register")
    page.fill("input[name=username]", username)
    page.fill("input[name=first_name]", username.title())
    page.fill("input[name=password]", f"{username}-password")
    page.fill("input[name=password2]", f"{username}-password")
    page.click("#register")
    page.wait_for_url("**/live?**")
    SECRETS.add(f"{username}-password")
    SECRETS.update(c["value"] for c in page.context.cookies())   # the session, for the audit
    return page
