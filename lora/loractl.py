"""loractl keyframe schedules: per-step LoRA weights exactly as cheald/sd-webui-loractl computes them.

Source: ``cheald/sd-webui-loractl`` ``loractl/lib/utils.py`` (``sorted_positions``, ``calculate_weight``,
``params_to_weights``), README, ``test/tests.py``.

- A weight is a number or keyframes ``w@pos`` joined by ``,`` or ``;`` (``~`` is an alias of ``@``).
  **If the first entry has no ``@`` the whole value is that number** (``1,0@5`` is ``1.0``). A later entry without
  a position gets position 1; an entry with two ``@`` also gets position 1 (loractl's ``len(s) == 2`` test).
  Keyframes are stable-sorted by position.
- ``calculate_weight(m, step, max_steps)``: *fraction mode* when the **largest** position is ≤ 1.0, with
  ``x = step / (max_steps - 2)`` (``x = 1.0`` if ``max_steps <= 0``); otherwise *absolute mode* ``x = step`` for every
  keyframe (so ``0@0.5,1@10`` is absolute). The weight is ``np.interp(x, positions, weights)``: linear between
  keyframes, clamped to the end weights outside them. With ``max_steps == 2`` loractl divides by zero.
- Which slot: ``te`` = positional 1 (default 1.0), overridden by a non-empty ``te=``; ``unet`` = positional 2, then
  ``unet=``, else ``te``; ``hr=`` sets both hires slots, ``hrte=``/``hrunet=`` override it; ``hrunet`` defaults to
  ``unet`` and ``hrte`` to ``te``.
- Timing (A1111 ``shared.state.sampling_step``): the step counter is advanced by the sampler callback *after* each
  model call, so sampler step ``i`` sees ``max(i - 1, 0)`` and the last of ``N`` steps sees ``N - 2``; that is why
  loractl offsets by 2 (the last call lands exactly on 1.0). ``mode="loractl"`` reproduces that one-step lag;
  ``mode="exact"`` maps sampler step ``i`` to ``x = i / (N - 1)`` (fraction) or ``x = i`` (absolute), so the first
  step sees position 0 and the last sees 1.0 with no lag. The text encoder runs once before sampling in A1111, so in
  ``"loractl"`` mode the effective te/hrte weight is the step-0 value for the whole pass.
"""
import math
import re

import numpy as np

from ..limits.checks import LimitError
from ..limits.values import MAX_SCHEDULE_POSITION, MAX_STRENGTH

MODES = ("loractl", "exact")
SLOTS = ("te", "unet", "hrte", "hrunet")


class LoractlStepsError(ValueError, ZeroDivisionError):
    """loractl's fraction mode divides by ``steps - 2``; raised where loractl raises ZeroDivisionError."""


def parse_keyframes(text):
    """loractl ``sorted_positions``: a float, or ``[weights, positions]`` sorted by position (stable).

    Raises ValueError naming the text when an entry is not a number."""
    raw = str(text)
    entries = []
    for part in re.split("[,;]", raw):
        try:
            entry = [float(value.strip()) for value in re.split("[@~]", part)]
        except ValueError:
            raise ValueError(f"loractl schedule {_short(raw)}: entry {_short(part.strip())} is not 'weight' or "
                             "'weight@position'; write keyframes like '0@0,1@0.5' (weight@step or weight@fraction)"
                             ) from None
        _check_keyframe(entry, part, raw)
        entries.append(entry)
    if len(entries[0]) == 1:
        return entries[0][0]
    pairs = [(entry[0], entry[1] if len(entry) == 2 else 1.0) for entry in entries]
    pairs.sort(key=lambda pair: pair[1])
    return [[weight for weight, _ in pairs], [position for _, position in pairs]]


def _short(text, limit=60):
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


def _check_keyframe(entry, part, raw):
    """Refuse NaN/inf and values beyond ``limits.MAX_STRENGTH`` (weights) / ``MAX_SCHEDULE_POSITION`` (positions)."""
    for i, value in enumerate(entry):
        bound = MAX_STRENGTH if i == 0 else MAX_SCHEDULE_POSITION
        if not math.isfinite(value) or abs(value) > bound:
            what = "weight" if i == 0 else "position"
            raise LimitError(f"loractl schedule {_short(raw)}: the {what} in {_short(part.strip())} is not a finite "
                             f"number within +/-{bound:g}; write keyframes like '0@0,1@0.5'")


def keyframe_weight(schedule, step, max_steps):
    """loractl ``calculate_weight``: the weight at A1111 ``sampling_step`` ``step`` of a ``max_steps`` pass."""
    if not isinstance(schedule, list):
        return float(schedule)
    weights, positions = schedule
    x = step
    if positions[-1] <= 1.0:
        if max_steps > 0:
            if max_steps == 2:
                raise LoractlStepsError(
                    f"loractl fraction schedule {schedule!r} with 2 steps divides by steps-2 = 0 (loractl raises "
                    "ZeroDivisionError); use absolute step positions, more steps, or mode='exact'")
            x = step / (max_steps - 2)
        else:
            x = 1.0
    return float(np.interp(x, positions, weights))


def _as_items(tag_or_params):
    """Raw tag items from ``"<lora:n:...>"``, ``"n:..."``, a parse_extra_networks entry, or a list of items."""
    if isinstance(tag_or_params, dict):
        if "items" not in tag_or_params:
            raise ValueError(f"loractl needs a parse_extra_networks LoRA entry (with 'items'), got keys "
                             f"{sorted(tag_or_params)}")
        return list(tag_or_params["items"])
    if isinstance(tag_or_params, (list, tuple)):
        return [str(item) for item in tag_or_params]
    if isinstance(tag_or_params, str):
        from .extra_networks import fullmatch_tag  # linear scan of A1111's tag regex (extra_networks imports us)
        text = tag_or_params.strip()
        match = fullmatch_tag(text)
        return (match.group(2) if match else text).split(":")
    raise ValueError(f"loractl needs a LoRA tag string or parsed entry, got {type(tag_or_params).__name__}")


def loractl_params(tag_or_params):
    """loractl ``params_to_weights``: ``{"te", "unet", "hrte", "hrunet"}`` each a float or ``[weights, positions]``."""
    positional, named = [], {}
    for item in _as_items(tag_or_params):
        parts = item.split("=", 2)
        if len(parts) == 2:
            named[parts[0]] = parts[1]
        else:
            positional.append(item)
    slots = {"te": 1.0, "unet": None, "hrte": None, "hrunet": None}
    if len(positional) > 1:
        slots["te"] = parse_keyframes(positional[1])
    if len(positional) > 2:
        slots["unet"] = parse_keyframes(positional[2])
    # loractl tests truthiness: an empty "te=" is ignored.
    for key, targets in (("te", ("te",)), ("unet", ("unet",)), ("hr", ("hrunet", "hrte")),
                         ("hrunet", ("hrunet",)), ("hrte", ("hrte",))):
        if named.get(key):
            for target in targets:
                slots[target] = parse_keyframes(named[key])
    if slots["unet"] is None:
        slots["unet"] = slots["te"]
    if slots["hrunet"] is None:
        slots["hrunet"] = slots["unet"]
    if slots["hrte"] is None:
        slots["hrte"] = slots["te"]
    return slots


def _check_steps(steps, what):
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{what} must be a whole number of sampling steps >= 1, got {steps!r}")


def _slot_steps(steps, hr_steps):
    """(slot, number of steps in its pass) for te/unet (first pass) and hrte/hrunet (hires pass), validated."""
    _check_steps(steps, "steps")
    if hr_steps is not None:
        _check_steps(hr_steps, "hr_steps")
    return [(slot, steps if not slot.startswith("hr") else (hr_steps or 0)) for slot in SLOTS]


def loractl_weights(tag_or_params, steps, hr_steps=None):
    """Weights indexed by A1111 ``shared.state.sampling_step`` (0…steps−1; hires 0…hr_steps−1), as loractl returns
    them: ``{"te": [...], "unet": [...], "hrte": [...], "hrunet": [...]}`` (hires lists empty without hr_steps)."""
    slots = loractl_params(tag_or_params)
    out = {}
    for slot, n in _slot_steps(steps, hr_steps):
        out[slot] = [keyframe_weight(slots[slot], s, n) for s in range(n)]
    return out


def sampler_step_weight(schedule, step, steps, mode="loractl"):
    """Weight used at sampler step ``step`` (0-based model step) of ``steps`` for one keyframe schedule.

    ``"loractl"``: A1111 timing, ``keyframe_weight(schedule, max(step - 1, 0), steps)`` (one-step lag).
    ``"exact"``: no lag, ``x = step / (steps - 1)`` in fraction mode (0 for a 1-step pass), ``x = step`` otherwise."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
    if isinstance(schedule, str):
        schedule = parse_keyframes(schedule)
    if mode == "loractl":
        return keyframe_weight(schedule, max(step - 1, 0), steps)
    if not isinstance(schedule, list):
        return float(schedule)
    weights, positions = schedule
    x = step
    if positions[-1] <= 1.0:
        x = step / (steps - 1) if steps > 1 else 0.0
    return float(np.interp(x, positions, weights))


def sampler_step_weights(tag_or_params, steps, hr_steps=None, mode="loractl"):
    """Per sampler step weights ``{"te", "unet", "hrte", "hrunet"}`` under ``mode`` (see module docstring).

    In ``"loractl"`` mode te/hrte are constant at their step-0 value (A1111 encodes the prompt once per pass);
    in ``"exact"`` mode every slot follows its schedule per step (re-encode per distinct TE weight)."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
    slots = loractl_params(tag_or_params)
    out = {}
    for slot, n in _slot_steps(steps, hr_steps):
        if mode == "loractl" and slot in ("te", "hrte"):
            out[slot] = [keyframe_weight(slots[slot], 0, n)] * n
        else:
            out[slot] = [sampler_step_weight(slots[slot], i, n, mode) for i in range(n)]
    return out
