"""A1111 Prompt Encode: A1111's conditioning for a prompt, computed with ComfyUI's CLIP weights.

The rule is ``prompt/conditioning.py`` (AUTOMATIC1111/stable-diffusion-webui ``modules/sd_hijack_clip.py``,
``modules/prompt_parser.py``); the encoders run through ``host/clip.py`` as ComfyUI's own ``encode_from_tokens``
runs them. Each output entry carries ``"forgeline_schedule"`` (``prompt/step_schedule.py``) and, when the prompt had
LoRA tags, ``"forgeline_lora_tags"`` for Forgeline's LoRA nodes.
"""
from __future__ import annotations

import logging

from comfy_api.latest import io, ui

from ..host import clip as host_clip
from ..host.model_folders import folders
from ..prompt import EMPHASIS_MODES
from ..prompt.conditioning import EncodeOptions, prompt_conditioning
from ..prompt.embedding_files import load_embeddings
from ..limits import MAX_STEPS, check_inputs, check_prompt, prompt_problem  # noqa: F401

log = logging.getLogger("forgeline")

LORA_KEY = "forgeline_lora_tags"


def encode_prompt(clip, text, opts: EncodeOptions):
    """The CONDITIONING list for ``text`` and the warnings to show."""
    family, encoders = host_clip.clip_family(clip)
    found, notes = load_embeddings(encoders, folders("embeddings"))
    with host_clip.prepared_encoders(clip, family, opts) as encode_rows:
        entries, warnings, lora_tags = prompt_conditioning(text, opts, family, encoders,
                                                           host_clip.clip_tokenizer(clip), found, encode_rows)
    return host_clip.to_conditioning(clip, entries, lora_tags, LORA_KEY), notes + warnings


class ForgelinePromptEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ForgelinePromptEncode",
            display_name="A1111 Prompt Encode",
            category="Forgeline/conditioning",
            description="Encodes a prompt exactly as A1111/reForge does: (word:1.2), [word], BREAK, AND with :weights, "
                        "prompt editing [a:b:step], [a|b], textual-inversion names, emphasis modes, CLIP skip, SDXL "
                        "size conds and zeroed empty negative. Prompt editing switches at A1111's exact step with "
                        "Forgeline samplers or the 'A1111 Prompt Editing Steps' node; the stock KSampler switches by "
                        "timestep percent (step/steps), which can land a step earlier or later. <lora:…> tags are "
                        "removed from the text and passed on in the conditioning for Forgeline's LoRA nodes.",
            inputs=[
                io.Clip.Input("clip", tooltip="SD1.x or SDXL CLIP from the checkpoint loader."),
                io.String.Input("text", multiline=True, dynamic_prompts=False, default="",
                                tooltip="A1111 prompt syntax. {a|b} and // are kept as written (no dynamic prompts)."),
                io.Boolean.Input("negative", default=False,
                                 tooltip="On for the negative prompt: no AND split or :weight (A1111 encodes the "
                                         "negative as one text), and on SDXL an empty negative is all zeros."),
                io.Combo.Input("emphasis", options=list(EMPHASIS_MODES), default="Original",
                               tooltip="A1111 'Emphasis mode': Original multiplies and restores the mean; No norm "
                                       "only multiplies; Ignore parses but does not weight; None does not parse."),
                io.Int.Input("comma_padding_backtrack", default=20, min=0, max=74,
                             tooltip="A1111 'Prompt word wrap length limit': move up to this many tokens after the "
                                     "last comma to the next 75-token chunk (0 = off)."),
                io.Int.Input("clip_skip", default=1, min=1, max=12,
                             tooltip="A1111 'Clip skip' (1 = last layer). Ignored for SDXL unless sdxl_clip_l_skip is on, as in A1111."),
                io.Int.Input("steps", default=20, min=1, max=10000,
                             tooltip="Sampling steps, for prompt editing [a:b:0.5] / [a:b:10]; set it to the "
                                     "sampler's steps."),
                io.Int.Input("hires_steps", default=0, min=0, max=10000,
                             tooltip="Hires pass steps (0 = no hires pass) for schedules like [a:b:1.5]."),
                io.Int.Input("width", default=1024, min=0, max=16384, step=8, tooltip="SDXL: image width."),
                io.Int.Input("height", default=1024, min=0, max=16384, step=8, tooltip="SDXL: image height."),
                io.Int.Input("crop_w", default=0, min=0, max=16384, step=8, tooltip="SDXL: crop left."),
                io.Int.Input("crop_h", default=0, min=0, max=16384, step=8, tooltip="SDXL: crop top."),
                io.Int.Input("target_width", default=1024, min=0, max=16384, step=8,
                             tooltip="SDXL: target width (A1111 uses the image width)."),
                io.Int.Input("target_height", default=1024, min=0, max=16384, step=8,
                             tooltip="SDXL: target height (A1111 uses the image height)."),
                io.Boolean.Input("old_prompt_editing_timelines", default=False, optional=True,
                                 tooltip="A1111 'Use old prompt editing timelines' (numbers < 1 are fractions)."),
                io.Boolean.Input("sdxl_clip_l_skip", default=False, optional=True,
                                 tooltip="A1111 1.10 'Clip skip SDXL': apply clip_skip to SDXL's CLIP-L "
                                         "(hidden layer -N, no final norm); bigG keeps its penultimate layer."),
            ],
            outputs=[io.Conditioning.Output()],
        )

    @classmethod
    def validate_inputs(cls, text=None, negative=None, steps=None, hires_steps=None,
                        old_prompt_editing_timelines=None):
        limit = check_inputs(steps=(steps, 1, MAX_STEPS), hires_steps=(hires_steps, 0, MAX_STEPS))
        if limit is not True or text is None:
            return limit
        return prompt_problem(text, "text", steps=steps or 20, hires_steps=hires_steps or 0, negative=bool(negative),
                              use_old_scheduling=bool(old_prompt_editing_timelines))

    @classmethod
    def execute(cls, clip, text, negative, emphasis, comma_padding_backtrack, clip_skip, steps, hires_steps, width,
                height, crop_w, crop_h, target_width, target_height,
                old_prompt_editing_timelines=False, sdxl_clip_l_skip=False) -> io.NodeOutput:
        check_prompt(text, "text", steps, hires_steps, negative, bool(old_prompt_editing_timelines))
        opts = EncodeOptions(emphasis, comma_padding_backtrack, clip_skip, steps, hires_steps, negative,
                             bool(old_prompt_editing_timelines), width, height, crop_w, crop_h, target_width,
                             target_height, bool(sdxl_clip_l_skip))
        conditioning, warnings = encode_prompt(clip, text, opts)
        for warning in warnings:
            log.warning("Forgeline A1111 Prompt Encode: %s", warning)
        if warnings:
            return io.NodeOutput(conditioning, ui=ui.PreviewText("\n".join(f"(!) {w}" for w in warnings)))
        return io.NodeOutput(conditioning)


NODES = [ForgelinePromptEncode]
