"""A1111 conditioning for one prompt, from token ids to per-schedule tensors, with the text encoder passed in.

Pipeline (AUTOMATIC1111/stable-diffusion-webui order, ``modules/processing.py`` ``setup_conds`` →
``modules/prompt_parser.py`` → ``modules/sd_hijack_clip.py``): strip ``<lora:…>`` tags (``modules/extra_networks.py``
``parse_prompt``; positive prompts only, A1111 parses extra networks only there) → ComfyUI's ``embedding:name`` to
the bare name → ``AND`` split with ``:w`` weights (not for a negative prompt) → per part the prompt-editing schedule
for each sampler mode (``schedule_modes``: ``steps``; ``2·steps`` for second-order samplers; hires
``(first_total, hires_total)``) → ``tokenize_line`` on every distinct text → every distinct chunk row encoded once per
encoder (``encode_rows``, batched by ``ENCODE_BATCH``) → per part and mode ``encode_chunks`` (the one A1111 driver:
chunks concatenated, emphasis over the batch of the schedule's texts with duplicates, pooled of chunk 0 before
emphasis; SDXL: CLIP-L and bigG each with their own emphasis, then concatenated on channels) → parts padded to one
length by repeating their last vector (``modules/prompt_parser.py`` ``stack_conds``).

``encode_rows(encoder, rows) -> (z [n, 77, C], pooled [n, D] or None)`` runs one text encoder (``"l"`` CLIP-L,
``"g"`` OpenCLIP bigG) on ``rows``: lists of 77 items, each a token id or a ``[k, C]`` tensor of embedding rows that
replaces ``k`` ids (the ComfyUI convention for textual inversion). The host supplies it (``host/clip.py``).

SDXL: bigG tokens after the first EOS are set to 0 (A1111 ``id_pad = 0`` for OpenCLIP); a negative prompt whose texts
are all empty is all zeros (A1111 ``force_zero_negative_prompt`` / ``sdxl`` ``force_zero_embeddings``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..limits import check_encode_chunks
from ..lora import lora_entries, parse_extra_networks
from ..lora.extra_networks import tag_warnings
from .chunking import clip_special_ids, empty_chunk, tokenize_line
from .embedding_files import embedding_rows, resolve_prefixed_names, usable
from .encode import encode_chunks
from .step_schedule import SCHEDULE_KEY, merged_text_ranges, stock_percent_range
from .subprompt_schedules import build_prompt_schedules

ENCODE_BATCH = 32  # rows per encoder call (bounds memory for very long prompts)
G_PAD = 0


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
    sdxl_clip_l_skip: bool = False


@dataclass
class ConditioningEntry:
    """One ComfyUI cond entry: the cross-attention tensor, the pooled vector and the entry's extra keys."""
    z: torch.Tensor
    pooled: torch.Tensor | None
    extra: dict


def schedule_modes(steps, hires_steps):
    """``{mode: (steps, hires_steps or None)}`` as A1111 ``setup_conds`` builds them."""
    modes = {"first": (steps, None), "second": (2 * steps, None)}
    if hires_steps > 0:
        modes["hires"] = (steps, hires_steps)
        modes["hires_second"] = (2 * steps, 2 * hires_steps)
    return modes


def clip_layers(family, opts):
    """``{encoder: hidden layer index or None}`` for A1111's CLIP skip.

    SD1: ``hidden_states[-N]`` + final LN for N > 1 (``FrozenCLIPEmbedderWithCustomWords.encode_with_transformers``).
    SDXL: CLIP skip is ignored by default (CLIP-L and bigG at their penultimate layer, no LN); with A1111 1.10's
    ``sdxl_clip_l_skip`` option CLIP-L takes ``hidden_states[-N]`` (no LN; N = 1 is the last layer) and bigG stays.
    """
    if family == "sd1":
        return {"l": -opts.clip_skip if opts.clip_skip > 1 else None}
    return {"l": -opts.clip_skip if opts.sdxl_clip_l_skip else None, "g": None}


def chunk_rows(chunk, encoder, ids):
    """The 77 encoder items of ``chunk``: token ids (bigG: 0 after the first EOS) with embedding rows spliced in."""
    tokens = _padded(chunk, encoder, ids)
    if not chunk.fixes:
        return tokens
    items, position = [], 0
    for fix in sorted(chunk.fixes, key=lambda f: f.offset):
        start = fix.offset + 1
        items += tokens[position:start]
        items.append(embedding_rows(fix.embedding.source, encoder))
        position = start + fix.embedding.vectors
    return items + tokens[position:]


def _row_key(tokens, fixes):
    return tuple(int(t) for t in tokens), tuple((f.offset, f.embedding.name) for f in fixes)


def encode_distinct(chunks, encoders, ids, encode_rows):
    """``{(encoder, row key): (z [77, C] float32, pooled [D] or None)}`` with every distinct row encoded once."""
    out = {}
    for encoder in encoders:
        distinct = {}
        for chunk in chunks:
            key = _row_key(_padded(chunk, encoder, ids), chunk.fixes)
            if key not in distinct:
                distinct[key] = chunk_rows(chunk, encoder, ids)
        keys = list(distinct)
        for begin in range(0, len(keys), ENCODE_BATCH):
            batch = keys[begin:begin + ENCODE_BATCH]
            z, pooled = encode_rows(encoder, [distinct[k] for k in batch])
            for row, key in enumerate(batch):
                out[(encoder, key)] = (z[row].float(), pooled[row].float() if pooled is not None else None)
    return out


def _padded(chunk, encoder, ids):
    tokens = list(chunk.tokens)
    if encoder == "g":
        end = tokens.index(ids.end) + 1
        tokens[end:] = [G_PAD] * (len(tokens) - end)
    return tokens


def part_tensors(part, chunks_of, encoded, encoders, ids, emphasis):
    """``{text: (z [1, 77·k, C_total], pooled [1, D] or None)}`` for one AND part's schedule batch."""
    rows = [variant for _, variant in part.schedule]
    per_encoder = []
    for encoder in encoders:
        def lookup(tokens, fixes, encoder=encoder):
            found = [encoded[(encoder, _row_key(t.tolist(), f))] for t, f in zip(tokens, fixes)]
            pooled = None if found[0][1] is None else torch.stack([p for _, p in found])
            return torch.stack([z for z, _ in found]), pooled
        z, pooled = encode_chunks([chunks_of[v] for v in rows], lookup, emphasis, ids.start, ids.end,
                                  G_PAD if encoder == "g" else None, pass_fixes=True)
        per_encoder.append((z, pooled))
    z_all = torch.cat([z for z, _ in per_encoder], dim=-1)
    pooled_all = per_encoder[-1][1]
    result = {}
    for index, variant in enumerate(rows):
        if variant not in result:
            result[variant] = (z_all[index:index + 1],
                               pooled_all[index:index + 1] if pooled_all is not None else None)
    return result


def pad_to_common_length(tensors):
    """A1111 ``stack_conds``: shorter parts repeat their last token vector up to the longest part."""
    longest = max(z.shape[1] for t in tensors for z, _ in t.values())
    for t in tensors:
        for v, (z, pooled) in t.items():
            if z.shape[1] < longest:
                t[v] = (torch.cat([z, z[:, -1:].expand(-1, longest - z.shape[1], -1)], dim=1), pooled)


def prepare_text(text, negative, found_embeddings):
    """``(text, lora_tags, warnings)`` after A1111's extra-network and embedding-name handling."""
    if not isinstance(text, str):
        raise ValueError(f"prompt text must be a string, got {type(text).__name__}")
    warnings, lora_tags = [], []
    if negative:
        if "<lora:" in text or "<lyco:" in text:
            warnings.append("LoRA tags in a negative prompt are plain text in A1111 (only the positive prompt's tags "
                            "are applied); they are encoded as words here too")
    else:
        text, networks = parse_extra_networks(text, strict=False)   # a bad tag is skipped, as A1111 does
        lora_tags = lora_entries(networks)
        warnings += tag_warnings(networks)
    text, prefixed = resolve_prefixed_names(text, found_embeddings)
    return text, lora_tags, warnings + prefixed


def prompt_conditioning(text, opts: EncodeOptions, family, encoders, tokenizer, found_embeddings, encode_rows):
    """``(entries, warnings, lora_tags)`` for ``text``: one ``ConditioningEntry`` per (mode, AND part, text, call
    range), each carrying ``SCHEDULE_KEY`` (see ``prompt/step_schedule.py``) and the stock fallback percent range."""
    text, lora_tags, warnings = prepare_text(text, opts.negative, found_embeddings)
    embeddings = usable(found_embeddings)
    if family == "sdxl" and opts.clip_skip > 1 and not opts.sdxl_clip_l_skip:
        warnings.append(f"CLIP skip {opts.clip_skip} is ignored for SDXL, as in A1111 (both encoders use the "
                        "penultimate layer); turn on sdxl_clip_l_skip to apply it to CLIP-L as A1111 1.10 can")
    parts_by_mode = {mode: build_prompt_schedules(text, s, h, opts.use_old_scheduling, split_and=not opts.negative)
                     for mode, (s, h) in schedule_modes(opts.steps, opts.hires_steps).items()}
    for part in parts_by_mode["first"]:
        warnings += [f"{w} - in {part.text!r}" for w in part.warnings]

    ids = clip_special_ids(tokenizer)
    chunks_of = {}
    for parts in parts_by_mode.values():
        for part in parts:
            for _end, variant in part.schedule:
                if variant not in chunks_of:
                    chunks_of[variant] = tokenize_line(variant, tokenizer, opts.comma_padding_backtrack,
                                                       embeddings=embeddings, emphasis=opts.emphasis)[0]
    check_encode_chunks(chunks_of)
    all_chunks = [empty_chunk(ids)] + [c for cs in chunks_of.values() for c in cs]
    encoded = encode_distinct(all_chunks, encoders, ids, encode_rows)

    entries = []
    for mode, parts in parts_by_mode.items():
        tensors = [part_tensors(part, chunks_of, encoded, encoders, ids, opts.emphasis) for part in parts]
        if family == "sdxl" and opts.negative and all(v == "" for p in parts for _, v in p.schedule):
            tensors = [{v: (torch.zeros_like(z), torch.zeros_like(pooled)) for v, (z, pooled) in t.items()}
                       for t in tensors]
        pad_to_common_length(tensors)
        for index, (part, by_text) in enumerate(zip(parts, tensors)):
            for first, last, variant in merged_text_ranges(part.schedule):
                z, pooled = by_text[variant]
                start, end = stock_percent_range(mode, first, last, opts.steps)
                extra = {"start_percent": start, "end_percent": end,
                         SCHEDULE_KEY: {"mode": mode, "first_call": first, "last_call": last, "part": index,
                                        "weight": part.weight, "base_steps": opts.steps,
                                        "hires_steps": opts.hires_steps}}
                if part.weight != 1.0:
                    extra["strength"] = part.weight if part.weight > 0 else 1e-4
                if family == "sdxl":
                    extra.update(width=opts.width, height=opts.height, crop_w=opts.crop_w, crop_h=opts.crop_h,
                                 target_width=opts.target_width, target_height=opts.target_height)
                entries.append(ConditioningEntry(z, pooled, extra))
    if any(p.weight <= 0 for p in parts_by_mode["first"]):
        warnings.append("an AND part has weight <= 0: only A1111 Prompt Editing Steps (or Forgeline samplers) "
                        "compose it as A1111 does; the stock KSampler cannot")
    return entries, warnings, lora_tags
