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


def _lcm_preset_graph(sampler_node: str, prefix: str) -> dict:
    """The LCM merge node's preset outputs (steps, cfg, sampler_name, scheduler) all linked into ``sampler_node``."""
    from .graphs import txt2img

    graph = txt2img(prefix=prefix)
    graph["merge"] = {"class_type": "ForgelineLCMLoraMerge", "inputs": {
        "model": ["ckpt", 0], "clip": ["ckpt", 1], "lcm_lora": "forgeline_sd15_lcm_lora.safetensors",
        "style_lora": "None", "style_strength": 0.8, "lcm_strength": 1.0, "save_merged": False,
        "filename_prefix": "checkpoints/unused"}}
    inputs = graph["sample"]["inputs"]
    inputs.update(model=["merge", 0], steps=["merge", 2], cfg=["merge", 3], sampler_name=["merge", 4],
                  scheduler=["merge", 5])
    graph["sample"]["class_type"] = sampler_node
    if sampler_node == "ForgelineKSampler":
        inputs.update(eta=1.0, s_noise=1.0, noise_source="comfy", ensd=0, img2img_steps="a1111")
    return graph


@pytest.mark.parametrize("sampler_node", ["KSampler", "ForgelineKSampler"])
def test_lcm_preset_combo_outputs_link_into_sampler_combos(client, sampler_node):
    # 0.3.75 typed a COMBO output by its options list (refused by V3 "COMBO" inputs such as ForgelineKSampler's),
    # 0.33 types it "COMBO" (refused by V1 list-typed inputs such as KSampler's): the preset must pass both
    result = client.run(_lcm_preset_graph(sampler_node, f"lcm_preset_{sampler_node}"))
    assert result.status == "success", result.error
    assert len(result.images()) == 1
    steps = {m["data"]["max"] for m in result.messages if m["type"] == "progress" and m["data"].get("node") == "sample"}
    assert steps == {4}, steps  # the preset's 4 steps came through the link


def _graph_with_one_bad_output() -> dict:
    """Two outputs; the second one's VAEDecode gets a MODEL where a VAE belongs, so validation drops it."""
    from .graphs import txt2img

    graph = txt2img(prefix="dropped_good")
    graph["decode_bad"] = {"class_type": "VAEDecode", "inputs": {"samples": ["sample", 0], "vae": ["ckpt", 0]}}
    graph["save_bad"] = {"class_type": "SaveImage", "inputs": {"images": ["decode_bad", 0],
                                                               "filename_prefix": "dropped_bad"}}
    return graph


def test_client_raises_when_validation_drops_an_output(client):
    from comfy_client import ComfyError, OutputsDroppedError

    with pytest.raises(OutputsDroppedError) as exc:
        client.submit(_graph_with_one_bad_output())
    text = str(exc.value)
    assert isinstance(exc.value, ComfyError)
    assert "Output will be ignored" in text
    line = next(ln for ln in text.splitlines() if "node decode_bad" in ln)
    assert "(VAEDecode)" in line and "input 'vae'" in line and "mismatch" in line.lower()
    assert "save_bad" in text  # the dropped output is named


def test_cli_exits_1_when_validation_drops_an_output(comfy_server, tmp_path):
    path = tmp_path / "one_bad_output.json"
    path.write_text(json.dumps(_graph_with_one_bad_output()))
    proc = run_cli(comfy_server, path, "--out", tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Output will be ignored" in proc.stderr
    assert any("node decode_bad (VAEDecode), input 'vae'" in ln for ln in proc.stderr.splitlines()), proc.stderr
    assert not list(tmp_path.glob("*.png"))
