"""End-to-end tier: one real ComfyUI server per test session, booted with Forgeline in custom_nodes.

The server runs ``main.py --cpu`` on a free loopback port with an isolated ``--base-directory`` whose models are
links to the generated stand-in fixtures. Tests talk to it only over HTTP and the websocket (scripts/comfy_api.py).
"""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from comfy_client import ComfyClient  # noqa: E402
from comfy_server import ComfyServer  # noqa: E402

FAMILIES = tuple(os.environ.get("FORGELINE_TEST_MODELS", "sd15,sdxl").split(","))


@pytest.fixture(scope="session")
def comfy_server(tmp_path_factory):
    yield from ComfyServer.for_tests(tmp_path_factory.mktemp("comfy_base"), FAMILIES)


@pytest.fixture(scope="session")
def client(comfy_server):
    return ComfyClient(comfy_server.url, timeout=900)
