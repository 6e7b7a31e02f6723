"""The bundled workflows and the editor extension in the real ComfyUI frontend (headless Chromium), in the classic
canvas and with Nodes 2.0 on (the ``editor`` fixture runs each test in both).

References: the frontend itself — its node registry (``LiteGraph.registered_node_types``) for missing nodes and
each node definition's outputs for the slots a loaded node must have, its own UI→API conversion
(``app.graphToPrompt``) for the API twins, its rendered node boxes for overlaps, its console for errors (compared
with the baseline the stock frontend logs on this host for an empty workflow) — ComfyUI's sigma rule (n steps →
n + 1 sigmas) for the schedule preview, and the LCM merge node's preset (4 steps) for a linked steps input.
"""
import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "example_workflows"
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.json"))
EMPTY = {"last_node_id": 0, "last_link_id": 0, "nodes": [], "links": [], "groups": [], "config": {}, "extra": {},
         "version": 0.4}
PROMPT_WF = "A1111 prompt (BREAK + editing)"


def normalise(message):
    """Console lines without volatile parts (URLs, line:column), so a repeated stock error compares equal."""
    return re.sub(r"https?://\S+|:\d+:\d+", "", message.split("\n")[0]).strip()


def load(editor, name):
    result = editor.js("""async (url) => {
        const res = await fetch(url);
        if (!res.ok) return {error: res.status};
        await window.app.loadGraphData(await res.json());
        try { await window.app.extensionManager.command.execute("Comfy.Canvas.FitView"); } catch (e) { /* older UI */ }
        const missing = window.app.graph.nodes
            .filter(n => !(n.type in LiteGraph.registered_node_types)).map(n => n.type);
        return {count: window.app.graph.nodes.length, missing};
    }""", f"/api/workflow_templates/forgeline/{quote(name)}.json")
    editor.settle()  # the fit-view animation has ended and the extension's panels have their first result
    return result


@pytest.fixture(scope="module")
def baseline(editor):
    """Console errors of the stock frontend on this host: page start-up plus loading an empty workflow."""
    editor.js("async (wf) => { await window.app.loadGraphData(wf); }", EMPTY)
    editor.settle()
    return {normalise(e) for e in editor.errors()}


def test_template_route_lists_every_bundled_workflow(browser_server):
    listed = requests.get(f"{browser_server.url}/workflow_templates", timeout=30).json().get("forgeline", [])
    assert sorted(listed) == NAMES
    for name in NAMES:
        thumb = requests.get(f"{browser_server.url}/api/workflow_templates/forgeline/{quote(name)}.jpg", timeout=30)
        assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff", f"{name}.jpg missing or not JPEG"


@pytest.mark.parametrize("name", NAMES)
def test_workflow_opens_with_no_missing_nodes_and_no_new_errors(editor, baseline, name):
    editor.mark()
    result = load(editor, name)
    editor.screenshot(f"workflow_{name}")
    assert result.get("missing") == [], result
    ui = json.loads((EXAMPLES / f"{name}.json").read_text())
    assert result["count"] == len(ui["nodes"])
    new = {normalise(e) for e in editor.errors()} - baseline
    assert not new, f"console errors beyond the stock baseline: {sorted(new)}"


@pytest.mark.parametrize("name", NAMES)
def test_api_twin_equals_the_frontends_own_conversion(editor, name):
    load(editor, name)
    frontend = editor.js("async () => (await window.app.graphToPrompt()).output")
    twin = json.loads((EXAMPLES / "api" / f"{name}.json").read_text())
    strip = lambda p: {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in p.items()}  # noqa: E731
    assert strip(frontend) == strip(twin)


def _text_area(editor, node_id, widget="text"):
    """Zoom to 100 % on the node (DOM widgets hide when zoomed far out), tag the textarea the user sees for its text
    widget (the widget's element in the classic canvas, the Vue-rendered one with Nodes 2.0) and return a CSS
    selector for it."""
    editor.js("""([id]) => {
        const node = window.app.graph.getNodeById(id);
        const canvas = window.app.canvas;
        canvas.ds.scale = 1;
        canvas.centerOnNode(node);
        canvas.setDirty(true, true);
    }""", [node_id])
    editor.settle()
    tag = f"fl-test-{node_id}-{widget}"
    editor.page.wait_for_function("""([id, name, tag]) => {
        const node = window.app.graph.getNodeById(id);
        const w = node.widgets.find(w => w.name === name);
        const own = w.element ?? w.inputEl;
        const root = document.querySelector(`[data-node-id="${id}"]`);
        const texts = node.widgets.filter(x => (x.element ?? x.inputEl) instanceof HTMLTextAreaElement);
        const area = root ? [...root.querySelectorAll('textarea')][texts.indexOf(w)] : own;
        if (!area || !area.getClientRects().length) return false;
        area.dataset.flTest = tag;
        return true;
    }""", arg=[node_id, widget, tag], timeout=60_000)
    return f"[data-fl-test='{tag}']"


def _positive_node(editor):
    return editor.js("() => window.app.graph.nodes.find(n => n.type === 'ForgelinePromptEncode' && "
                     "!n.widgets.find(w => w.name === 'negative').value).id")


def test_prompt_error_shows_an_inline_marker(editor):
    load(editor, PROMPT_WF)
    node_id = _positive_node(editor)
    area = _text_area(editor, node_id)
    editor.page.fill(area, "a (red fox:1.2.3) BREAK [forest:city:0.5]")
    marker = editor.page.wait_for_selector(".forgeline-lint .forgeline-diag-error", timeout=20_000)
    assert marker.inner_text() == ":1.2.3)"
    # the outline and its tooltip are on the textarea the user sees (in Nodes 2.0 the widget's element is hidden)
    editor.page.wait_for_function("(sel) => document.querySelector(sel).classList.contains('forgeline-prompt-error')",
                                  arg=area, timeout=20_000)
    assert editor.js("(sel) => document.querySelector(sel).getClientRects().length > 0", area)
    assert "not a number" in editor.page.get_attribute(area, "title")
    outline = editor.js("(sel) => getComputedStyle(document.querySelector(sel)).outlineStyle", area)
    assert outline == "solid"
    editor.screenshot("prompt_error_marker")
    editor.page.fill(area, "a (red fox:1.2) BREAK [forest:city:0.5]")
    editor.page.wait_for_function("() => !document.querySelector('.forgeline-lint .forgeline-diag-error')",
                                  timeout=20_000)
    assert editor.page.query_selector(".forgeline-lint .fl-break").inner_text() == "BREAK"
    editor.page.wait_for_function(
        "(sel) => !document.querySelector(sel).classList.contains('forgeline-prompt-error')", arg=area, timeout=20_000)


def test_lora_autocomplete_offers_server_loras(editor, browser_server):
    loras = requests.get(f"{browser_server.url}/models/loras", timeout=30).json()
    wanted = next(n for n in loras if n.startswith("forgeline_sd15_kohya."))
    load(editor, PROMPT_WF)
    area = _text_area(editor, _positive_node(editor))
    editor.page.fill(area, "")
    editor.page.focus(area)
    editor.page.keyboard.type("a cat <lora:forgeline_sd15_koh")
    # the list narrows to what was typed (server names containing it, shown without the extension)
    rows = [n.rsplit(".", 1)[0] for n in loras if "forgeline_sd15_koh" in n]
    editor.page.wait_for_function(
        "(rows) => { const p = document.querySelector('.forgeline-autocomplete');"
        " return p && JSON.stringify(p.innerText.split('\\n')) === JSON.stringify(rows); }", arg=rows,
        timeout=20_000)
    assert rows[0] == "forgeline_sd15_kohya"
    editor.page.keyboard.press("Enter")
    assert editor.page.input_value(area) == f"a cat <lora:{wanted.rsplit('.', 1)[0]}:1>"


def test_sigma_preview_follows_the_steps_widget(editor):
    load(editor, PROMPT_WF)
    sel = ".forgeline-curve[data-forgeline-preview='sigmas']"
    editor.page.wait_for_function(f"() => document.querySelector(\"{sel}\")?.dataset.points === '21'", timeout=20_000)
    editor.js("() => { const n = window.app.graph.nodes.find(n => n.type === 'ForgelineKSampler');"
              " n.widgets.find(w => w.name === 'steps').value = 7; }")
    editor.page.wait_for_function(f"() => document.querySelector(\"{sel}\")?.dataset.points === '8'", timeout=20_000)


def test_sigma_preview_reads_the_linked_steps(editor):
    # In the LCM workflow steps (and sampler/scheduler) come by link from the merge node's preset: 4 steps, so
    # 5 sigmas, whatever the sampler's own steps widget says (20).
    load(editor, "LCM-LoRA + style (4 steps)")
    assert editor.js("() => window.app.graph.nodes.find(n => n.type === 'ForgelineKSampler')"
                     ".widgets.find(w => w.name === 'steps').value") == 20
    sel = ".forgeline-curve[data-forgeline-preview='sigmas']"
    editor.page.wait_for_function(f"() => document.querySelector(\"{sel}\")?.dataset.points === '5'", timeout=20_000)


@pytest.mark.parametrize("name", NAMES)
def test_workflow_nodes_do_not_overlap_and_slots_match_the_definitions(editor, name):
    # Rendered boxes: the Vue node element with Nodes 2.0 (it grows to its content), pos/size plus the title bar in
    # the classic canvas. Slots: each node's outputs are its definition's on this host (SaveImage gained an IMAGE
    # output in 0.33), and every link a slot names exists, with both ends on real slots.
    load(editor, name)
    report = editor.js("""() => {
        const g = window.app.graph, T = LiteGraph.NODE_TITLE_HEIGHT ?? 30;
        const boxes = g.nodes.map(n => {
            const el = document.querySelector(`[data-node-id="${n.id}"]`);
            const [w, h] = el ? [el.offsetWidth, el.offsetHeight] : [n.size[0], n.size[1] + T];
            return {id: n.id, type: n.type, x: n.pos[0], y: n.pos[1] - T, w, h};
        });
        const overlaps = [];
        for (const a of boxes) for (const b of boxes) {
            if (a.id < b.id && a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h)
                overlaps.push(`${a.type}#${a.id} / ${b.type}#${b.id}`);
        }
        const linkOf = (id) => g.getLink?.(id) ?? g.links?.get?.(id) ?? g.links?.[id];
        const bad = [];
        for (const n of g.nodes) {
            const def = LiteGraph.registered_node_types[n.type]?.nodeData;
            if (def?.output) {
                const want = def.output.map(t => Array.isArray(t) ? 'COMBO' : String(t));
                const have = (n.outputs ?? []).map(o => String(o.type));
                if (JSON.stringify(want) !== JSON.stringify(have)) bad.push(`${n.type}#${n.id} outputs ${have} != ${want}`);
            }
            for (const o of n.outputs ?? []) for (const id of o.links ?? []) if (!linkOf(id)) bad.push(`${n.type}#${n.id} link ${id}`);
            for (const i of n.inputs ?? []) if (i.link != null && !linkOf(i.link)) bad.push(`${n.type}#${n.id} input ${i.name}`);
        }
        return {overlaps, bad};
    }""")
    assert report == {"overlaps": [], "bad": []}, report


def test_lora_curve_preview_on_the_loader(editor):
    # Reference: cheald/sd-webui-loractl calculate_weight, schedule 0@0,1@0.5 over 20 steps in A1111 timing:
    # sampler step i sees x = max(i - 1, 0) / 18, weight = clamp(x / 0.5, 0, 1).
    load(editor, "Scheduled LoRA")
    want = [round(min(max(i - 1, 0) / 18 / 0.5, 1.0), 6) for i in range(20)]
    sel = ".forgeline-curve[data-forgeline-preview='lora_curve']"
    editor.page.wait_for_function(
        f"""(want) => {{ const v = JSON.parse(document.querySelector("{sel}")?.dataset.values ?? "[]");
            return v.length === want.length && v.every((x, i) => Math.abs(x - want[i]) < 1e-6); }}""",
        arg=want, timeout=20_000)
    editor.screenshot("lora_curve_preview")


def test_queue_from_the_ui_shows_the_image(editor):
    load(editor, PROMPT_WF)
    save_id = editor.js("""() => {
        const g = window.app.graph;
        const set = (type, name, value) => g.nodes.filter(n => n.type === type)
            .forEach(n => { n.widgets.find(w => w.name === name).value = value; });
        set('ForgelineEmptyLatent', 'width', 64); set('ForgelineEmptyLatent', 'height', 64);
        set('ForgelineKSampler', 'steps', 2); set('ForgelinePromptEncode', 'steps', 2);
        return g.nodes.find(n => n.type === 'SaveImage').id;
    }""")
    editor.js("async () => { await window.app.queuePrompt(0, 1); }")
    editor.page.wait_for_function(
        "(id) => (window.app.nodeOutputs?.[String(id)]?.images?.length ?? 0) > 0", arg=save_id, timeout=600_000)
    editor.screenshot("queued_from_ui")
    image = editor.js("(id) => window.app.nodeOutputs[String(id)].images[0]", save_id)
    assert image["filename"].startswith("forgeline_a1111_prompt") and image["type"] == "output"


@pytest.mark.parametrize("name", [PROMPT_WF, "Scheduled LoRA"])
def test_extension_widgets_are_not_saved_and_core_nodes_untouched(editor, name):
    # Saving the loaded workflow gives back the file's widgets_values (the syntax panel and the previews are not
    # serialised), and a core CLIPTextEncode gets no Forgeline widget.
    load(editor, name)
    # (1.49.6 saves a node without widgets, e.g. VAEDecode, with no widgets_values where 1.32.9 saved [])
    saved = editor.js("() => Object.fromEntries(window.app.graph.serialize().nodes"
                      ".map(n => [n.id, n.widgets_values ?? []]))")
    ui = json.loads((EXAMPLES / f"{name}.json").read_text())
    assert {str(n["id"]): n["widgets_values"] for n in ui["nodes"]} == saved
    names = editor.js("() => { const n = LiteGraph.createNode('CLIPTextEncode'); return n.widgets.map(w => w.name); }")
    assert names == ["text"]
