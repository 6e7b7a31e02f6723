"""A1111 Parameters: an A1111 infotext (pasted, or read from an image of the input folder) as node outputs.

Parsing is A1111 1.10.1's ``parse_generation_parameters`` (``infotext.parse``) and its paste rules
(``infotext.fields``); sampler and scheduler become Forgeline/ComfyUI ids (``infotext.names``); the checkpoint,
refiner and ``<lora:…>`` tags resolve to local files by their A1111 hashes (then by name), only inside ComfyUI's
model folders (``host.infotext_files``). Fields Forgeline does not reproduce are named in the ``warnings`` output
and the log; a missing resource is named with its hash.
"""
from __future__ import annotations

import logging
import os

from comfy_api.latest import io

from ..host import infotext_files as files
from ..host.schema_types import PresetComboOutput, declared_inputs_problem
from ..infotext import names
from ..infotext.fields import settings_from_parameters
from ..infotext.graph import RNG_NOISE_SOURCE
from ..infotext.parse import parse_generation_parameters
from ..limits import prompt_problem
from ..infotext.reproduce import FORGELINE_UPSCALERS, HIRES_SAME, resolve_resources, rename_lora_tags

log = logging.getLogger("forgeline")
NO_IMAGE = "(none: use the text)"


def combo(name):
    """A COMBO output whose value comes from the infotext: it links into V1 (list-typed) and V3 ("COMBO") combo
    inputs on both hosts (host.schema_types)."""
    return PresetComboOutput(None, display_name=name)


MAX_TEXT = 65536


def read_infotext(text, image):
    """The infotext to use: the pasted text, else the image's parameters (clear errors for either)."""
    if text and text.strip():
        if len(text) > MAX_TEXT:
            raise ValueError(f"the pasted text is {len(text)} characters; at most {MAX_TEXT}")
        return text
    if not image or image == NO_IMAGE:
        raise ValueError("paste an A1111 infotext into 'text' or choose an image with A1111 parameters")
    return files.read_parameters_from_file(files.input_file(image))[0]


def parameters_outputs(text):
    """(values in output order, warnings) for an infotext."""
    settings, ignored = settings_from_parameters(parse_generation_parameters(text))
    warnings = [f"ignored: {', '.join(ignored)}"] if ignored else []
    res, missing = resolve_resources(settings, files.resolve_resource)
    for kind, name, digest in missing:
        warnings.append(f"missing {kind} {name!r} (hash {digest or 'none'})")
    s = settings
    sampler = s.get("sampler_name", names.DEFAULT_SAMPLER)
    comfy_sampler = names.comfy_sampler_id(sampler) or "forgeline_euler_a"
    comfy_scheduler = names.comfy_scheduler_id(sampler, s.get("scheduler")) or "normal"
    if names.comfy_sampler_id(sampler) is None:
        warnings.append(f"sampler {sampler!r} has no ComfyUI equivalent")
    hr_sampler = names.comfy_sampler_id(s["hr_sampler_name"]) if s.get("hr_sampler_name") else HIRES_SAME
    hr_sched = (names.comfy_scheduler_id(s.get("hr_sampler_name") or sampler, s["hr_scheduler"])
                if s.get("hr_scheduler") else HIRES_SAME)
    upscaler = s.get("hr_upscaler") or "Latent"
    if upscaler not in FORGELINE_UPSCALERS:
        upscaler = "Upscale model"
    rename = res["loras"]
    noise = RNG_NOISE_SOURCE.get(s.get("randn_source", "GPU"), "a1111_gpu")
    values = [
        rename_lora_tags(s.get("prompt", ""), rename), s.get("negative_prompt", ""),
        res.get("checkpoint", ""), int(s.get("seed", 0)), int(s.get("subseed", 0) or 0),
        float(s.get("subseed_strength", 0.0) or 0.0), max(0, int(s.get("seed_resize_from_w", 0) or 0)),
        max(0, int(s.get("seed_resize_from_h", 0) or 0)), int(s.get("steps", 20)), float(s.get("cfg_scale", 7.0)),
        comfy_sampler, comfy_scheduler, int(s.get("width", 512)), int(s.get("height", 512)),
        int(s.get("clip_skip", 1)), s.get("emphasis", "Original"), noise, int(s.get("eta_noise_seed_delta", 0)),
        float(s["eta"]) if s.get("eta") is not None else 1.0,
        bool(s.get("enable_hr", False)), float(s.get("denoising_strength", 0.7) or 0.7), upscaler,
        float(s.get("hr_scale", 2.0)), int(s.get("hr_resize_x", 0) or 0), int(s.get("hr_resize_y", 0) or 0),
        int(s.get("hr_second_pass_steps", 0) or 0), hr_sampler or HIRES_SAME, hr_sched or HIRES_SAME,
        rename_lora_tags(s.get("hr_prompt", ""), rename), s.get("hr_negative_prompt", ""),
        res.get("refiner", ""), float(s.get("refiner_switch_at", 1.0) or 1.0),
        "\n".join(warnings), text,
    ]
    return values, warnings


class ForgelineA1111Parameters(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        images = [NO_IMAGE] + files.input_images()
        return io.Schema(
            node_id="ForgelineA1111Parameters",
            display_name="A1111 Parameters",
            category="Forgeline/image",
            description="Reads an A1111 infotext (pasted, or from an image's PNG 'parameters' / EXIF UserComment) "
                        "with A1111's parser and outputs every field Forgeline reproduces: prompts with LoRA tags "
                        "renamed to local files found by hash, seeds, steps, CFG, sampler, scheduler, size, clip "
                        "skip, RNG, HiRes and refiner settings. Ignored fields are listed in 'warnings'.",
            inputs=[
                io.String.Input("text", multiline=True, default="",
                                tooltip="A1111 infotext (as A1111's 'PNG Info' shows it). Leave empty to read the "
                                        "image below."),
                io.Combo.Input("image", options=images, default=NO_IMAGE,
                               tooltip="An A1111/Forge PNG, JPEG or WebP in ComfyUI's input folder (upload it with a "
                                       "Load Image node). No upload widget here: its preview would fetch the "
                                       "'(none)' entry as a file."),
            ],
            outputs=[
                io.String.Output(display_name="positive"), io.String.Output(display_name="negative"),
                combo("checkpoint"), io.Int.Output(display_name="seed"),
                io.Int.Output(display_name="variation_seed"), io.Float.Output(display_name="variation_strength"),
                io.Int.Output(display_name="resize_seed_from_width"),
                io.Int.Output(display_name="resize_seed_from_height"),
                io.Int.Output(display_name="steps"), io.Float.Output(display_name="cfg"),
                combo("sampler_name"), combo("scheduler"),
                io.Int.Output(display_name="width"), io.Int.Output(display_name="height"),
                io.Int.Output(display_name="clip_skip"), combo("emphasis"),
                combo("noise_source"), io.Int.Output(display_name="ensd"),
                io.Float.Output(display_name="eta"), io.Boolean.Output(display_name="hires_enabled"),
                io.Float.Output(display_name="hires_denoise"), combo("hires_upscaler"),
                io.Float.Output(display_name="hires_upscale_by"), io.Int.Output(display_name="hires_resize_width"),
                io.Int.Output(display_name="hires_resize_height"), io.Int.Output(display_name="hires_steps"),
                combo("hires_sampler"), combo("hires_scheduler"),
                io.String.Output(display_name="hires_positive"), io.String.Output(display_name="hires_negative"),
                combo("refiner_checkpoint"), io.Float.Output(display_name="refiner_switch_at"),
                io.String.Output(display_name="warnings"), io.String.Output(display_name="parameters"),
            ],
        )

    @classmethod
    def validate_inputs(cls, text=None, image=None):
        if (not text or not str(text).strip()) and (not image or image == NO_IMAGE):
            return "paste an A1111 infotext into 'text' or choose an image with A1111 parameters"
        if image is not None and image != NO_IMAGE:
            problem = declared_inputs_problem(cls, {"image": image})
            if problem is not True:
                return problem
        if text and str(text).strip():
            if len(text) > MAX_TEXT:
                return f"text: {len(text)} characters, more than the {MAX_TEXT} of one infotext; paste one image's"
            params = parse_generation_parameters(str(text))
            steps = int(params["Steps"]) if str(params.get("Steps", "")).strip().isdigit() else 20
            for field, negative in (("Prompt", False), ("Negative prompt", True)):
                problem = prompt_problem(str(params.get(field) or ""), name=f"text: the {field}",
                                         steps=max(1, min(int(steps), 10_000)), negative=negative)
                if problem is not True:
                    return problem
        return True

    @classmethod
    def fingerprint_inputs(cls, text=None, image=None):
        if text and text.strip():
            return text
        try:
            path = files.input_file(image)
            return f"{image}|{os.path.getsize(path)}|{os.path.getmtime(path)}"
        except (ValueError, OSError):
            return image

    @classmethod
    def execute(cls, text, image) -> io.NodeOutput:
        values, warnings = parameters_outputs(read_infotext(text, image))
        for warning in warnings:
            log.warning("Forgeline A1111 Parameters: %s", warning)
        return io.NodeOutput(*values)


NODES = [ForgelineA1111Parameters]
