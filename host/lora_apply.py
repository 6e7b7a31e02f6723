"""Applying LoRA requests to ComfyUI models: constant strength through the patcher, scheduled strength through
``host/lora_schedule.py``.

- Names resolve only inside ComfyUI's ``loras`` folders (``host/model_folders.py``); files load through
  ``lora.load_lora`` (safetensors, or pickles with ``weights_only=True``; NaN/inf and alpha <= 0 refused), keys are
  mapped by Forgeline's own key map and shape-checked against the model.
- **Constant strength** merges through ComfyUI's patch mechanism: ``ModelPatcher.add_patches`` / ``CLIP.add_patches``
  with one ``ForgelinePatch`` per key (``host/weight_adapter.py``). ComfyUI keeps the backup, merges, and restores it;
  under lowvram / dynamic VRAM its ``LowVramPatch`` rebuilds the patch and calls the same ``calculate_weight`` per
  forward.
- **Scheduled strength** (loractl text) stays out of ``patches``: ``host/lora_schedule.py`` applies the per-step
  UNet strength without writing the host's weights. The text encoder gets the te/hrte weight at step 0 times
  ``strength_clip``.
"""
from __future__ import annotations

import os
import weakref
from collections import OrderedDict

from ..lora import LoraFileError, block_multipliers, block_vector, load_lora, trigger_words
from ..lora.requests import (MODES, AppliedLora, LoraRequest, check_family, is_scheduled, schedule_params,
                             step0_weight, unet_slots)
from . import lora_schedule
from .model_folders import resolve_lora
from .weight_adapter import patches_for

__all__ = ["LoraRequest", "apply_loras", "load_for", "model_targets", "resolve_lora", "validate_common"]

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 16   # matched results; the parsed files themselves are bounded by bytes in lora.file_cache


def validate_common(lora_name=None, schedule=None, block_weights=None, label="lora_name"):
    """``True`` or a message naming the bad input and the fix (used by every LoRA node's validate_inputs)."""
    if lora_name is not None and lora_name != "None":
        try:
            resolve_lora(lora_name)
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


_SHAPES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _module_shapes(module, unet_only):
    """``{key: shape}`` of a torch module's state dict, computed once per module object (shapes never change)."""
    hit = _SHAPES.get(module)
    if hit is None:
        hit = _SHAPES[module] = {k: tuple(v.shape) for k, v in module.state_dict().items()
                                 if not unet_only or k.startswith("diffusion_model.")}
    return hit


def model_targets(model=None, clip=None):
    """``{patch key: shape}`` of a ModelPatcher's UNet and a CLIP's text encoders (ComfyUI key names)."""
    targets = {}
    if model is not None:
        targets.update(_module_shapes(model.model, True))
    if clip is not None:
        targets.update(_module_shapes(clip.patcher.model, False))
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


def is_unet_key(key):
    return key.startswith("diffusion_model.")


def apply_loras(model, clip, requests):
    """Clone ``model``/``clip`` and apply ``requests`` (see module docstring); returns ``(model, clip, applied)``."""
    model = model.clone() if model is not None else None
    clip = clip.clone() if clip is not None else None
    targets = model_targets(model, clip)
    applied = []
    for req in requests:
        if req.mode not in MODES:
            raise ValueError(f"mode {req.mode!r} is not one of {MODES}")
        try:
            path = resolve_lora(req.name)
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
            patches = patches_for(loaded.by_target, ratios, lambda k: not is_unet_key(k))
            if patches and te != 0:
                clip.add_patches(patches, te)
        if model is not None:
            unet = patches_for(loaded.by_target, ratios, is_unet_key)
            if scheduled:
                lora_schedule.add_scheduled_lora(model, req, unet, slots)
            elif unet and req.strength_model * float(slots["first"]) != 0:
                model.add_patches(unet, req.strength_model * float(slots["first"]))
        words = [w for w, _, _ in trigger_words(str(path), loaded.metadata)]
        applied.append(AppliedLora(req, str(path), loaded.report, words, scheduled))
    return model, clip, applied
