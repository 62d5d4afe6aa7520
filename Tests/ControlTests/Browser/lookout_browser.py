"""Headless Chromium for Lookout's browser tests, screenshots and dashboard bench.

Debian's chromium and chromium-driver (scripts/setup installs them) driven by selenium from the
project's virtualenv (.local/venv). Nothing is downloaded: the browser and driver are given by
path, and the browser's own background traffic (updates, safe browsing, sync) is switched off so
that it talks to loopback only.
"""
import os
import shutil

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM_CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
DRIVER_CANDIDATES = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]


def find(candidates, name):
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found:
        return found
    raise SystemExit(f"{name} not found (looked in {candidates}): run scripts/setup")


def make_driver(width=1280, height=900, color_scheme=None):
    """A headless Chromium window of `width` x `height` CSS pixels that keeps the console log."""
    options = webdriver.ChromeOptions()
    options.binary_location = find(CHROMIUM_CANDIDATES, "chromium")
    for argument in [
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
        "--hide-scrollbars",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-client-side-phishing-detection",
        "--disable-domain-reliability",
        "--disable-sync",
        "--metrics-recording-only",
        "--no-pings",
        "--password-store=basic",
        "--lang=en-US",
    ]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=find(DRIVER_CANDIDATES, "chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    if color_scheme:
        driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": color_scheme}]},
        )
    return driver


def console_errors(driver):
    """The console's SEVERE entries since the last call."""
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
