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


def test_constant_outputs_mirror_the_lcm_preset():
    # The previews show what a link from the LCM merge node carries (web/js/forgeline_common.js CONSTANT_OUTPUTS);
    # the reference is the node's own preset (nodes/lcm_lora.py PRESET, read from the source: it needs no host).
    import ast
    import json

    source = (WEB.parent / "nodes" / "lcm_lora.py").read_text()
    preset = next(ast.literal_eval(n.value) for n in ast.parse(source).body
                  if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "PRESET")
    js = (WEB / "js" / "forgeline_common.js").read_text()
    body = re.search(r"ForgelineLCMLoraMerge:\s*(\{[^}]*\})", js).group(1)
    mirrored = json.loads(re.sub(r"(\w+):", r'"\1":', body))
    assert mirrored == {"steps": preset["steps"], "cfg": preset["cfg"], "sampler_name": preset["sampler"],
                        "scheduler": preset["scheduler"]}


def test_no_shared_document_listeners_or_appends():
    # comfy-test's collision rules (PyPI comfy-test, reporting/js_lint.py): no document-level listeners, nothing
    # appended into document.body/head; styles and popups live in the pack's own widget DOM.
    for path in FILES:
        text = path.read_text()
        assert not re.search(r"document(\.\w+)*\.addEventListener", text), path.name
        assert not re.search(r"document\.(body|head)\.(append|appendChild|prepend|insertBefore)", text), path.name
        assert "setInterval" not in text, f"{path.name}: values come from change events, not polling"


def test_registry_icon_exists_in_the_repository():
    # pyproject [tool.comfy] Icon is a raw URL of this repository's main branch; its path must be a PNG here.
    import tomllib

    icon = tomllib.loads((WEB.parent / "pyproject.toml").read_text())["tool"]["comfy"]["Icon"]
    path = WEB.parent / icon.split("/main/", 1)[1]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", icon
