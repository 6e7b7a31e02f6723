"""Static checks of the editor extension (web/js): it parses as ES modules and its imports resolve.

Reference: ComfyUI serves ``WEB_DIRECTORY`` files at ``/extensions/<pack folder>/<path>`` and loads every ``*.js``
as an ES module (ComfyUI ``server.py``, ``nodes.py`` ``load_custom_node``); the frontend's shims live at
``/scripts/app.js`` and ``/scripts/api.js`` (comfyui-frontend-package ``static/scripts``). The behaviour is exercised in
tests/browser.
"""
import posixpath
import re
import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
FILES = sorted(WEB.rglob("*.js"))
IMPORT = re.compile(r"""^\s*import\s[^'"]*['"]([^'"]+)['"]""", re.M)


def test_extension_files_exist():
    assert {f.name for f in FILES} >= {"prompt_highlight.js", "lora_autocomplete.js", "curve_preview.js"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_imports_resolve_to_frontend_shims_or_siblings(path):
    url_dir = posixpath.join("/extensions/forgeline", path.parent.relative_to(WEB).as_posix())
    for target in IMPORT.findall(path.read_text()):
        url = posixpath.normpath(posixpath.join(url_dir, target))
        if url.startswith("/scripts/"):
            assert url in ("/scripts/app.js", "/scripts/api.js"), (path.name, target)
        else:
            assert url.startswith("/extensions/forgeline/"), (path.name, target)
            assert (WEB / url[len("/extensions/forgeline/"):]).is_file(), (path.name, target)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_parses_as_an_es_module(path, tmp_path):
    module = tmp_path / (path.stem + ".mjs")
    module.write_text(path.read_text())
    proc = subprocess.run(["node", "--check", str(module)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
