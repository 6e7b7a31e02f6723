"""One batched conditioning from one encoded prompt per image, prompt editing selected per image.

Input: per image, the cond list A1111 Prompt Encode returns (``[[z [1, L, C], extra], …]``), one entry per
(schedule mode, call range, text) with ``extra["forgeline_schedule"] = {"mode", "first_call", "last_call", "part",
"weight", …}``. For each mode the call ranges of every image partition the model calls ``0, 1, …`` (A1111
``reconstruct_cond_batch``: the first schedule entry whose end is ≥ the call). Output: for each mode, one entry per
interval of the common refinement of all images' ranges, whose row ``i`` is image ``i``'s text active in that
interval, so each image switches at its own step while the batch stays one entry per model call (the rule
A1111's ``reconstruct_cond_batch`` applies per batch row, since its schedules are per prompt of the batch).

- Different token lengths (more 75-token chunks on one line) are repeated to their least common multiple, the rule
  of ComfyUI's ``CONDCrossAttn.concat`` (``comfy/conds.py``): repeating a whole context ``k`` times leaves softmax
  attention unchanged (each key's weight is divided by ``k`` and summed ``k`` times).
- The stock fallback range of an interval (``start_percent``/``end_percent``) is the intersection of the rows'
  ranges; for intervals of the ``first`` mode this is ``first_call/steps`` to ``(last_call+1)/steps`` again.
- ``AND`` parts (several parts, or a part weight ≠ 1) compose per batch in A1111 with per-prompt part lists; here
  a line with ``AND`` is refused with a message naming it.
"""
from __future__ import annotations

import math

import torch

SCHEDULE_KEY = "forgeline_schedule"
DROP_KEYS = ("forgeline_lora_tags",)


class BatchPromptError(ValueError):
    """A prompt line that cannot take part in the batch; the message names the line."""


def _ranges(conds, label):
    by_mode = {}
    for z, extra in conds:
        sched = extra.get(SCHEDULE_KEY)
        if sched is None:
            raise BatchPromptError(f"{label}: conditioning without a Forgeline schedule; encode the line with "
                                   "A1111 Prompt Encode")
        if sched.get("part", 0) != 0 or float(sched.get("weight", 1.0)) != 1.0:
            raise BatchPromptError(f"{label}: AND (several prompt parts or a part weight) is not supported in a "
                                   "batch of prompts; write the line without AND or sample it on its own")
        by_mode.setdefault(sched["mode"], []).append((int(sched["first_call"]), sched["last_call"], z, extra))
    for entries in by_mode.values():
        entries.sort(key=lambda e: e[0])
    return by_mode


def _active(entries, call):
    for first, last, z, extra in entries:
        if first <= call and (last is None or call <= last):
            return z, extra
    raise BatchPromptError(f"no schedule entry covers model call {call}")


def _repeat_to(z, length):
    return z if z.shape[1] == length else z.repeat(1, length // z.shape[1], 1)


def batch_conditioning(per_image, labels=None):
    """The batched cond list for ``per_image`` (one Prompt Encode cond list per image; see module docstring).

    ``labels`` name the images in errors (default ``line 1``, ``line 2``, …)."""
    if not per_image:
        raise BatchPromptError("no prompt lines to batch")
    labels = labels or [f"line {i + 1}" for i in range(len(per_image))]
    ranges = [_ranges(conds, label) for conds, label in zip(per_image, labels)]
    modes = list(ranges[0])
    for r, label in zip(ranges, labels):
        if set(r) != set(modes):
            raise BatchPromptError(f"{label}: encoded with other steps or hires settings than line 1 "
                                   f"(schedule modes {sorted(r)} vs {sorted(modes)}); encode every line alike")
    out = []
    for mode in modes:
        starts = sorted({e[0] for r in ranges for e in r[mode]})
        for j, first in enumerate(starts):
            last = starts[j + 1] - 1 if j + 1 < len(starts) else None
            rows = [_active(r[mode], first) for r in ranges]
            length = math.lcm(*[int(z.shape[1]) for z, _ in rows])
            z = torch.cat([_repeat_to(z, length) for z, _ in rows], dim=0)
            extra = {k: v for k, v in rows[0][1].items() if k not in DROP_KEYS}
            pooled = [e.get("pooled_output") for _, e in rows]
            if all(p is not None for p in pooled):
                extra["pooled_output"] = torch.cat(pooled, dim=0)
            extra["start_percent"] = max(float(e.get("start_percent", 0.0)) for _, e in rows)
            extra["end_percent"] = min(float(e.get("end_percent", 1.0)) for _, e in rows)
            extra[SCHEDULE_KEY] = {**rows[0][1][SCHEDULE_KEY], "first_call": first, "last_call": last}
            out.append([z, extra])
    return out


def prompt_lines(text, what="prompts"):
    """One prompt per line: trailing blank lines are dropped; a blank line between prompts is an error naming it
    (it would shift every later prompt to the wrong image)."""
    if isinstance(text, (list, tuple)):
        lines = [str(t) for t in text]
    else:
        lines = str(text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise BatchPromptError(f"{what}: no prompt; write one prompt per line")
    for i, line in enumerate(lines):
        if not line.strip():
            raise BatchPromptError(f"{what}: line {i + 1} is empty; remove it or write a prompt on it (each line is "
                                   "one image, so an empty line would shift the later prompts)")
    return [line.strip() for line in lines]


def negative_lines(text, count):
    """Negative prompts for ``count`` lines: empty or one line = shared by all, else exactly one per line."""
    lines = str(text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) <= 1:
        return [lines[0].strip() if lines else ""] * count
    if len(lines) != count:
        raise BatchPromptError(f"negative: {len(lines)} lines for {count} prompt lines; write one negative shared by "
                               f"all (a single line) or exactly {count} lines, one per prompt")
    return [line.strip() for line in lines]
