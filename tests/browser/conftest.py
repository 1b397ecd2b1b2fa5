"""Headless Chromium (Debian's chromium + chromium-driver) driven by Selenium; screenshots on failure."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from testkit.components import unavailable
from testkit.tree import ROOT

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def browser(request):
    binary = os.environ.get("CHROMIUM_BINARY") or shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
    missing = [path for path in (binary, driver_path) if not Path(path).exists()]
    if missing:
        unavailable("REQUIRE_BROWSER", f"Chromium or its driver is missing: {', '.join(missing)} "
                                       "(apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            path = SCREENSHOTS / f"{request.node.name}.png"
            driver.save_screenshot(str(path))
            print(f"screenshot: {path}")
        driver.quit()
