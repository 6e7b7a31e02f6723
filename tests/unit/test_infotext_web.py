"""web/js/png_text.js under node: it reads Pillow-written PNG text chunks as the PNG format defines them (tEXt
Latin-1, iTXt UTF-8; the same values as Pillow / infotext.png), and picks what the editor opens: the ComfyUI
workflow first, then an API prompt, then A1111-only parameters (frontend 1.32.x checks parameters first,
Comfy-Org/ComfyUI_frontend#6988)."""
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

WEB = Path(__file__).resolve().parents[2] / "web" / "js"
pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def _png(**texts):
    info = PngInfo()
    for key, value in texts.items():
        info.add_text(key, value)
    buf = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def _run(tmp_path, data):
    (tmp_path / "png_text.mjs").write_text((WEB / "png_text.js").read_text())
    (tmp_path / "x.png").write_bytes(data)
    (tmp_path / "run.mjs").write_text(
        "import { readFileSync } from 'node:fs';\n"
        "import { readPngText, fileAction } from './png_text.mjs';\n"
        "const c = readPngText(readFileSync(process.argv[2]));\n"
        "console.log(JSON.stringify({ chunks: c, action: fileAction(c) }));\n")
    out = subprocess.run(["node", str(tmp_path / "run.mjs"), str(tmp_path / "x.png")], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_latin1_and_utf8_chunks(tmp_path):
    params = "café × 2, 一只猫\nSteps: 20, Sampler: Euler a, Seed: 1"
    got = _run(tmp_path, _png(parameters=params, note="é°"))
    assert got["chunks"] == {"parameters": params, "note": "é°"}
    assert got["action"] == "a1111"


def test_workflow_wins_over_parameters(tmp_path):
    got = _run(tmp_path, _png(parameters="p\nSteps: 20, Sampler: Euler, Seed: 1", prompt="{}", workflow="{}"))
    assert got["action"] == "workflow"
    assert _run(tmp_path, _png(parameters="p\nSteps: 1, Sampler: Euler, Seed: 1", prompt="{}"))["action"] == "prompt"
    assert _run(tmp_path, _png(parameters="just a caption"))["action"] is None
