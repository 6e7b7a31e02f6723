"""X/Y/Z Plot (A1111) from the editor (headless Chromium, classic canvas and Nodes 2.0): the bundled 'LoRA strength
× steps plot' workflow, loaded in the real frontend and queued from it, runs every cell, reports 'cell k of N' on the
plot node (ComfyUI's progress_text messages, as the frontend receives them), shows the grid on the plot node and
saves a grid of A1111's size plus one image per cell.

References: A1111's grid layout (X across, Y down, a left margin of ``w * 3 // 4`` for the row labels, a label band on
top), the axis values typed in the test (3 LoRA strengths × 2 step counts = 6 cells) and the frontend's own
``app.nodeOutputs``. Waits are on page conditions only."""
import io
from urllib.parse import urlencode

import requests
from PIL import Image

from .test_browser_editor import load

PLOT_WF = "LoRA strength × steps plot"
SIZE = 64
X_VALUES = ":0.4>, :0.7>, :1>"  # the workflow's own X axis (Prompt S/R on its <lora:...:0.4> tag)
Y_VALUES = "1, 2"  # Steps, small so that each cell samples quickly on CPU


def test_plot_queued_from_the_editor_runs_every_cell(editor, browser_server):
    load(editor, PLOT_WF)
    # a seed per mode, so that the second mode's run samples again instead of coming from the output cache
    seed = {"classic": 101, "nodes2": 202}[editor.mode]
    ids = editor.js("""([size, xValues, yValues, seed]) => {
        const g = window.app.graph;
        const set = (node, name, value) => { node.widgets.find(w => w.name === name).value = value; };
        const plot = g.nodes.find(n => n.type === 'ForgelineXYZPlot');
        const latent = g.nodes.find(n => n.type === 'ForgelineEmptyLatent');
        set(latent, 'width', size); set(latent, 'height', size);
        set(plot, 'x_values', xValues); set(plot, 'y_values', yValues); set(plot, 'seed', seed);
        const control = plot.widgets.find(w => w.name === 'control_after_generate');
        if (control) control.value = 'fixed';
        const saves = g.nodes.filter(n => n.type === 'ForgelineSaveImageA1111');
        const by = (socket) => saves.find(s => s.inputs.find(i => i.name === 'images').link ===
            plot.outputs.find(o => o.name === socket).links?.[0])?.id;
        window.__flProgress = [];
        window.app.api.addEventListener('progress_text', (e) => window.__flProgress.push(e.detail));
        return {plot: plot.id, grid: by('grid'), cells: by('cells')};
    }""", [SIZE, X_VALUES, Y_VALUES, seed])
    assert ids["grid"] is not None and ids["cells"] is not None, ids
    editor.js("async () => { await window.app.queuePrompt(0, 1); }")
    editor.page.wait_for_function(
        "([g, c]) => (window.app.nodeOutputs?.[String(g)]?.images?.length ?? 0) > 0 && "
        "(window.app.nodeOutputs?.[String(c)]?.images?.length ?? 0) > 0",
        arg=[ids["grid"], ids["cells"]], timeout=900_000)
    editor.screenshot("xyz_plot_queued")
    outputs = editor.js("""(ids) => Object.fromEntries(Object.entries(ids)
        .map(([k, id]) => [k, window.app.nodeOutputs?.[String(id)]?.images ?? []]))""", ids)
    progress = editor.js("() => window.__flProgress")

    assert len(outputs["cells"]) == 6  # 3 X values × 2 Y values
    assert len(outputs["grid"]) == 1
    assert outputs["plot"], "the grid preview is not shown on the plot node"
    texts = [p["text"] for p in progress if str(p["nodeId"]) == str(ids["plot"])]
    # one report per cell, k = 1..6, whatever order the executor ran them in
    assert sorted(t.split(" (")[0] for t in texts) == sorted(f"X/Y/Z plot: cell {k} of 6" for k in range(1, 7)), \
        progress

    grid = outputs["grid"][0]
    data = requests.get(f"{browser_server.url}/view?" + urlencode(
        {"filename": grid["filename"], "subfolder": grid.get("subfolder", ""), "type": grid["type"]}), timeout=60)
    img = Image.open(io.BytesIO(data.content))
    assert img.width == 3 * SIZE + SIZE * 3 // 4  # X across, the row-label margin on the left
    assert img.height > 2 * SIZE  # two rows under a label band
