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


def host_version() -> str:
    """``__version__`` of the ComfyUI under test (its ``comfyui_version.py``)."""
    from comfy_host import comfy_dir
    path = comfy_dir() / "comfyui_version.py"
    for line in (path.read_text().splitlines() if path.exists() else ()):
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    return "unknown"


# Known failures on ComfyUI 0.33.0 found at the end of this round, not yet fixed (listed in the issue notes): the
# tests still run there, a pass is reported as XPASS.
ON_033 = host_version().startswith("0.33")
known_033 = pytest.mark.xfail(ON_033, reason="known failure on ComfyUI 0.33.0, see the issue notes", strict=False)


@pytest.fixture(scope="session")
def comfy_server(tmp_path_factory):
    yield from ComfyServer.for_tests(tmp_path_factory.mktemp("comfy_base"), FAMILIES)


@pytest.fixture(scope="session")
def client(comfy_server):
    return ComfyClient(comfy_server.url, timeout=900)
