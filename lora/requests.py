"""What a LoRA node asks for, and the pure rules that turn it into patches (no ComfyUI).

Rules (AUTOMATIC1111/stable-diffusion-webui ``extensions-builtin/Lora``; cheald/sd-webui-loractl for schedules):

- ``strength_model`` multiplies the unet schedule, ``strength_clip`` the te schedule; a block-weight spec (lbw preset
  or vector, ``lora.block_multipliers``, hako-mikan/sd-webui-lora-block-weight) multiplies each key's ratio.
- **Which pass** (loractl ``unet``/``hrunet``, ``te``/``hrte``): ``pass`` ``auto`` follows the pass marker of the
  sampling run (HiRes Fix (A1111) marks its run ``hires``): the hires run uses the ``hrunet`` keyframes, every other
  run the ``unet`` ones — so a LoRA whose two slots differ is always handled by the scheduled engine, which picks
  the slot per run. ``first``/``hires`` force one slot for every run. The CLIP is encoded before any sampling run
  and carries no marker: it gets ``te`` unless ``pass`` is ``hires`` (A1111 re-encodes the hires prompt with
  ``hrte``). Like loractl in A1111 (the prompt is encoded once, before sampling) the text encoder gets its weight
  at step 0.
- A LoRA made for another model family (an SDXL LoRA on SD1.5) is an error naming the file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .loractl import loractl_params
from ..limits import check_lora_strengths
from .keymap import infer_model_family
from .report import FAMILY_NAMES

MODES = ("loractl", "exact")
PASSES = ("auto", "first", "hires")


@dataclass
class LoraRequest:
    """One LoRA to apply. ``schedule``: loractl items after the name (``0@0,1@1``, ``1:unet=0@0,1@0.5:hr=0.5``);
    ``pass_``: ``auto``/``first``/``hires`` (see module docstring; the former boolean ``hires`` maps to hires/auto)."""

    name: str
    strength_model: float = 1.0
    strength_clip: float = 1.0
    schedule: str = ""
    block_weights: str = ""
    mode: str = "loractl"
    pass_: str = "auto"

    def __post_init__(self):
        check_lora_strengths(self.name, self.strength_model, self.strength_clip)
        if isinstance(self.pass_, bool):
            self.pass_ = "hires" if self.pass_ else "auto"
        if self.pass_ not in PASSES:
            raise ValueError(f"LoRA '{self.name}': pass {self.pass_!r} is not one of {', '.join(PASSES)}")


def request_from_tag(entry, mode="loractl"):
    """One ``<lora:name:te:unet:hr=…:hrte=…:hrunet=…:lbw=…>`` tag entry (``extra_networks.parse_extra_networks``)
    → LoraRequest. The unet multiplier defaults to te (AUTOMATIC1111/stable-diffusion-webui:
    extensions-builtin/Lora/extra_networks_lora.py ``activate``); plain numbers become the two strengths, keyframe
    strings or hires slots (cheald/sd-webui-loractl ``hr=``/``hrte=``/``hrunet=``) a loractl schedule."""
    te = entry.get("te", 1.0)
    unet = entry.get("unet", te)
    named = entry.get("named") or {}
    hr = [f"{k}={named[k]}" for k in ("hr", "hrte", "hrunet") if named.get(k)]
    if isinstance(te, str) or isinstance(unet, str) or hr:
        return LoraRequest(entry["name"], 1.0, 1.0, ":".join([str(te), str(unet)] + hr), entry.get("lbw") or "", mode)
    return LoraRequest(entry["name"], float(unet), float(te), "", entry.get("lbw") or "", mode)


def schedule_params(text, what="schedule"):
    """loractl slots ``{"te", "unet", "hrte", "hrunet"}`` from schedule text; ``None`` for empty text."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return loractl_params(["lora"] + text.split(":"))
    except ValueError as e:
        raise ValueError(f"{what} {text!r}: {e}") from None


def unet_slots(params, pass_="auto"):
    """UNet keyframes per sampling pass, ``{"first": unet, "hires": hrunet}`` (a forced pass uses its slot for
    both); 1.0 for a LoRA without a schedule."""
    if not params:
        return {"first": 1.0, "hires": 1.0}
    slots = {"first": params["unet"], "hires": params["hrunet"]}
    if pass_ != "auto":
        slots = dict.fromkeys(slots, slots[pass_])
    return slots


def is_scheduled(slots):
    """True when the UNet weight depends on the step or on the pass (else one static patch does)."""
    first, hires = slots["first"], slots["hires"]
    return isinstance(first, list) or isinstance(hires, list) or float(first) != float(hires)


def step0_weight(slot):
    """loractl weight at ``sampling_step`` 0 (``np.interp(0, positions, weights)``; x = 0 in both modes)."""
    if not isinstance(slot, list):
        return float(slot)
    weights, positions = slot
    return float(np.interp(0.0, positions, weights))


def check_family(loaded, path, targets):
    """Raise when the report says the LoRA was made for another model family, or nothing matched."""
    rep = loaded.report
    family = infer_model_family(targets)
    other = rep.key_family if rep.key_family and rep.key_family != family else rep.metadata_family
    name = os.path.basename(str(path))
    if other and other != family:
        raise ValueError(f"LoRA '{name}' was made for {FAMILY_NAMES.get(other, other)} but the model is "
                         f"{FAMILY_NAMES.get(family, family)} ({len(rep.matched)} of "
                         f"{len(rep.matched) + len(rep.unmatched)} modules fit); pick a LoRA for this model.")
    if not loaded.adapters:
        raise ValueError(f"LoRA '{name}': no module matches this model ({len(rep.unmatched)} not loaded); pick a "
                         "LoRA made for this model family.")


@dataclass
class AppliedLora:
    request: LoraRequest
    path: str
    report: object
    triggers: list
    scheduled: bool


def describe(applied):
    """``(trigger words, report)`` strings for the node outputs."""
    words = []
    for a in applied:
        words += [w for w in a.triggers if w not in words]
    lines = []
    for a in applied:
        r = a.request
        how = f"scheduled ({r.mode}) '{r.schedule}'" if a.scheduled else "constant"
        lines.append(f"{os.path.basename(a.path)}: strength model {r.strength_model}, clip {r.strength_clip}, {how}"
                     + (f", block weights {r.block_weights}" if r.block_weights else "") + "\n  " + a.report.summary())
    return ", ".join(words), "\n".join(lines)
