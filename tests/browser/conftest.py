"""Browser tier: the real ComfyUI frontend in headless Debian Chromium, driven by Playwright.

One ComfyUI server (stand-in models, Forgeline in custom_nodes) per session, and one editor page per rendering mode:
the classic canvas and Nodes 2.0 (Vue-rendered nodes, setting ``Comfy.VueNodes.Enabled``), so every editor test
runs in both. The host decides the frontend (0.3.75 pins 1.32.9, 0.33.0 pins 1.49.6). Waits are on conditions in
the page, never fixed sleeps. Chromium comes from ``scripts/setup_browser.sh`` (apt), never from ``playwright
install``. Screenshots go to tests/artifacts/.
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

    def __init__(self, page, url, mode):
        self.page, self.url, self.mode = page, url, mode
        self.console = []
        page.on("console", lambda msg: self.console.append((msg.type, msg.text)))
        page.on("pageerror", lambda exc: self.console.append(("pageerror", str(exc))))

    def mark(self):
        self._start = len(self.console)

    def errors(self):
        return [text for kind, text in self.console[getattr(self, "_start", 0):] if kind in ("error", "pageerror")]

    def js(self, code, arg=None):
        return self.page.evaluate(code, arg)

    def settle(self, frames=3):
        """Wait until the canvas view and the node elements stop moving for ``frames`` animation frames (after a
        load or a fit-view), and every Forgeline panel has its first result."""
        self.page.wait_for_function(SETTLED_JS, arg=frames, timeout=120_000, polling="raf")

    def screenshot(self, name):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}-{self.mode}.png"
        self.page.screenshot(path=str(path))
        return path


# True once the view, the node boxes and the pack's panels have been unchanged for `frames` consecutive calls (the
# page calls it once per animation frame), so a condition, not a sleep, ends a load.
SETTLED_JS = """(frames) => {
    const app = window.app, c = app?.canvas;
    if (!app?.graph || !c) return false;
    const boxes = [...document.querySelectorAll('[data-node-id]')].map(e => [e.offsetWidth, e.offsetHeight]);
    const vue = app.extensionManager?.setting?.get?.('Comfy.VueNodes.Enabled') === true;
    if (vue && boxes.length < app.graph.nodes.length) return false;
    const pending = [...document.querySelectorAll('.forgeline-curve')].some(e => e.dataset.points === undefined)
        || [...document.querySelectorAll('.forgeline-lint')].some(e => e.dataset.errors === undefined && e.isConnected
            && !e.textContent);
    const key = JSON.stringify([c.ds.scale, c.ds.offset, app.graph.nodes.map(n => [n.pos, n.size]), boxes, pending]);
    const w = window.__flSettle ?? (window.__flSettle = {key: null, same: 0});
    w.same = key === w.key && !pending ? w.same + 1 : 0;
    w.key = key;
    if (w.same >= frames) { window.__flSettle = null; return true; }
    return false;
}"""

MODES = {"classic": False, "nodes2": True}


@pytest.fixture(scope="session", params=list(MODES))
def editor(request, browser, browser_server):
    import requests

    mode = request.param
    # First-run template dialog off, so the canvas is visible; Nodes 2.0 on or off (per-user settings of this
    # throwaway server, read by the frontend when the page loads).
    requests.post(f"{browser_server.url}/settings/Comfy.TutorialCompleted", json=True, timeout=30)
    requests.post(f"{browser_server.url}/settings/Comfy.VueNodes.Enabled", json=MODES[mode], timeout=30)
    page = browser.new_page()
    ed = EditorPage(page, browser_server.url, mode)
    page.goto(browser_server.url, wait_until="domcontentloaded", timeout=180_000)
    page.wait_for_function("() => window.app && window.app.graph && window.LiteGraph && "
                           "window.app.extensionManager !== undefined && "
                           "'ForgelineKSampler' in LiteGraph.registered_node_types", timeout=180_000)
    page.wait_for_function("(v) => window.app.extensionManager.setting?.get?.('Comfy.VueNodes.Enabled') === v",
                           arg=MODES[mode], timeout=60_000)
    ed.settle()
    try:
        yield ed
    finally:
        page.close()
