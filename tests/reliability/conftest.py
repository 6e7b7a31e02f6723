"""Reliability tier: one real ComfyUI server per test module, with hostile LoRA files in its loras folder.

Like ``tests/e2e/conftest.py`` (``main.py --cpu`` on a free loopback port, isolated ``--base-directory`` whose models
link to the generated stand-ins), plus the files of ``bad_files.write_bad_loras`` written into ``models/loras``
before the server starts. Tests drive it only over HTTP and the websocket. Only the SD1.5 stand-in is linked
(``FORGELINE_TEST_MODELS`` is not consulted): every case here targets SD1.5 graphs.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from comfy_client import ComfyClient  # noqa: E402
from comfy_server import ComfyServer, ensure_fixture_models, prepare_base  # noqa: E402

from forgeline.tests.reliability.bad_files import write_bad_loras  # noqa: E402


@pytest.fixture(scope="module")
def reliability_server(tmp_path_factory):
    ensure_fixture_models(("sd15",))
    base = prepare_base(tmp_path_factory.mktemp("reliability_base"))
    bad = write_bad_loras(base / "models" / "loras", base / "canary")
    server = ComfyServer(base).start(timeout=900)  # start-up is slow on a loaded 2-core CPU
    server.bad_loras = bad
    server.canary = base / "canary"
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def rclient(reliability_server):
    return ComfyClient(reliability_server.url, timeout=900)
