"""Debian's headless Chromium through Selenium, for the tests that look at pages."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def start_chromium():
    """A headless Chromium; skips (fails under CI=true) when chromium or its driver is missing."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        reason = f"{CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI must prove the web page in a real browser)")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--window-size=1280,1000"):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    return driver


def screenshot_folder(fallback: Path) -> Path:
    """$NEWSWATCH_SCREENSHOTS (the README's come from docs/screenshots), else ``fallback``."""
    folder = Path(os.environ.get("NEWSWATCH_SCREENSHOTS") or fallback)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots in {folder.resolve()}")
    return folder
