"""Debian's chromium driven by Selenium through Debian's chromedriver, both by path: nothing is
downloaded (no selenium-manager). Absent: the browser tests are skipped LOUDLY, or fail when
BACKOFFICE_REQUIRE_CHROMIUM=1 (.ci/run sets it)."""
from __future__ import annotations

import shutil
from pathlib import Path

from infra.settings import load_settings
from tests.lanes import missing

ROOT = Path(__file__).resolve().parents[2]
SCREENS = ROOT / "test-artifacts" / "console"


def chromium_paths() -> tuple[str, str]:
    browser = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).exists()), None)
    driver = next((p for p in ("/usr/bin/chromedriver", shutil.which("chromedriver") or "") if p and Path(p).exists()),
                  None)
    if browser and driver:
        return browser, driver
    reason = ("chromium / chromedriver not found (apt-get install chromium chromium-driver): the console's "
              "browser tests DID NOT RUN")
    missing(reason, load_settings().require_chromium, "BACKOFFICE_REQUIRE_CHROMIUM")


def start_chrome(browser: str, driver: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000", "--no-first-run", "--disable-extensions", "--lang=en-US"):
        options.add_argument(arg)
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    chrome.set_page_load_timeout(120)
    return chrome


class Screens:
    """Saves a PNG of each screen under test-artifacts/console/ (printed once)."""

    def __init__(self, chrome) -> None:
        self.chrome, self.count = chrome, 0
        SCREENS.mkdir(parents=True, exist_ok=True)
        print(f"\nconsole screenshots: {SCREENS}")

    def shot(self, name: str) -> Path:
        self.count += 1
        path = SCREENS / f"{self.count:02d}-{name}.png"
        height = self.chrome.execute_script("return document.documentElement.scrollHeight")
        self.chrome.set_window_size(1280, max(700, min(int(height) + 40, 2400)))
        self.chrome.save_screenshot(str(path))
        return path
