"""One pipeline and one Chromium for every browser test of the package."""
from pathlib import Path

import pytest

from connectors import credentials
from tests.e2e.browser import ARTIFACTS, CHROMIUM, FLAGS
from tests.integration.harness import Pipeline


@pytest.fixture(scope="package")
def site(kafka_url, smartapi_sim, kite_sim, fake_telegram, tmp_path_factory):
    with Pipeline(tmp_path_factory.mktemp("e2e"), kafka_url,
                  PINEWIRE_SECRET_KEY=credentials.new_key(), PINEWIRE_PAPER_FILL_TIMEOUT_S="10",
                  PINEWIRE_TELEGRAM_API=fake_telegram.url,
                  PINEWIRE_REGISTRATION="open",           # the traders register themselves
                  **smartapi_sim.env(), **kite_sim.env()).running() as p:
        yield p


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium not found: `make test` installs Debian's chromium package")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()
