"""Prompt highlighting and diagnostics for the editor, decided by the pack's own A1111 parsers.

A1111 processes a prompt in this order (``modules/extra_networks.py``, ``prompt_parser.py``):
extra-network tags ``<lora:…>`` are cut out, the rest is split on ``AND`` (each part may end in
``:NUM``), each part is parsed by the prompt-editing grammar (``[a:b:N]``, ``[a|b]``), and every scheduled text is
parsed for attention (``(x)``, ``[x]``, ``(x:1.2)``, ``BREAK``). ``lint_prompt`` follows the same order on the raw
text, blanking what each stage consumed (same length, so offsets stay source offsets), and returns

- ``tokens``: non-overlapping ``{start, end, kind, title}`` spans to colour: ``lora``, ``and``, ``edit`` (editing
  brackets/separators), ``edit-number``, ``emphasis`` (brackets), ``weight`` (the ``:1.2`` of ``(x:1.2)``),
  ``break``, ``escape``;
- ``diagnostics``: ``{start, end, severity, message}``. Errors are what the real parsers reject — a LoRA tag
  ``parse_extra_networks`` refuses, a prompt ``parse_schedule_prompt`` cannot parse (A1111 then disables all prompt
  editing), a schedule number ``prompt_schedule`` cannot use, an emphasis weight ``parse_prompt_attention``
  cannot read (A1111 raises). Warnings are legal but surprising A1111 behaviour: unbalanced brackets, ``BREAK``
  inside brackets (it becomes the word "break"), ambiguous constructs, LoRA names the server does not have.

The error *decisions* come from calling the parsers in ``prompt/`` and ``lora/``; this module only locates them.
"""
from __future__ import annotations

import re

from ..lora.extra_networks import EXTRA_NETWORK_RE, LORA_TAG_TYPES, parse_extra_networks
from .attention import parse_prompt_attention
from .multicond import split_weight
from .schedule_grammar import Alternate, Scheduled, ScheduleSyntaxError, parse_schedule_prompt
from .schedules import prompt_schedule

_AND = re.compile(r"\bAND\b")
_BREAK = re.compile(r"\bBREAK\b")
# The attention lexer of prompt/attention.py (A1111 re_attention), restated with positions kept.
_ATTENTION = re.compile(r"""(?P<escape>\\[()\[\]\\]?)|(?P<open>[(\[])|(?P<weight>:\s*[+-]?[.\d]+\s*\))|(?P<close>[)\]])""")
_NUMBER_IN_WEIGHT = re.compile(r"[+-]?[.\d]+")


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def lint_prompt(text: str, steps: int = 20, known_loras=None, and_split: bool = True) -> dict:
    """Tokens and diagnostics for ``text`` (see the module docstring); ``known_loras`` enables unknown-name warnings.

    ``and_split=False`` for a negative prompt: A1111 encodes it as one text, so ``AND`` and a trailing ``:NUM``
    are plain words there."""
    if not isinstance(text, str):
        raise ValueError(f"lint_prompt needs the prompt text, got {type(text).__name__}")
    steps = max(1, int(steps))
    tokens, diags = [], []
    masked = _lint_loras(text, tokens, diags, known_loras)
    for part_start, part_end in (_and_parts(masked, tokens) if and_split else [(0, len(masked))]):
        part = masked[part_start:part_end]
        if and_split:
            part = part[:len(split_weight(part)[0])]
        if not part.strip():
            continue
        edited = _lint_editing(part, part_start, steps, tokens, diags)
        located = _lint_attention(edited, part_start, tokens, diags)
        for text_at_step in _scheduled_texts(part, steps):
            try:
                parse_prompt_attention(text_at_step)
            except ValueError as exc:
                if not located:  # the parser refuses something the lexer did not pin down: mark the whole part
                    diags.append(_diag(part_start, part_start + len(part), "error", str(exc)))
                break
    tokens.sort(key=lambda t: t["start"])
    diags.sort(key=lambda d: (d["start"], d["end"]))
    return {"tokens": tokens, "diagnostics": diags}


def _diag(start, end, severity, message):
    return {"start": int(start), "end": int(max(end, start + 1)), "severity": severity, "message": message}


def _lint_loras(text, tokens, diags, known_loras):
    masked = text
    known = None
    if known_loras is not None:
        known = {_stem(n) for n in known_loras} | set(known_loras)
    for m in EXTRA_NETWORK_RE.finditer(text):
        tag_type = m.group(1)
        title = f"extra network <{tag_type}:…> (removed from the prompt text)"
        if tag_type in LORA_TAG_TYPES:
            try:
                entry = parse_extra_networks(m.group(0))[1][tag_type][0]
            except ValueError as exc:
                diags.append(_diag(m.start(), m.end(), "error", str(exc)))
            else:
                title = f"LoRA {entry['name']}: te {entry['te']}, unet {entry['unet']}"
                if not entry["name"].strip():
                    diags.append(_diag(m.start(), m.end(), "error",
                                       f"LoRA tag {m.group(0)!r} has an empty name; write <{tag_type}:name:0.8>"))
                elif known is not None and entry["name"] not in known:
                    diags.append(_diag(m.start(), m.end(), "warning",
                                       f"LoRA {entry['name']!r} is not in this server's models/loras folder; "
                                       "check the name (the editor suggests names after '<lora:')"))
        tokens.append({"start": m.start(), "end": m.end(), "kind": "lora", "title": title})
        masked = _blank(masked, m.start(), m.end())
    if "<lora:>" in text:
        pos = text.index("<lora:>")
        diags.append(_diag(pos, pos + 7, "warning", "empty <lora:> tag: A1111 keeps it as text; write <lora:name:1>"))
    return masked


def _stem(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base else base


def _and_parts(masked, tokens):
    start = 0
    for m in _AND.finditer(masked):
        tokens.append({"start": m.start(), "end": m.end(), "kind": "and", "title": "AND: composable prompt part"})
        yield start, m.start()
        start = m.end()
    yield start, len(masked)


def _lint_editing(part, offset, steps, tokens, diags):
    """Locate prompt-editing constructs; return ``part`` with their brackets/separators/numbers blanked."""
    try:
        parsed = parse_schedule_prompt(part)
    except ScheduleSyntaxError as exc:
        pos = offset + exc.position
        diags.append(_diag(pos, pos + 1, "error", str(exc)))
        return part
    try:
        prompt_schedule(part, steps)
    except ValueError as exc:
        diags.append(_diag(offset, offset + len(part), "error", str(exc)))
    for pos in parsed.ambiguous_at:
        diags.append(_diag(offset + pos, offset + pos + 1, "warning",
                           f"this '{part[pos]}' directly follows a prompt-editing construct; A1111 may keep the "
                           "construct as plain text on some runs; put a space before it"))
    for c in parsed.constructs:
        marks = [c.start, c.end - 1]
        if isinstance(c, Scheduled):
            title = f"prompt editing: switch at {c.number}"
            seps = ([c.before.end] if c.before is not None else []) + [c.after.end]
            number_start = c.after.end + 1
            tokens.append({"start": offset + number_start, "end": offset + c.end - 1, "kind": "edit-number",
                           "title": title})
            part = _blank(part, number_start, c.end - 1)
        elif isinstance(c, Alternate):
            title = f"alternation: {len(c.options)} options, one per step"
            seps = [o.end for o in c.options[:-1]]
        else:
            continue
        for pos in marks + seps:
            tokens.append({"start": offset + pos, "end": offset + pos + 1, "kind": "edit", "title": title})
            part = _blank(part, pos, pos + 1)
    return part


def _scheduled_texts(part, steps):
    try:
        return [text for _, text in prompt_schedule(part, steps)]
    except ValueError:
        return [part]


def _lint_attention(part, offset, tokens, diags):
    """Bracket pairs, weights, escapes and BREAK of one (editing-blanked) part, with A1111's pairing rules.

    Returns True when an invalid weight was located."""
    round_open, square_open = [], []
    located = False
    for m in _ATTENTION.finditer(part):
        kind, start, end = m.lastgroup, offset + m.start(), offset + m.end()
        if kind == "escape":
            tokens.append({"start": start, "end": end, "kind": "escape", "title": "escaped: kept as text"})
        elif kind == "open":
            (round_open if m.group(0) == "(" else square_open).append(start)
        elif kind == "weight":
            if not round_open:
                tokens.append({"start": end - 1, "end": end, "kind": "emphasis", "title": ""})
                diags.append(_diag(end - 1, end, "warning", "this ')' closes no '(' and is kept as text"))
                continue
            number = _NUMBER_IN_WEIGHT.search(m.group("weight")).group(0)
            opener = round_open.pop()
            try:
                title = f"weight ×{float(number):g}"
            except ValueError:
                title, located = "invalid weight", True
                diags.append(_diag(start, end, "error",
                                   f"emphasis weight {number!r} is not a number (A1111 stops with an error); "
                                   "write one number such as (text:1.2), or escape the colon as \\:"))
            tokens.append({"start": opener, "end": opener + 1, "kind": "emphasis", "title": title})
            tokens.append({"start": start, "end": end, "kind": "weight", "title": title})
        else:  # close
            stack = round_open if m.group(0) == ")" else square_open
            if stack:
                opener = stack.pop()
                title = "emphasis ×1.1" if stack is round_open else "de-emphasis ÷1.1"
                tokens.append({"start": opener, "end": opener + 1, "kind": "emphasis", "title": title})
                tokens.append({"start": start, "end": end, "kind": "emphasis", "title": title})
            else:
                diags.append(_diag(start, end, "warning",
                                   f"this '{m.group(0)}' closes no '{'(' if m.group(0) == ')' else '['}' and is "
                                   "kept as text; escape it as \\" + m.group(0) + " or remove it"))
    for pos in round_open:
        diags.append(_diag(pos, pos + 1, "warning", "unclosed '(': A1111 weights everything after it ×1.1; "
                                                    "add ')' or escape it as \\("))
    for pos in square_open:
        diags.append(_diag(pos, pos + 1, "warning", "unclosed '[': A1111 weights everything after it ÷1.1; "
                                                    "add ']' or escape it as \\["))
    _lint_breaks(part, offset, tokens, diags)
    return located


def _lint_breaks(part, offset, tokens, diags):
    depth_at = _bracket_depths(part)
    for m in _BREAK.finditer(part):
        if depth_at[m.start()]:
            diags.append(_diag(offset + m.start(), offset + m.end(), "warning",
                               "BREAK inside brackets is weighted like text, so A1111 reads it as the word "
                               "'break' and starts no new chunk; move it outside the brackets"))
        else:
            tokens.append({"start": offset + m.start(), "end": offset + m.end(), "kind": "break",
                           "title": "BREAK: start a new 75-token chunk"})


def _bracket_depths(part):
    """Per character: how many matched-or-unclosed attention brackets enclose it (A1111 multiplies those)."""
    depth = [0] * (len(part) + 1)
    opens = []
    events = []
    for m in _ATTENTION.finditer(part):
        kind = m.lastgroup
        if kind == "open":
            opens.append((m.group(0), m.start()))
        elif kind in ("weight", "close"):
            want = "(" if kind == "weight" or m.group(0) == ")" else "["
            for i in range(len(opens) - 1, -1, -1):
                if opens[i][0] == want:
                    events.append((opens[i][1], m.end()))
                    del opens[i]
                    break
    events.extend((pos, len(part)) for _, pos in opens)
    for start, end in events:
        for i in range(start, end):
            depth[i] += 1
    return depth
