"""scripts/forgeline_client.py as a user runs it: a subprocess against the real server.

Each bundled workflow is queued twice, as its API twin and as the UI file (converted through /object_info), and
must save a PNG; a bad workflow must print ComfyUI's validation error readably (node, input) and exit with 1.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "scripts" / "forgeline_client.py"
EXAMPLES = ROOT / "example_workflows"
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.json"))


def run_cli(server, *args, timeout=1800):
    return subprocess.run([sys.executable, str(CLIENT), *map(str, args), "--server", server.url],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("fmt", ["api", "ui"])
@pytest.mark.parametrize("name", NAMES)
def test_client_queues_workflow_and_saves_images(comfy_server, tmp_path, name, fmt):
    path = EXAMPLES / "api" / f"{name}.json" if fmt == "api" else EXAMPLES / f"{name}.json"
    proc = run_cli(comfy_server, path, "--quick", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    saved = list(tmp_path.glob("*.png"))
    assert saved and saved[0].read_bytes()[:4] == b"\x89PNG"
    assert "image(s) saved" in proc.stderr


def test_invalid_input_gives_readable_error_and_exit_1(comfy_server, tmp_path):
    path = EXAMPLES / "api" / "HiRes Fix.json"
    proc = run_cli(comfy_server, path, "--quick", "--set", "ForgelineKSampler.steps=-4", "--out", tmp_path)
    assert proc.returncode == 1
    assert "ComfyUI rejected" in proc.stderr
    line = next(ln for ln in proc.stderr.splitlines() if "input 'steps'" in ln)
    assert "ForgelineKSampler" in line and "-4" in line
    # the server survives: a normal run still works
    assert run_cli(comfy_server, path, "--quick", "--out", tmp_path).returncode == 0


def test_ui_workflow_with_missing_node_exit_1(comfy_server, tmp_path):
    ui = json.loads((EXAMPLES / "HiRes Fix.json").read_text())
    ui["nodes"][0]["type"] = "NoSuchNodeAnywhere"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(ui))
    proc = run_cli(comfy_server, bad)
    assert proc.returncode == 1
    assert "NoSuchNodeAnywhere (node 1)" in proc.stderr


def test_bad_override_and_bad_file_exit_1(comfy_server, tmp_path):
    path = EXAMPLES / "api" / "HiRes Fix.json"
    proc = run_cli(comfy_server, path, "--set", "steps=20")
    assert proc.returncode == 1 and "NODE.INPUT=VALUE" in proc.stderr
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    proc = run_cli(comfy_server, junk)
    assert proc.returncode == 1 and "not valid JSON" in proc.stderr
