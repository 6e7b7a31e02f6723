"""Prompt limits: length, BREAK / AND / LoRA-tag counts, schedule variants, finite weights, chunk counts.

:func:`check_prompt` runs A1111's front half of the pipeline (extra-network tags, ``AND`` split, prompt-editing
schedules, emphasis) on the text alone, without a tokenizer or model, so a node's ``validate_inputs`` can refuse a
prompt that would take unbounded work (one CLIP encode per 75-token chunk and schedule variant, one model call per
``AND`` part per step) or give NaN conditioning. :func:`check_encode_chunks` bounds the chunks after tokenization,
before the text encoder runs. Limits: ``limits/__init__.py``.
"""
import math

from .checks import LimitError, check_steps
from .values import (MAX_AND_PARTS, MAX_BREAKS, MAX_CHUNKS, MAX_ENCODE_CHUNKS, MAX_LORA_TAGS, MAX_PROMPT_CHARS,
                     MAX_PROMPT_WEIGHT, MAX_SCHEDULE_VARIANTS)


def _span(text, start, end, context=30):
    s = text[max(0, start - context):min(len(text), end + context)]
    return repr(s if len(s) <= 90 else s[:90] + "...")


def _count_break(text):
    """Number of whole-word ``BREAK`` keywords (A1111 ``\\bBREAK\\b``), counted with ``str.find``."""
    count, i = 0, text.find("BREAK")
    while i >= 0:
        before = text[i - 1] if i else " "
        after = text[i + 5] if i + 5 < len(text) else " "
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            count += 1
        i = text.find("BREAK", i + 5)
    return count


def check_prompt(text, name="text", steps=20, hires_steps=0, negative=False, use_old_scheduling=False,
                 tags_only=False):
    """Raise :class:`LimitError` naming ``name`` when ``text`` breaks a prompt limit; return ``None`` otherwise.

    ``steps``/``hires_steps`` are the prompt node's (schedules are built for ``steps`` and ``2 * steps``, as the
    node does for second-order samplers, and for the hires pass). ``tags_only`` checks only length and the LoRA
    tags (the *Apply Prompt LoRA Tags* node). A syntax error that A1111 also reports (``(a:1.2.3)``) is left to the
    node, which raises it with A1111's message.
    """
    from ..lora.extra_networks import TagNumberError, parse_extra_networks
    from ..prompt.attention import parse_prompt_attention
    from ..prompt.multicond import get_multicond_prompt_list
    from ..prompt.schedules import ScheduleNumberError, schedule_variant_bound

    if not isinstance(text, str):
        raise LimitError(f"{name}: a prompt must be text, got {type(text).__name__}")
    if len(text) > MAX_PROMPT_CHARS:
        raise LimitError(f"{name}: the prompt has {len(text)} characters, above the limit of {MAX_PROMPT_CHARS}; "
                         "shorten it (a CLIP chunk holds 75 tokens, about 300 characters)")
    if not negative:
        try:
            text, networks = parse_extra_networks(text, strict=False)
        except TagNumberError as e:
            raise LimitError(f"{name}: {e}") from None
        tags = sum(len(entries) for entries in networks.values())
        if tags > MAX_LORA_TAGS:
            raise LimitError(f"{name}: {tags} extra-network tags (<lora:...>), above the limit of {MAX_LORA_TAGS}; "
                             "remove some or merge LoRAs")
    if tags_only:
        return
    breaks = _count_break(text)
    if breaks > MAX_BREAKS:
        raise LimitError(f"{name}: {breaks} BREAK keywords, above the limit of {MAX_BREAKS} (each starts a 75-token "
                         f"chunk, at most {MAX_CHUNKS} chunks); remove some BREAKs")
    steps = check_steps("steps", steps)
    hires_steps = check_steps("hires_steps", hires_steps, lo=0)
    if negative:
        parts = [(text, 1.0)]
    else:
        (indexes,), flat, _ = get_multicond_prompt_list([text])
        parts = [(flat[index], weight) for index, weight in indexes]
        if len(parts) > MAX_AND_PARTS:
            raise LimitError(f"{name}: {len(parts)} AND sub-prompts, above the limit of {MAX_AND_PARTS} (each one is "
                             "a model call per step); remove some AND parts")
        for part, weight in parts:
            if not math.isfinite(weight) or abs(weight) > MAX_PROMPT_WEIGHT:
                raise LimitError(f"{name}: the AND weight {weight!r} of {_span(part, len(part), len(part))} is not a "
                                 f"finite number within +/-{MAX_PROMPT_WEIGHT:g}; write e.g. 'cat AND dog:0.8'")
    modes = [(steps, None), (2 * steps, None)]
    if hires_steps:
        modes += [(steps, hires_steps), (2 * steps, 2 * hires_steps)]
    for s, h in modes:
        try:
            variants = sum(schedule_variant_bound(part, s, h, use_old_scheduling) for part, _ in parts)
        except ScheduleNumberError as e:
            raise LimitError(f"{name}: {e}") from None
        if variants > MAX_SCHEDULE_VARIANTS:
            raise LimitError(f"{name}: prompt editing gives up to {variants} different texts over {s} steps, above the "
                             f"limit of {MAX_SCHEDULE_VARIANTS} (each is encoded); use fewer [a|b] alternations or "
                             "[a:b:n] edits")
    for part, _ in parts:
        try:
            pieces = parse_prompt_attention(part)
        except ValueError:
            continue  # A1111's own syntax error: the node raises it with A1111's message
        position = 0
        for piece, weight in pieces:
            if weight != -1 and (not math.isfinite(weight) or abs(weight) > MAX_PROMPT_WEIGHT):
                at = part.find(piece, position) if piece else position
                raise LimitError(f"{name}: the emphasis weight of {_span(part, at, at + len(piece))} is {weight!r}, "
                                 f"not a finite number within +/-{MAX_PROMPT_WEIGHT:g} (nested brackets multiply by "
                                 "1.1 each); write (text:1.2) instead of many brackets or a huge number")
            position += len(piece)


def prompt_problem(text, name="text", **options):
    """``True`` or the message of :func:`check_prompt` (for ``validate_inputs``)."""
    try:
        check_prompt(text, name, **options)
    except ValueError as e:
        return str(e)
    return True


def check_chunk_count(chunks, text, name="text"):
    """One prompt text tokenized into ``chunks`` 75-token chunks: at most :data:`MAX_CHUNKS`."""
    if chunks > MAX_CHUNKS:
        raise LimitError(f"{name}: {_span(text, 0, 0)} is {chunks} chunks of 75 tokens, above the limit of "
                         f"{MAX_CHUNKS} (one text-encoder run each); shorten the prompt")


def check_encode_chunks(chunks_of, name="text"):
    """``{text: [chunk, ...]}`` about to be encoded: each text within :data:`MAX_CHUNKS`, all within
    :data:`MAX_ENCODE_CHUNKS`, and every token weight finite within :data:`MAX_PROMPT_WEIGHT`."""
    total = 0
    for text, chunks in chunks_of.items():
        check_chunk_count(len(chunks), text, name)
        total += len(chunks)
        for chunk in chunks:
            for weight in chunk.multipliers:
                if not math.isfinite(weight) or abs(weight) > MAX_PROMPT_WEIGHT:
                    raise LimitError(f"{name}: a token weight of {weight!r} in {_span(text, 0, 0)} is not a finite "
                                     f"number within +/-{MAX_PROMPT_WEIGHT:g}; write (text:1.2) instead")
    if total > MAX_ENCODE_CHUNKS:
        raise LimitError(f"{name}: the prompt needs {total} chunk encodes (AND parts x edited variants x 75-token "
                         f"chunks), above the limit of {MAX_ENCODE_CHUNKS}; shorten it or use fewer edits")
