"""Save Image (A1111 infotext): ComfyUI's SaveImage plus the A1111 ``parameters`` text that A1111, Forge and Civitai
read, describing the graph that actually ran.

The settings come from the executed prompt (hidden ``PROMPT``), walked upstream from this node
(``infotext.graph.read_prompt_settings``); the text is A1111 1.10.1's ``create_infotext`` (``infotext.create``) with
A1111's hashes (``infotext.hashes``: AutoV2 for checkpoint and VAE, the LoRA tensor-data hash, TI hashes); image i
of a batch gets seed + i, as A1111 writes it. PNG keeps ComfyUI's ``prompt`` / ``workflow`` chunks next to
``parameters``; JPEG and WebP get A1111's EXIF UserComment plus ComfyUI's ``prompt:`` / ``workflow:`` strings.
"""
from __future__ import annotations

import dataclasses
import logging

import numpy as np
from comfy_api.latest import io, ui
from PIL import Image

from ..host import infotext_files as files
from ..host.schema_types import CellRuns
from ..infotext import names
from ..limits import output_prefix_problem
from ..infotext.create import create_infotext
from ..infotext.graph import read_prompt_settings

log = logging.getLogger("forgeline")
FORMATS = ("png", "jpeg", "webp")
SAMPLER_NAMING = ("A1111 (Sampler + Schedule type)", "Civitai (legacy combined name)")
VERSION = "Forgeline"


def link_resolver():
    """Values of upstream nodes the graph walk can evaluate before they run: A1111 Parameters outputs."""
    cache = {}

    def resolve(class_type, inputs, output_index):
        if class_type != "ForgelineA1111Parameters":
            return None
        key = (inputs.get("text"), inputs.get("image"))
        if not all(isinstance(k, str) or k is None for k in key):
            return None
        if key not in cache:
            from .a1111_parameters import parameters_outputs, read_infotext
            try:
                cache[key] = parameters_outputs(read_infotext(*key))[0]
            except (OSError, ValueError):
                cache[key] = None
        values = cache[key]
        return None if values is None or output_index >= len(values) else values[output_index]
    return resolve


def infotext_settings(prompt, unique_id, hashes=True, naming=SAMPLER_NAMING[0], node_id=None):
    """``(settings, batch_size, notes)`` for the save node ``unique_id`` of the executed ``prompt``."""
    if not prompt or unique_id is None:
        return {}, 1, ["no executed prompt available (hidden PROMPT); only the image is saved"]
    return finish_settings(read_prompt_settings(prompt, unique_id, link_resolver()), hashes, naming, node_id)


def finish_settings(run, hashes=True, naming=SAMPLER_NAMING[0], node_id=None):
    """``(settings, batch_size, notes)`` of a read graph run: its hashes (when asked) and the sampler naming."""
    run = dataclasses.replace(run, settings=dict(run.settings), notes=list(run.notes))
    notes = run.notes
    if hashes:
        notes += files.file_hashes(run, node_id=node_id)
    s = dict(run.settings)
    s.setdefault("version", VERSION)
    if naming == SAMPLER_NAMING[1] and s.get("sampler_name") in names.SAMPLERS_BY_LABEL:
        s["sampler_name"] = names.civitai_sampler_name(s["sampler_name"], s.get("scheduler"))
        if s["sampler_name"] not in names.SAMPLERS_BY_LABEL:
            s["scheduler"] = names.AUTOMATIC
    return s, run.batch_size, notes


def runs_for_images(plot_runs: dict, images: int) -> list:
    """The X/Y/Z plot run each of ``images`` saved images describes: cell i for the plot's cell batch (as many
    images as cells), otherwise its grids -- the grid of grids, or one grid per Z value -- each with its first
    cell's settings and the axes, as A1111 saves grids (AUTOMATIC1111/stable-diffusion-webui:scripts/xyz_grid.py:
    ``processed.infotexts[:1 + z_count] = grid_infotext``); the main grid's for any other count."""
    cells, grids = plot_runs["cells"], plot_runs["grids"]
    if images == len(cells):
        return list(cells)
    if images == len(grids):
        return list(grids)
    return [grids[0]] * images


class ForgelineSaveImageA1111(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ForgelineSaveImageA1111",
            display_name="Save Image (A1111 infotext)",
            category="Forgeline/image",
            description="Saves images like SaveImage and adds the A1111 'parameters' text (prompt, settings, model, "
                        "VAE, LoRA and embedding hashes) read from the graph that ran, so A1111, Forge and Civitai "
                        "read it. PNG keeps ComfyUI's workflow too; JPEG/WebP carry it in EXIF.",
            inputs=[
                io.Image.Input("images", tooltip="The images to save."),
                io.String.Input("filename_prefix", default="Forgeline",
                                tooltip="File name prefix, with ComfyUI's %date% / subfolder rules."),
                io.Combo.Input("format", options=list(FORMATS), default="png",
                               tooltip="png: 'parameters' text chunk (tEXt, or iTXt for non-Latin-1 text, as A1111) "
                                       "+ prompt/workflow. jpeg/webp: EXIF UserComment (A1111/Civitai) + workflow."),
                io.Int.Input("quality", default=95, min=1, max=100, tooltip="JPEG/WebP quality."),
                io.Combo.Input("sampler_names", options=list(SAMPLER_NAMING), default=SAMPLER_NAMING[0],
                               tooltip="A1111: 'Sampler: DPM++ 2M, Schedule type: Karras' (A1111 1.9+). Civitai: "
                                       "the legacy 'DPM++ 2M Karras' that Civitai's sampler list shows."),
                io.Boolean.Input("hashes", default=True,
                                 tooltip="Write model/VAE/LoRA/embedding hashes (Civitai links resources by them). "
                                         "A file is hashed once, then cached by path, size and time."),
                CellRuns.Input("cell_runs", optional=True, display_name="infotexts",
                               tooltip="From X/Y/Z Plot (A1111): the settings each cell ran with. With the plot's "
                                       "cells, image i gets cell i's infotext; with its grid, each grid gets its "
                                       "first cell's plus the axes (as A1111 saves grids)."),
            ],
            outputs=[io.String.Output(display_name="parameters", tooltip="The infotext of the first image.")],
            hidden=[io.Hidden.prompt, io.Hidden.extra_pnginfo, io.Hidden.unique_id],
            is_output_node=True,
        )

    @classmethod
    def validate_inputs(cls, format=None, sampler_names=None, filename_prefix=None):
        problem = output_prefix_problem(filename_prefix)
        if problem is not True:
            return problem
        if format is not None and format not in FORMATS:
            return f"format={format!r} is not known; use one of {', '.join(FORMATS)}"
        if sampler_names is not None and sampler_names not in SAMPLER_NAMING:
            return f"sampler_names={sampler_names!r} is not known; use one of {', '.join(SAMPLER_NAMING)}"
        return True

    @classmethod
    def execute(cls, images, filename_prefix, format, quality, sampler_names, hashes,
                cell_runs=None) -> io.NodeOutput:
        prompt, extra = cls.hidden.prompt, cls.hidden.extra_pnginfo
        if files.metadata_disabled():
            prompt = extra = None
        try:
            if cell_runs:
                picks = [finish_settings(run, hashes, sampler_names, cls.hidden.unique_id)
                         for run in runs_for_images(cell_runs, len(images))]
            else:
                picks = [infotext_settings(cls.hidden.prompt, cls.hidden.unique_id, hashes, sampler_names,
                                           cls.hidden.unique_id)]
        except Exception as exc:  # the image is saved whatever the graph holds; say why it has no infotext
            log.warning("Forgeline Save Image (A1111 infotext): no infotext written: %s: %s", type(exc).__name__, exc)
            picks = [({}, 1, [])]
        for note in dict.fromkeys(n for _, _, notes in picks for n in notes):
            log.info("Forgeline Save Image (A1111 infotext): %s", note)
        folder, filename, counter, subfolder, _ = files.output_path(filename_prefix, images[0].shape[1],
                                                                    images[0].shape[0])
        results, texts = [], []
        ext = {"png": "png", "jpeg": "jpg", "webp": "webp"}[format]
        for i, image in enumerate(images):
            settings, batch, _ = picks[i] if cell_runs else picks[0]
            # A1111 noise: image i of a batch has seed + i; ComfyUI's own noise draws the batch from one seed; a
            # plot cell's image is the first of its batch
            per_image = settings.get("randn_source") != "ComfyUI" and not cell_runs
            index = i % max(1, batch) if per_image else 0
            try:
                text = create_infotext(settings, index=index) if settings else ""
            except (TypeError, ValueError) as exc:
                log.warning("Forgeline Save Image (A1111 infotext): no infotext written: %s", exc)
                text = ""
            texts.append(text)
            pil = Image.fromarray(np.clip(255.0 * image.cpu().numpy(), 0, 255).astype(np.uint8))
            name = f"{filename.replace('%batch_num%', str(i))}_{counter:05}_.{ext}"
            path = f"{folder}/{name}"
            if format == "png":
                files.save_png(pil, path, text, prompt, extra)
            else:
                files.save_lossy(pil, path, format, quality, text, prompt, extra)
            results.append(ui.SavedResult(name, subfolder, io.FolderType.output))
            counter += 1
        return io.NodeOutput(texts[0] if texts else "", ui=ui.SavedImages(results))


NODES = [ForgelineSaveImageA1111]
