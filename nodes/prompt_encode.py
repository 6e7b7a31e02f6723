"""A1111 Prompt Encode: A1111's conditioning for a prompt, computed with ComfyUI's CLIP weights (§1, §5–§7).

Pipeline (A1111 order): strip ``<lora:…>`` tags (``lora.parse_extra_networks``; positive prompts only, as A1111
parses extra networks only there) → ``embedding:name`` to bare names → ``AND`` split with ``:w`` weights (not for a
negative prompt) → per part the prompt-editing schedule for each sampler mode (``steps``; ``2·steps`` for
second-order samplers; hires ``(first_total, hires_total)``) → ``prompt.tokenize_line`` on every distinct text
(A1111 token ids: ftfy clean-up, per-segment BPE, 75-token chunks, BREAK, comma backtrack, embeddings) → ONE batched
transformer run per encoder over every distinct chunk (ComfyUI's encoder ``encode`` on our ids, so LoRA patches on the
CLIP apply) → per part and mode A1111's emphasis over the batch of its schedule texts (duplicates counted, empty
chunks padding shorter texts, ``mean`` per 77-chunk; SDXL: CLIP-L and bigG separately) → parts padded to one
length by repeating their last vector (A1111 ``stack_conds``).

SD1: CLIP skip N uses ``hidden_states[-N]`` + final LN (``clip_layer(-N)``). SDXL: CLIP-L layer −2 and bigG
penultimate, both without LN, CLIP skip ignored (A1111 default), bigG tokens after the first EOS set to 0, pooled =
bigG pooled of chunk 0 before emphasis, size/crop/target conds from the inputs, and a negative prompt whose texts
are all empty is all zeros (crossattn and pooled; A1111 ``force_zero_embeddings``).

Each output entry also carries ``"forgeline_schedule"`` (see ``nodes/prompt_schedule.py``) and, when the prompt had
LoRA tags, ``"forgeline_lora_tags"``: the list of ``lora.parse_extra_networks`` LoRA entries (dicts with ``name``,
``te``, ``unet``, ``dyn``, ``lbw``, ``tag`` …) for the LoRA nodes to apply.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from comfy_api.latest import io, ui

from ..host.interrupt import check_interrupted
from ..limits import MAX_STEPS, check_encode_chunks, check_inputs, check_prompt, prompt_problem
from ..lora import lora_entries, parse_extra_networks
from ..lora.extra_networks import tag_warnings
from ..prompt import EMPHASIS_MODES, build_prompt_schedules, clip_special_ids, empty_chunk, tokenize_line
from . import embeddings as ti
from .prompt_schedule import SCHEDULE_KEY, merged_text_ranges, stock_percent_range

log = logging.getLogger("forgeline")

LORA_KEY = "forgeline_lora_tags"
ENCODE_BATCH = 32  # rows per transformer call (bounds memory for very long prompts)
_G_PAD = 0


@dataclass(frozen=True)
class EncodeOptions:
    emphasis: str = "Original"
    comma_padding_backtrack: int = 20
    clip_skip: int = 1
    steps: int = 20
    hires_steps: int = 0
    negative: bool = False
    use_old_scheduling: bool = False
    width: int = 1024
    height: int = 1024
    crop_w: int = 0
    crop_h: int = 0
    target_width: int = 1024
    target_height: int = 1024


def clip_encoders(clip):
    """``("sd1", ("l",))`` or ``("sdxl", ("l", "g"))`` for a ComfyUI CLIP object, else a clear error."""
    model = clip.cond_stage_model
    if hasattr(model, "clip_l") and hasattr(model, "clip_g"):
        return "sdxl", ("l", "g")
    if hasattr(model, "clip_l") and hasattr(clip.tokenizer, "clip_l"):
        return "sd1", ("l",)
    raise ValueError(f"A1111 Prompt Encode supports SD1.x and SDXL text encoders; this CLIP is "
                     f"{type(model).__name__}. Use ComfyUI's CLIPTextEncode for other model families.")


def schedule_modes(steps, hires_steps):
    """``{mode: (steps, hires_steps or None)}`` as A1111 ``setup_conds`` builds them (§3.4)."""
    modes = {"first": (steps, None), "second": (2 * steps, None)}
    if hires_steps > 0:
        modes["hires"] = (steps, hires_steps)
        modes["hires_second"] = (2 * steps, 2 * hires_steps)
    return modes


def encode_prompt(clip, text, opts: EncodeOptions):
    """The CONDITIONING list for ``text`` and the warnings to show; see the module docstring."""
    if not isinstance(text, str):
        raise ValueError(f"prompt text must be a string, got {type(text).__name__}")
    family, encoders = clip_encoders(clip)
    warnings = []
    lora_tags = []
    if opts.negative:
        if "<lora:" in text or "<lyco:" in text:
            warnings.append("LoRA tags in a negative prompt are plain text in A1111 (only the positive prompt's tags "
                            "are applied); they are encoded as words here too")
    else:
        text, networks = parse_extra_networks(text, strict=False)
        lora_tags = lora_entries(networks)
        warnings += tag_warnings(networks)
    found, notes = ti.load_embeddings(encoders)
    warnings += notes
    text, prefixed = ti.resolve_prefixed_names(text, found)
    warnings += prefixed
    embeddings = ti.usable(found)
    if family == "sdxl" and opts.clip_skip > 1:
        warnings.append(f"CLIP skip {opts.clip_skip} is ignored for SDXL, as in A1111 (both encoders use the "
                        "penultimate layer)")

    parts_by_mode = {mode: build_prompt_schedules(text, s, h, opts.use_old_scheduling, split_and=not opts.negative)
                     for mode, (s, h) in schedule_modes(opts.steps, opts.hires_steps).items()}
    for part in parts_by_mode["first"]:
        warnings += [f"{w} — in {part.text!r}" for w in part.warnings]

    tokenizer = clip.tokenizer.clip_l.tokenizer
    ids = clip_special_ids(tokenizer)
    chunks_of = {}
    for parts in parts_by_mode.values():
        for part in parts:
            for _end, variant in part.schedule:
                if variant not in chunks_of:
                    check_interrupted()
                    chunks_of[variant] = tokenize_line(variant, tokenizer, opts.comma_padding_backtrack,
                                                       embeddings=embeddings, emphasis=opts.emphasis)[0]
    check_encode_chunks(chunks_of)
    blank = empty_chunk(ids)
    encoded = run_encoders(clip, family, encoders, [blank] + [c for cs in chunks_of.values() for c in cs], ids,
                           opts.clip_skip)

    conditioning = []
    for mode, parts in parts_by_mode.items():
        tensors = [emphasize_part(part, chunks_of, blank, encoded, encoders, opts.emphasis) for part in parts]
        if family == "sdxl" and opts.negative and all(v == "" for p in parts for _, v in p.schedule):
            tensors = [{v: (torch.zeros_like(z), torch.zeros_like(pooled)) for v, (z, pooled) in t.items()}
                       for t in tensors]
        pad_to_common_length(tensors)
        for index, (part, by_text) in enumerate(zip(parts, tensors)):
            for first, last, variant in merged_text_ranges(part.schedule):
                z, pooled = by_text[variant]
                start, end = stock_percent_range(mode, first, last, opts.steps)
                extra = {"pooled_output": pooled, "start_percent": start, "end_percent": end,
                         SCHEDULE_KEY: {"mode": mode, "first_call": first, "last_call": last, "part": index,
                                        "weight": part.weight, "base_steps": opts.steps,
                                        "hires_steps": opts.hires_steps}}
                if part.weight != 1.0:
                    extra["strength"] = part.weight if part.weight > 0 else 1e-4
                if family == "sdxl":
                    extra.update(width=opts.width, height=opts.height, crop_w=opts.crop_w, crop_h=opts.crop_h,
                                 target_width=opts.target_width, target_height=opts.target_height)
                if lora_tags:
                    extra[LORA_KEY] = lora_tags
                conditioning.append([z, clip.add_hooks_to_dict(extra)])
    if any(p.weight <= 0 for p in parts_by_mode["first"]):
        warnings.append("an AND part has weight <= 0: only A1111 Prompt Editing Steps (or Forgeline samplers) "
                        "compose it as A1111 does; the stock KSampler cannot")
    return conditioning, warnings


def _rows_for(chunk, encoder, ids):
    tokens = list(chunk.tokens)
    if encoder == "g":  # OpenCLIP bigG: pad 0 after the first EOS (A1111 id_pad = 0)
        end = tokens.index(ids.end) + 1
        tokens[end:] = [_G_PAD] * (len(tokens) - end)
    if not chunk.fixes:
        return tokens
    items, position = [], 0
    for fix in sorted(chunk.fixes, key=lambda f: f.offset):
        start = fix.offset + 1
        items += tokens[position:start]
        items.append(ti.embedding_rows(fix.embedding.source, encoder))
        position = start + fix.embedding.vectors
    return items + tokens[position:]


def _chunk_key(chunk):
    return tuple(chunk.tokens), tuple((f.offset, f.embedding.name) for f in chunk.fixes)


def run_encoders(clip, family, encoders, chunks, ids, clip_skip=1):
    """Run each encoder once (in batches of ``ENCODE_BATCH``) over the distinct chunks.

    Returns ``{chunk_key: {encoder: (z [77, C] float32, pooled [D] or None)}}``.
    """
    import comfy.model_management as mm

    distinct = {}
    for chunk in chunks:
        distinct.setdefault(_chunk_key(chunk), chunk)
    keys = list(distinct)
    layer = -clip_skip if family == "sd1" and clip_skip > 1 else None
    model = clip.cond_stage_model
    model.reset_clip_options()
    if layer is not None:
        model.set_clip_options({"layer": layer})
    out = {key: {} for key in keys}
    try:
        clip.load_model()
        with torch.no_grad():
            for encoder in encoders:
                module = getattr(model, f"clip_{encoder}")
                for begin in range(0, len(keys), ENCODE_BATCH):
                    batch = keys[begin:begin + ENCODE_BATCH]
                    z, pooled = module.encode([_rows_for(distinct[k], encoder, ids) for k in batch])[:2]
                    z = z.float().to(mm.intermediate_device())
                    pooled = pooled.float().to(mm.intermediate_device()) if pooled is not None else None
                    for row, key in enumerate(batch):
                        out[key][encoder] = (z[row], pooled[row] if pooled is not None else None)
                    mm.throw_exception_if_processing_interrupted()
    finally:
        model.reset_clip_options()
    return out


def emphasize_part(part, chunks_of, blank, encoded, encoders, emphasis):
    """``{text: (z [1, 77·k, C_total], pooled [1, D])}`` for one AND part's schedule batch (A1111 §5.5, §6).

    The batch rows are the schedule texts in order, duplicates included; ``Original`` restores each chunk's mean
    over the whole batch (all rows, all positions, all channels), per encoder.
    """
    rows = [variant for _, variant in part.schedule]
    counts = {}
    for variant in rows:
        counts[variant] = counts.get(variant, 0) + 1
    k = max(len(chunks_of[v]) for v in counts)
    per_text = {v: [] for v in counts}
    for i in range(k):
        chunk_of = {v: chunks_of[v][i] if i < len(chunks_of[v]) else blank for v in counts}
        for encoder in encoders:
            z = {v: encoded[_chunk_key(c)][encoder][0] for v, c in chunk_of.items()}
            weights = {v: torch.tensor(c.multipliers, dtype=torch.float32) for v, c in chunk_of.items()}
            for v, out in _emphasis(z, weights, counts, len(rows), emphasis).items():
                per_text[v].append((encoder, out))
    result = {}
    for v in counts:
        by_chunk = [torch.cat([z for enc, z in per_text[v][i * len(encoders):(i + 1) * len(encoders)]], dim=-1)
                    for i in range(k)]
        pooled_encoder = encoders[-1]
        pooled = encoded[_chunk_key(chunks_of[v][0])][pooled_encoder][1]
        result[v] = (torch.cat(by_chunk, dim=0).unsqueeze(0),
                     pooled.unsqueeze(0) if pooled is not None else None)
    return result


def _emphasis(z, weights, counts, batch, emphasis):
    """A1111 emphasis on one chunk batch given as distinct rows with multiplicities (linear, so exact)."""
    if emphasis in ("Ignore", "None"):
        return dict(z)
    weighted = {v: z[v] * weights[v].to(z[v].device).unsqueeze(-1) for v in z}
    if emphasis == "No norm":
        return weighted
    numel = batch * next(iter(z.values())).numel()
    original_mean = sum(counts[v] * z[v].double().sum() for v in z) / numel
    new_mean = sum(counts[v] * weighted[v].double().sum() for v in z) / numel
    scale = (original_mean / new_mean).float()
    return {v: weighted[v] * scale for v in z}


def pad_to_common_length(tensors):
    """A1111 ``stack_conds``: shorter parts repeat their last token vector up to the longest part."""
    longest = max(z.shape[1] for t in tensors for z, _ in t.values())
    for t in tensors:
        for v, (z, pooled) in t.items():
            if z.shape[1] < longest:
                z = torch.cat([z, z[:, -1:].expand(-1, longest - z.shape[1], -1)], dim=1)
                t[v] = (z, pooled)


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
                             tooltip="A1111 'Clip skip' (1 = last layer). Ignored for SDXL, as in A1111."),
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
                old_prompt_editing_timelines=False) -> io.NodeOutput:
        check_prompt(text, "text", steps, hires_steps, negative, bool(old_prompt_editing_timelines))
        opts = EncodeOptions(emphasis, comma_padding_backtrack, clip_skip, steps, hires_steps, negative,
                             bool(old_prompt_editing_timelines), width, height, crop_w, crop_h, target_width,
                             target_height)
        conditioning, warnings = encode_prompt(clip, text, opts)
        for warning in warnings:
            log.warning("Forgeline A1111 Prompt Encode: %s", warning)
        if warnings:
            return io.NodeOutput(conditioning, ui=ui.PreviewText("\n".join(f"⚠ {w}" for w in warnings)))
        return io.NodeOutput(conditioning)


NODES = [ForgelinePromptEncode]
