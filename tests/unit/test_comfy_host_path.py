"""COMFYUI_PATH: a user's own ComfyUI is accepted; anything else gives a one-line error saying what was expected."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "comfy_host.py"


def _check(env_path):
    env = dict(os.environ, COMFYUI_PATH=str(env_path))
    return subprocess.run([sys.executable, str(SCRIPT), "--check"], env=env, capture_output=True, text=True)


def test_bad_comfyui_path_is_a_one_line_error(tmp_path):
    (tmp_path / "main.py").write_text("")
    result = _check(tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(tmp_path) in lines[0] and "not a ComfyUI folder" in lines[0]
    missing = lines[0].split("missing:")[1].split(")")[0]
    assert [m.strip() for m in missing.split(",")] == ["nodes.py", "folder_paths.py", "comfy", "custom_nodes"]


def test_missing_folder_is_a_one_line_error(tmp_path):
    result = _check(tmp_path / "nowhere")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_comfyui_shaped_folder_is_accepted(tmp_path):
    for name in ("main.py", "nodes.py", "folder_paths.py"):
        (tmp_path / name).write_text("")
    (tmp_path / "comfy").mkdir()
    (tmp_path / "custom_nodes").mkdir()
    result = _check(tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == str(tmp_path.resolve())
