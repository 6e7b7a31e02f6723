"""Browser tier: the real ComfyUI frontend in headless Debian Chromium, driven by Playwright.

One ComfyUI server (stand-in models, Forgeline in custom_nodes) and one browser page per session. Chromium comes
from ``scripts/setup_browser.sh`` (apt), never from ``playwright install``. Screenshots go to tests/artifacts/.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from comfy_server import ComfyServer  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser_server(tmp_path_factory):
    yield from ComfyServer.for_tests(tmp_path_factory.mktemp("browser_base"), ("sd15",))


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        subprocess.run(["bash", str(ROOT / "scripts" / "setup_browser.sh")], check=True)
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium_profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                        headless=True, viewport={"width": 1600, "height": 1000})
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


class EditorPage:
    """The editor page, with the console errors it logged (``errors``) since ``mark()``."""

    def __init__(self, page, url):
        self.page, self.url = page, url
        self.console = []
        page.on("console", lambda msg: self.console.append((msg.type, msg.text)))
        page.on("pageerror", lambda exc: self.console.append(("pageerror", str(exc))))

    def mark(self):
        self._start = len(self.console)

    def errors(self):
        return [text for kind, text in self.console[getattr(self, "_start", 0):] if kind in ("error", "pageerror")]

    def js(self, code, arg=None):
        return self.page.evaluate(code, arg)

    def screenshot(self, name):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture(scope="session")
def editor(browser, browser_server):
    import requests

    # First-run template dialog off, so the canvas is visible (a per-user setting of this throwaway server).
    requests.post(f"{browser_server.url}/settings/Comfy.TutorialCompleted", json=True, timeout=30)
    page = browser.pages[0] if browser.pages else browser.new_page()
    ed = EditorPage(page, browser_server.url)
    page.goto(browser_server.url, wait_until="domcontentloaded", timeout=180_000)
    page.wait_for_function("() => window.app && window.app.graph && window.LiteGraph && "
                           "window.app.extensionManager !== undefined", timeout=180_000)
    page.wait_for_timeout(2000)
    return ed
