"""X/Y/Z Plot (A1111): A1111's X/Y/Z plot script as one node that expands into one sub-graph per cell.

The base setup is A1111's txt2img tab: the inputs of KSampler (A1111) (or the stock KSampler), the prompts as text
+ CLIP (encoded by A1111 Prompt Encode, so ``Prompt S/R`` re-encodes), optionally HiRes Fix (A1111) and the refiner
handoff. Up to three axes take A1111's types and value syntax (xyz/axes.py, xyz/axis_values.py). Each cell is the
standalone graph with that cell's settings, run by ComfyUI's executor (host/graph_expand.py): cells are cached (change
one value and only its cells sample again), interruptible, and each finished cell prints "cell k of N" on the node.
A last node draws the labelled grid in A1111's layout (xyz/grid.py). Source: AUTOMATIC1111/stable-diffusion-webui:
scripts/xyz_grid.py.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import re

import torch
from comfy_api.latest import io, ui

from ..host import graph_expand
from ..host.schema_types import CellRuns, declared_inputs_problem
from ..infotext.graph import read_prompt_settings
from ..xyz import AXIS_LABELS, LAYOUTS, AxisContext, AxisError, grid_infotext_params, plan, xyz_grids
from ..xyz.grid import pil_to_tensor, tensor_to_pil
from ..host import dropdowns, upscale
from ..host.sampling import IMG2IMG_STEP_RULES, NOISE_SOURCES, sampler_names, scheduler_names
from ..limits import prompt_problem
from ..prompt import EMPHASIS_MODES
from .ksampler_a1111 import ForgelineKSampler, noise_inputs, seed_input
from .save_image_a1111 import link_resolver

log = logging.getLogger("forgeline")

SAMPLER_NODES = ("KSampler (A1111)", "KSampler")
HIRES_UPSCALERS = [u for u in upscale.UPSCALERS if u != upscale.MODEL_MODE]
VARIATION = ("variation_seed", "variation_strength")
VALUES_TIP = ("A1111 syntax: comma-separated (CSV quotes allowed); integers 1-5, 1-10 (+2), 10-1 (-3), 1-10 [5]; "
              "numbers 0-1 (+0.25), 0-1 [5]; Prompt S/R: the first value is searched for in both prompts and each "
              "value replaces it (LoRA strength: <lora:name:0.5>, <lora:name:1>); Prompt order: the tokens to "
              "permute; Seed -1 = random. Sampler / Schedule type / RNG source take A1111 names (Euler a, Karras, "
              "GPU) or ComfyUI names.")


def _variation_inputs():
    """variation_seed / variation_strength, exactly as KSampler (A1111) declares them, when it does."""
    return [i for i in ForgelineKSampler.define_schema().inputs if i.id in VARIATION]


def _axis_inputs(name, default):
    return [io.Combo.Input(f"{name}_type", options=AXIS_LABELS, default=default,
                           tooltip=f"A1111 '{name.upper()} type': what the {name.upper()} axis changes."),
            io.String.Input(f"{name}_values", default="", multiline=False, tooltip=VALUES_TIP)]


def _context(hires_fix, has_refiner, sampler_node):
    return AxisContext(samplers=sampler_names(), schedulers=scheduler_names(),
                       checkpoints=graph_expand.checkpoint_names(), upscalers=HIRES_UPSCALERS,
                       noise_sources=list(NOISE_SOURCES), has_hires=bool(hires_fix), has_refiner=has_refiner,
                       has_variation=bool(_variation_inputs()) and sampler_node == SAMPLER_NODES[0],
                       a1111_sampler=sampler_node == SAMPLER_NODES[0])


def _base(kw, base_ckpt):
    s = {k: kw.get(k) for k in ("seed", "steps", "cfg", "sampler_name", "scheduler", "denoise", "eta", "noise_source",
                                "clip_skip", "hires_steps", "hires_denoise", "hires_upscaler", "refiner_switch_at",
                                *VARIATION)}
    s.update(positive=kw["positive"], negative=kw["negative"], hires=bool(kw["hires_fix"]), ckpt_name=base_ckpt,
             refiner=kw.get("refiner_model") is not None, refiner_switch_at=kw.get("refiner_switch_at", 0.8))
    return s


class ForgelineXYZPlot(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        dropdowns.on_load()
        return io.Schema(
            node_id="ForgelineXYZPlot",
            display_name="X/Y/Z Plot (A1111)",
            category="Forgeline/plot",
            description="A1111's X/Y/Z plot: up to three axes (A1111 types and value syntax) over a txt2img setup. "
                        "Every cell runs the standalone graph with its settings through ComfyUI (cached: change one "
                        "value and only its cells run again). Outputs the labelled grid and the cell images.",
            enable_expand=True,
            hidden=[io.Hidden.unique_id, io.Hidden.dynprompt],
            inputs=[
                io.Model.Input("model", tooltip="The base model (a 'Checkpoint name' axis replaces it per cell)."),
                io.Clip.Input("clip", tooltip="CLIP for the prompts (A1111 Prompt Encode)."),
                io.Vae.Input("vae", tooltip="VAE to decode every cell."),
                io.Latent.Input("latent_image", tooltip="Empty latent: the image size (and img2img latent)."),
                io.String.Input("positive", multiline=True, default="",
                                tooltip="Prompt (A1111 syntax; <lora:...> tags apply per cell)."),
                io.String.Input("negative", multiline=True, default="", tooltip="Negative prompt."),
                io.Combo.Input("sampler_node", options=list(SAMPLER_NODES), default=SAMPLER_NODES[0],
                               tooltip="Run each cell with KSampler (A1111) (A1111 seeds and noise) or the stock "
                                       "KSampler."),
                seed_input(),
                io.Int.Input("steps", default=20, min=1, max=10000, tooltip="Sampling steps."),
                io.Float.Input("cfg", default=7.0, min=0.0, max=100.0, step=0.1, round=0.01, tooltip="CFG scale."),
                io.Combo.Input("sampler_name", options=sampler_names(), default="forgeline_euler_a"),
                io.Combo.Input("scheduler", options=scheduler_names(), default="forgeline_karras"),
                io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="1 = txt2img; below 1 works on the input latent (img2img)."),
                *noise_inputs(),
                io.Combo.Input("img2img_steps", options=list(IMG2IMG_STEP_RULES), default="a1111"),
                io.Int.Input("clip_skip", default=1, min=1, max=12, tooltip="A1111 'Clip skip'."),
                io.Combo.Input("emphasis", options=list(EMPHASIS_MODES), default="Original",
                               tooltip="A1111 emphasis mode for the prompts."),
                *_axis_inputs("x", "Seed"), *_axis_inputs("y", "Nothing"), *_axis_inputs("z", "Nothing"),
                io.Boolean.Input("draw_legend", default=True, tooltip="A1111 'Draw legend': axis labels."),
                io.Combo.Input("z_layout", options=list(LAYOUTS), default=LAYOUTS[0],
                               tooltip="grid of grids: one image, the Z grids side by side under their labels. "
                                       "separate grids: one labelled X/Y grid per Z value, as a batch."),
                io.Int.Input("margin_size", default=0, min=0, max=500, step=2, tooltip="A1111 'Grid margins (px)'."),
                io.Boolean.Input("confirm_large_grid", default=False,
                                 tooltip="Needed to run more than 200 cells."),
                io.Boolean.Input("hires_fix", default=False, tooltip="A1111 'Hires. fix' on every cell."),
                io.Combo.Input("hires_upscaler", options=HIRES_UPSCALERS, default="Latent"),
                io.Float.Input("hires_upscale_by", default=2.0, min=0.05, max=8.0, step=0.05),
                io.Int.Input("hires_steps", default=0, min=0, max=10000, tooltip="0 = same as steps."),
                io.Float.Input("hires_denoise", default=0.7, min=0.0, max=1.0, step=0.01,
                               tooltip="Hires denoising strength (the 'Denoising' axis sets it when hires is on)."),
                io.Model.Input("refiner_model", optional=True, tooltip="Refiner (A1111 'Refiner'); optional."),
                io.Clip.Input("refiner_clip", optional=True, tooltip="The refiner's CLIP (needed with it)."),
                io.Float.Input("refiner_switch_at", default=0.8, min=0.01, max=1.0, step=0.01, optional=True),
                *_variation_inputs(),
            ],
            outputs=[io.Image.Output("grid", display_name="grid", tooltip="The labelled grid(s)."),
                     io.Image.Output("cells", display_name="cells", tooltip="Every cell's image, in grid order."),
                     CellRuns.Output("infotexts", display_name="infotexts",
                                     tooltip="The settings each cell ran with, for Save Image (A1111 infotext): "
                                             "each cell image gets its own A1111 infotext, each grid its first "
                                             "cell's plus the axes (as A1111 writes them).")],
        )

    @classmethod
    def validate_inputs(cls, **values):
        problem = declared_inputs_problem(cls, values)
        for name in ("positive", "negative"):
            if problem is True and values.get(name) is not None:
                problem = prompt_problem(values[name], name=name, steps=values.get("steps") or 20,
                                         negative=name == "negative")
        if problem is not True:
            return problem
        x_type, x_values, y_type, y_values, z_type, z_values, hires_fix, sampler_node, confirm_large_grid, \
            positive, negative = (values.get(k) for k in ("x_type", "x_values", "y_type", "y_values", "z_type",
                                                          "z_values", "hires_fix", "sampler_node",
                                                          "confirm_large_grid", "positive", "negative"))
        if None in (x_type, y_type, z_type, x_values, y_values, z_values, positive, negative):
            return True  # a value comes from a link: checked when the node runs
        base = {"positive": positive or "", "negative": negative or "", "hires": bool(hires_fix)}
        try:
            plan(base, [(x_type, x_values), (y_type, y_values), (z_type, z_values)],
                 _context(hires_fix, True, sampler_node or SAMPLER_NODES[0]), bool(confirm_large_grid))
        except AxisError as e:
            return str(e)
        except KeyError:
            return True  # an axis needs a base value only known at run time
        return True

    @classmethod
    def fingerprint_inputs(cls, **kw):
        return graph_expand.expansion_fingerprint()

    @classmethod
    def execute(cls, **kw) -> io.NodeOutput:
        uid, dynprompt = cls.hidden.unique_id, cls.hidden.dynprompt
        own = graph_expand.own_inputs(dynprompt, uid)
        loader = graph_expand.source_node(dynprompt, own.get("model")) or {}
        base_ckpt = loader.get("inputs", {}).get("ckpt_name") if loader.get("class_type") == \
            "CheckpointLoaderSimple" else None
        if kw.get("refiner_model") is not None and kw.get("refiner_clip") is None:
            raise ValueError("X/Y/Z plot: refiner_model is connected but refiner_clip is not; connect the "
                             "refiner's CLIP (its prompts are encoded with it)")
        specs = [(kw[f"{a}_type"], kw[f"{a}_values"]) for a in "xyz"]
        ctx = _context(kw["hires_fix"], kw.get("refiner_model") is not None, kw["sampler_node"])
        axes, cells = plan(_base(kw, base_ckpt), specs, ctx, kw["confirm_large_grid"])
        samples = kw["latent_image"]["samples"]
        fixed = {k: kw[k] for k in ("emphasis", "s_noise", "ensd", "img2img_steps", "hires_upscale_by")}
        fixed.update(comma_padding_backtrack=20, width=samples.shape[-1] * 8, height=samples.shape[-2] * 8)
        links = {k: own.get(k) for k in ("model", "clip", "vae", "latent_image", "refiner_model", "refiner_clip")}
        loader_ids = {k: links[k][0] for k in ("model", "clip", "vae") if isinstance(links[k], list)}
        graphs = graph_expand.CellGraphs(links, fixed, kw["sampler_node"], base_ckpt, loader_ids)
        by_index = [None] * len(cells)
        for n, cell in enumerate(cells):
            label = ", ".join(t for t in (axes[0].labels[cell.ix], axes[1].labels[cell.iy],
                                          axes[2].labels[cell.iz]) if t)
            by_index[cell.index] = graphs.progress(graphs.add_cell(cell.index, cell.settings), n, len(cells), label,
                                                   uid)
        nx, ny, nz = (len(a.values) for a in axes)
        total_steps = sum(c.settings["steps"] + ((c.settings["hires_steps"] or c.settings["steps"])
                                                 if c.settings["hires"] else 0) for c in cells)
        log.info("X/Y/Z plot will create %d images on %d %dx%d grid%s. (Total steps to process: %d)", len(cells), nz,
                 nx, ny, "s" if nz > 1 else "", total_steps)
        grid, batch = graphs.assemble(by_index, {
            "nx": nx, "ny": ny, "nz": nz, "x": axes[0].labels, "y": axes[1].labels, "z": axes[2].labels,
            "legend": kw["draw_legend"], "margin": kw["margin_size"], "layout": kw["z_layout"]})
        expansion = graphs.finalize()
        runs = cell_runs(dynprompt, expansion, graphs.decoded, uid)
        return io.NodeOutput(grid, batch, plot_runs(runs, axes, nx * ny, nz, kw["z_layout"]), expand=expansion)


def cell_runs(dynprompt, expansion, decoded, uid):
    """Each cell's settings (infotext.graph.GraphRun, in grid order), read from its expanded sub-graph as the
    infotext writer reads a standalone graph: a cell's infotext is that of the graph with its settings."""
    sinks = {f"{uid}.infotext_{k}": link for k, link in decoded.items()}
    view = graph_expand.prompt_with_expansion(dynprompt, expansion, sinks)
    resolver = link_resolver()
    return [read_prompt_settings(view, f"{uid}.infotext_{k}", resolver) for k in sorted(decoded)]


def plot_runs(runs, axes, per_grid, nz, layout):
    """``{"cells": runs, "grids": ...}``: a grid's run is its first cell's with A1111's grid parameters (Script,
    axis types and values; the Z pair only on the main grid) -- one main grid, or one per Z value when separate."""
    def grid_run(first, main):
        run = dataclasses.replace(first, settings=dict(first.settings), notes=list(first.notes))
        extra = dict(run.settings.get("extra_generation_params") or {})
        extra.update(grid_infotext_params(axes, main))
        run.settings["extra_generation_params"] = extra
        return run
    if layout == LAYOUTS[0]:
        grids = [grid_run(runs[0], True)]
    else:
        grids = [grid_run(runs[z * per_grid], False) for z in range(nz)]
    return {"cells": runs, "grids": grids}


class ForgelineXYZCell(io.ComfyNode):
    """Internal: passes one cell's image on and shows 'cell k of N' on the plot node."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ForgelineXYZCell", display_name="X/Y/Z cell (internal)", category="Forgeline/internal",
            description="Used inside X/Y/Z Plot (A1111): reports a finished cell.",
            inputs=[io.Image.Input("images"), io.Int.Input("index", default=1, min=1, max=1_000_000),
                    io.Int.Input("total", default=1, min=1, max=1_000_000), io.String.Input("label", default=""),
                    io.String.Input("display_node", default="")],
            outputs=[io.Image.Output()],
        )

    @classmethod
    def validate_inputs(cls, **values):
        problem = declared_inputs_problem(cls, values, text_limit=1000)
        if problem is not True:
            return problem
        node = values.get("display_node")
        if node is not None and not re.fullmatch(r"[A-Za-z0-9_.:-]{0,64}", node):
            return (f"display_node={node[:40]!r} is not a node id (internal input written by X/Y/Z Plot (A1111)); "
                    "leave it empty")
        return True

    @classmethod
    def execute(cls, images, index, total, label, display_node) -> io.NodeOutput:
        text = f"X/Y/Z plot: cell {index} of {total}" + (f" ({label})" if label else "")
        log.info("%s", text)
        graph_expand.send_progress_text(text, display_node)
        return io.NodeOutput(images)


def _pad_batch(images):
    """Cells of different sizes -> one batch, each centred on white at the largest size (as the grid tiles)."""
    h = max(i.shape[1] for i in images)
    w = max(i.shape[2] for i in images)
    out = []
    for img in images:
        if img.shape[1:3] != (h, w):
            canvas = torch.ones((img.shape[0], h, w, img.shape[3]), dtype=img.dtype)
            dy, dx = (h - img.shape[1]) // 2, (w - img.shape[2]) // 2
            canvas[:, dy:dy + img.shape[1], dx:dx + img.shape[2]] = img
            img = canvas
        out.append(img)
    return torch.cat(out, dim=0)


class ForgelineXYZGridAssemble(io.ComfyNode):
    """Internal: draws the grid from the cell images (inputs cell_0..cell_N-1, in grid order)."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ForgelineXYZGridAssemble", display_name="X/Y/Z grid (internal)", category="Forgeline/internal",
            description="Used inside X/Y/Z Plot (A1111): draws the labelled grid.",
            inputs=[io.String.Input("plot", default="{}")],
            outputs=[io.Image.Output("grid"), io.Image.Output("cells")],
        )

    @classmethod
    def validate_inputs(cls, plot=None):
        if plot is None:
            return True
        try:
            p = json.loads(plot) if len(plot) <= 1_000_000 else None
            ok = isinstance(p, dict) and all(isinstance(p.get(k), int) and 1 <= p[k] <= 10_000
                                             for k in ("nx", "ny", "nz"))
        except ValueError:
            ok = False
        return True if ok else ("plot: not the grid description X/Y/Z Plot (A1111) writes for this internal node; "
                                "use the X/Y/Z Plot (A1111) node instead")

    @classmethod
    def execute(cls, plot, **cells) -> io.NodeOutput:
        p = json.loads(plot)
        images = [cells[f"cell_{i}"] for i in range(p["nx"] * p["ny"] * p["nz"])]
        first = [img[:1] for img in images]  # A1111 puts each cell's first image in the grid
        grids = xyz_grids([tensor_to_pil(img[0]) for img in first], p["nx"], p["ny"], p["nz"], p["x"], p["y"],
                          p["z"], p["legend"], p["margin"], p["layout"])
        grid = torch.cat([pil_to_tensor(g) for g in grids], dim=0)
        return io.NodeOutput(grid, _pad_batch(first), ui=ui.PreviewImage(grid, cls=cls))


NODES = [ForgelineXYZPlot, ForgelineXYZCell, ForgelineXYZGridAssemble]
