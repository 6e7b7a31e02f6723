"""LoRA loader node and the shared ComfyUI side of LoRA application (loader, stack, prompt tags, LCM merge).

Rules (notes lora.md §0, §1.5-§1.6, §5.4, §7.1-§7.2):

- Names resolve only inside ComfyUI's ``loras`` folders (``lora.resolve_lora_path``: no ``..``, no absolute path,
  no symlink out); files load through ``lora.load_lora`` (safetensors, or pickles with ``weights_only=True``;
  NaN/inf and alpha ≤ 0 refused), keys are mapped by Forgeline's own key map (diffusers/PEFT attention keys that
  ComfyUI 0.3.75 drops, #9753, included) and shape-checked against the model. A LoRA made for another family
  (an SDXL LoRA on SD1.5) is an error naming the file.
- **Constant strength** merges once through ComfyUI's patch mechanism: ``ModelPatcher.add_patches`` with one
  :class:`ForgelinePatch` per key, a ``WeightAdapterBase`` whose ``calculate_weight`` adds
  ``strength · Σ ratio_i · U_i(W)`` with ``U = ΔW`` (alpha/rank applied) or, for DoRA, ``W_dora − W`` with the norm
  of the *updated* weight (``lora.adapter_update``; ComfyUI's ``weight_decompose`` uses ‖W‖ on the output axis,
  #15458), (IA)³ ``W·w`` included. ComfyUI keeps the backup, merges in fp32, rounds once and restores it; under
  lowvram its ``LowVramPatch`` calls the same ``calculate_weight`` per forward (computed here in fp32 anyway).
- **Scheduled strength** (loractl text, ``nodes/lora_schedule.py``) stays out of ``patches``: the UNet part is
  re-merged from pristine by ``ScheduledLoraMerge`` during sampling. The text encoder has no steps: like loractl in
  A1111 (the prompt is encoded once, before sampling) it gets the te/hrte weight at step 0, times strength_clip.
- ``strength_model`` multiplies the unet schedule, ``strength_clip`` the te schedule; a block-weight spec (lbw
  preset or vector, ``lora.block_multipliers``) multiplies each key's ratio.
- **Which pass** (loractl ``unet``/``hrunet``, ``te``/``hrte``): ``pass`` ``auto`` (default) follows the pass marker
  of the sampling run (``transformer_options["forgeline_pass"]``, set by HiRes Fix (A1111)): the hires run uses the
  ``hrunet`` keyframes, every other run (plain samplers, refiner base/refiner) the ``unet`` ones — so a LoRA whose
  two slots differ is always handled by the scheduled engine, which picks the slot per run. ``first``/``hires``
  force one slot for every run. The CLIP is encoded before any sampling run and carries no marker: it gets ``te``
  unless ``pass`` is ``hires`` (A1111 re-encodes the hires prompt with ``hrte``; use a second loader with
  ``pass=hires`` on the CLIP that encodes the hires prompt). Saved workflows' boolean ``hires_pass`` (the former
  input) still loads: true means ``pass=hires``, false means ``auto``.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from comfy_api.latest import io

from ..lora import (LORA_EXTENSIONS, LoraFileError, adapter_update, block_multipliers, block_vector, infer_model_family,
                    load_lora, loractl_params, resolve_lora_path, trigger_words)
from ..limits import check_inputs, check_lora_strengths
from ..lora.report import FAMILY_NAMES

try:
    from comfy.weight_adapter.base import WeightAdapterBase
except ImportError:  # very old ComfyUI: calculate_weight then only accepts tuples; the patch still carries the maths
    WeightAdapterBase = object

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


def lora_roots():
    import folder_paths
    return list(folder_paths.get_folder_paths("loras"))


def lora_names():
    import folder_paths
    return folder_paths.get_filename_list("loras")


def resolve(name):
    """Absolute path of LoRA ``name`` inside the loras folders (LoraFileError otherwise).

    The core helper refuses ``..``, absolute names and symlinks whose target leaves the folder. One exception, as
    ComfyUI itself allows it: a file the user linked *into* a loras folder and that ComfyUI lists there (a listed
    name can never contain ``..`` or be absolute; those are refused before this point)."""
    try:
        return resolve_lora_path(name, lora_roots())
    except LoraFileError as e:
        if "symlink" not in str(e):
            raise
        import folder_paths
        listed = set(lora_names())
        for candidate in [name] + [name + ext for ext in LORA_EXTENSIONS]:
            if candidate in listed:
                return Path(folder_paths.get_full_path("loras", candidate))
        raise


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


def validate_common(lora_name=None, schedule=None, block_weights=None, label="lora_name"):
    """``True`` or a message naming the bad input and the fix (used by every LoRA node's validate_inputs)."""
    if lora_name is not None and lora_name != "None":
        try:
            resolve(lora_name)
        except LoraFileError as e:
            return f"{label}: {e}"
    if schedule:
        try:
            schedule_params(schedule)
        except ValueError as e:
            return str(e)
    if block_weights and block_weights.strip():
        try:
            block_vector(block_weights.strip())
        except ValueError as e:
            return f"block_weights: {e}"
    return True


# -- loading ----------------------------------------------------------------------------------------------------

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 8


def model_targets(model=None, clip=None):
    """``{patch key: shape}`` of a ModelPatcher's UNet and a CLIP's text encoders (ComfyUI key names)."""
    targets = {}
    if model is not None:
        targets.update({k: tuple(v.shape) for k, v in model.model.state_dict().items()
                        if k.startswith("diffusion_model.")})
    if clip is not None:
        targets.update({k: tuple(v.shape) for k, v in clip.patcher.model.state_dict().items()})
    return targets


def load_for(path, targets):
    """``lora.load_lora`` cached on (path, size, mtime, target keys); raises ValueError naming the file."""
    st = os.stat(path)
    sig = (str(path), st.st_size, st.st_mtime_ns, hash(frozenset(targets.items())))
    hit = _CACHE.get(sig)
    if hit is not None:
        _CACHE.move_to_end(sig)
        return hit
    loaded = load_lora(path, targets)
    _CACHE[sig] = loaded
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return loaded


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


class ForgelinePatch(WeightAdapterBase):
    """One key's LoRA updates for ComfyUI's ``calculate_weight``: ``W += strength · Σ ratio_i · U_i(W)`` in fp32."""

    name = "forgeline"

    def __init__(self, items):
        self.items = list(items)            # [(adapter, ratio)]
        self.loaded_keys = set()
        self.weights = [t for a, _ in self.items for t in a.tensors.values()]

    def update(self, weight):
        acc = None
        for adapter, ratio in self.items:
            if ratio == 0:
                continue
            u = adapter_update(adapter, weight, dtype=torch.float32) * ratio
            acc = u if acc is None else acc.add_(u)
        return acc

    def calculate_weight(self, weight, key, strength, strength_model, offset, function, intermediate_dtype=torch.float32,
                         original_weight=None):
        if strength == 0:
            return weight
        u = self.update(weight)
        if u is not None:
            weight += function(strength * u).type(weight.dtype)
        return weight


def _patches(loaded, keys, ratios, prefix_ok):
    out = {}
    for key, adapters in loaded.by_target.items():
        if not prefix_ok(key):
            continue
        ratio = 1.0 if ratios is None else ratios.get(key, 1.0)
        out[key] = ForgelinePatch([(a, ratio) for a in adapters])
    return out


def is_unet_key(key):
    return key.startswith("diffusion_model.")


@dataclass
class AppliedLora:
    request: LoraRequest
    path: str
    report: object
    triggers: list
    scheduled: bool


def apply_loras(model, clip, requests):
    """Clone ``model``/``clip`` and apply ``requests`` (see module docstring); returns ``(model, clip, applied)``."""
    from . import lora_schedule

    model = model.clone() if model is not None else None
    clip = clip.clone() if clip is not None else None
    targets = model_targets(model, clip)
    applied = []
    for req in requests:
        if req.mode not in MODES:
            raise ValueError(f"mode {req.mode!r} is not one of {MODES}")
        try:
            path = resolve(req.name)
            loaded = load_for(path, targets)
        except LoraFileError as e:
            raise ValueError(str(e)) from None
        check_family(loaded, path, targets)
        params = schedule_params(req.schedule, f"schedule for LoRA '{req.name}'")
        ratios = block_multipliers(list(loaded.by_target), req.block_weights.strip()) \
            if req.block_weights and req.block_weights.strip() else None
        te_slot = params["hrte" if req.pass_ == "hires" else "te"] if params else 1.0
        slots = unet_slots(params, req.pass_)
        scheduled = is_scheduled(slots)
        if clip is not None:
            te = req.strength_clip * step0_weight(te_slot)
            patches = _patches(loaded, None, ratios, lambda k: not is_unet_key(k))
            if patches and te != 0:
                clip.add_patches(patches, te)
        if model is not None:
            unet = _patches(loaded, None, ratios, is_unet_key)
            if scheduled:
                lora_schedule.add_scheduled_lora(model, req, unet, slots)
            elif unet and req.strength_model * float(slots["first"]) != 0:
                model.add_patches(unet, req.strength_model * float(slots["first"]))
        words = [w for w, _, _ in trigger_words(str(path), loaded.metadata)]
        applied.append(AppliedLora(req, str(path), loaded.report, words, scheduled))
    return model, clip, applied


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


def lora_inputs(optional=False, suffix=""):
    """The per-LoRA widgets shared by the loader and the stack."""
    names = lora_names()
    if optional:
        names = ["None"] + names  # a slot set to None is skipped
    return [
        io.Combo.Input(f"lora_name{suffix}", optional=optional, options=names, default=names[0] if names else None,
                       tooltip="LoRA file from ComfyUI's loras folder."),
        io.Float.Input(f"strength_model{suffix}", optional=optional, default=1.0, min=-10.0, max=10.0, step=0.01,
                       tooltip="UNet strength; multiplies the schedule's unet weight."),
        io.Float.Input(f"strength_clip{suffix}", optional=optional, default=1.0, min=-10.0, max=10.0, step=0.01,
                       tooltip="Text-encoder strength; multiplies the schedule's te weight at step 0."),
        io.String.Input(f"schedule{suffix}", optional=optional, default="",
                        tooltip="loractl weight schedule, e.g. '0@0,1@0.5' (weight@fraction or weight@step), "
                                "'1:0@0,1@1' (te then unet), 'unet=0@0,1@1:hr=0.5'. Empty = constant."),
        io.String.Input(f"block_weights{suffix}", optional=optional, default="",
                        tooltip="LoRA Block Weight preset (ALL, INS, MIDD, OUTD, SDXL-OUTALL …) or a 12/17/20/26-"
                                "value vector. Empty = all blocks 1."),
    ]


class ForgelineLoraLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ForgelineLoraLoader",
            display_name="LoRA Loader (scheduled, A1111)",
            category="Forgeline/lora",
            description="Loads a LoRA of any common format (kohya, diffusers, PEFT, LyCORIS LoHa/LoKr/(IA)³/DoRA/"
                        "full). Constant strength merges once; a loractl schedule changes the UNet strength per "
                        "sampling step by re-merging from pristine weights, restored after sampling.",
            inputs=[io.Model.Input("model"), io.Clip.Input("clip", optional=True)] + lora_inputs() + [
                io.Combo.Input("mode", options=list(MODES), default="loractl",
                               tooltip="loractl: A1111 timing (weight of the previous step, last step hits 1.0). "
                                       "exact: step i of N sees position i/(N-1), no lag."),
                io.Boolean.Input("hires_pass", default=False, optional=True,
                                 tooltip="Legacy switch of older workflows: on = pass 'hires'. Leave it off and use "
                                         "'pass' below."),
                io.Combo.Input("pass", options=list(PASSES), default="auto", optional=True,
                               tooltip="Which loractl slots: auto = the hr=/hrunet= weights in a HiRes Fix (A1111) "
                                       "pass and the normal ones in every other run (the CLIP gets te); first / "
                                       "hires = force one (hires also gives the CLIP hrte, for the hires prompt)."),
            ],
            outputs=[io.Model.Output(), io.Clip.Output(), io.String.Output(display_name="trigger_words"),
                     io.String.Output(display_name="report")],
        )

    @classmethod
    def validate_inputs(cls, lora_name=None, schedule=None, block_weights=None, strength_model=None,
                        strength_clip=None):
        limit = check_inputs(strength_model=(strength_model, -10.0, 10.0), strength_clip=(strength_clip, -10.0, 10.0))
        return limit if limit is not True else validate_common(lora_name, schedule, block_weights)

    @classmethod
    def execute(cls, model, lora_name, strength_model, strength_clip, schedule, block_weights, mode="loractl",
                hires_pass=False, clip=None, **kwargs) -> io.NodeOutput:
        pass_ = kwargs.get("pass") or "auto"
        if pass_ == "auto" and hires_pass:
            pass_ = "hires"
        req = LoraRequest(lora_name, strength_model, strength_clip, schedule, block_weights, mode, pass_)
        model, clip, applied = apply_loras(model, clip, [req])
        words, report = describe(applied)
        return io.NodeOutput(model, clip, words, report)


NODES = [ForgelineLoraLoader]
