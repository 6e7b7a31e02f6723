"""A1111 infotext PNGs dropped into the real ComfyUI frontend (headless Chromium, classic canvas and Nodes 2.0).

* A PNG written by Save Image (A1111 infotext) from a graph queued in the editor carries A1111 ``parameters`` and
  ComfyUI's ``workflow``: dropped back, it opens that workflow (its node ids and types, its prompt), not the stock
  A1111 importer's approximation (frontend 1.32.x reads ``parameters`` first, Comfy-Org/ComfyUI_frontend#6988).
* An A1111-style PNG carrying only ``parameters`` opens the Forgeline graph that reproduces it; queued from the
  editor, it gives the same pixels as the graph that made the PNG (same stand-in model, LoRA and seed).

The drop is a DOM ``drop`` event with a ``DataTransfer`` holding the file, the way a user's drop reaches the
frontend's own document handler (ComfyUI_frontend ``app.ts`` ``addDropHandler`` → ``handleFile``). Waits are on
conditions in the page.
"""
import base64
import io
import json
from urllib.parse import urlencode

import numpy as np
import pytest
import requests
from PIL import Image, PngImagePlugin

from comfy_client import ComfyClient
from forgeline.infotext.png import read_png_text
from forgeline.tests.browser.test_browser_editor import EMPTY, load
from forgeline.tests.e2e.test_infotext_e2e import forgeline_graph

CIVITAI_WF = "Save for Civitai"


def drop_png(editor, data: bytes, name: str):
    """Drop ``data`` as a PNG file named ``name`` onto the editor."""
    editor.js("""([b64, name]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, {type: 'image/png'}));
        const r = window.app.canvas.canvas.getBoundingClientRect();
        document.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true,
                                                      clientX: r.x + r.width / 2, clientY: r.y + r.height / 2}));
    }""", [base64.b64encode(data).decode(), name])


def clear(editor):
    editor.js("async (wf) => { await window.app.loadGraphData(wf); }", EMPTY)
    editor.page.wait_for_function("() => window.app.graph.nodes.length === 0", timeout=60_000)


def queue_and_fetch(editor, server_url, save_type):
    """Queue the editor's graph; the PNG bytes of the first image its ``save_type`` node shows."""
    save_id = editor.js("(t) => window.app.graph.nodes.find(n => n.type === t).id", save_type)
    editor.js("async () => { await window.app.queuePrompt(0, 1); }")
    editor.page.wait_for_function(
        "(id) => (window.app.nodeOutputs?.[String(id)]?.images?.length ?? 0) > 0", arg=save_id, timeout=900_000)
    image = editor.js("(id) => window.app.nodeOutputs[String(id)].images[0]", save_id)
    assert image["type"] == "output", image
    query = urlencode({k: image.get(k, "") for k in ("filename", "subfolder", "type")})
    r = requests.get(f"{server_url}/view?{query}", timeout=120)
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    return r.content


def pixels(data: bytes):
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def parameters_only(data: bytes) -> bytes:
    """The same pixels, re-encoded losslessly with only the A1111 ``parameters`` text (what A1111 writes)."""
    text = read_png_text(data)["parameters"]
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def test_saved_png_opens_its_own_workflow(editor, browser_server):
    load(editor, CIVITAI_WF)
    editor.js("""() => {
        const set = (type, name, value) => window.app.graph.nodes.filter(n => n.type === type)
            .forEach(n => { n.widgets.find(w => w.name === name).value = value; });
        set('ForgelineEmptyLatent', 'width', 64); set('ForgelineEmptyLatent', 'height', 64);
        set('ForgelineEmptyLatent', 'batch_size', 1);
        set('ForgelineKSampler', 'steps', 2); set('ForgelinePromptEncode', 'steps', 2);
    }""")
    saved = queue_and_fetch(editor, browser_server.url, "ForgelineSaveImageA1111")
    chunks = read_png_text(saved)
    assert "Steps: 2," in chunks["parameters"] and "workflow" in chunks
    workflow = json.loads(chunks["workflow"])
    want = sorted([str(n["id"]), n["type"]] for n in workflow["nodes"])
    assert "ForgelineSaveImageA1111" in {t for _, t in want}

    clear(editor)
    drop_png(editor, saved, "civitai.png")
    editor.page.wait_for_function("(n) => window.app.graph.nodes.length === n", arg=len(want), timeout=120_000)
    editor.settle()
    have = editor.js("() => window.app.graph.nodes.map(n => [String(n.id), n.type]).sort()")
    assert sorted(have) == want
    # the workflow's own widgets (the small run set above), not values rebuilt from the parameters text
    steps = editor.js("() => window.app.graph.nodes.find(n => n.type === 'ForgelineKSampler')"
                      ".widgets.find(w => w.name === 'steps').value")
    assert steps == 2
    editor.screenshot("dropped_saved_png")


@pytest.fixture(scope="module")
def a1111_png(browser_server):
    """A PNG the way A1111 writes one: pixels and ``parameters`` only, made by a Forgeline graph over the API."""
    client = ComfyClient(browser_server.url, timeout=900)
    result = client.run(forgeline_graph(batch=1, prompt="a watercolor fox"))
    assert result.status == "success", result.error
    made = client.view(result.images()[0])
    stripped = parameters_only(made)
    assert set(read_png_text(stripped)) == {"parameters"}
    return made, stripped


def test_parameters_only_png_builds_a_graph_that_gives_the_same_image(editor, browser_server, a1111_png):
    made, stripped = a1111_png
    clear(editor)
    editor.mark()
    drop_png(editor, stripped, "from_a1111.png")
    editor.page.wait_for_function(
        "() => window.app.graph.nodes.some(n => n.type === 'ForgelineSaveImageA1111')", timeout=120_000)
    editor.settle()
    types = editor.js("() => window.app.graph.nodes.map(n => n.type)")
    assert "ForgelineKSampler" in types and "KSampler" not in types, types  # not the stock importer's graph
    prompt = editor.js("() => window.app.graph.nodes.find(n => n.type === 'ForgelineApplyPromptLoras')"
                       ".widgets.find(w => w.name === 'text').value")
    assert prompt.startswith("a watercolor fox <lora:forgeline_sd15_kohya:0.7>"), prompt
    again = queue_and_fetch(editor, browser_server.url, "ForgelineSaveImageA1111")
    assert np.array_equal(pixels(again), pixels(made))
    assert read_png_text(again)["parameters"] == read_png_text(made)["parameters"]
