"""Scheduled LoRA strength inside ComfyUI sampling, without writing the host's weights.

Rule (cheald/sd-webui-loractl, ``lora_ctl_network.py``; the step weights are ``lora/loractl.py``): the UNet strength
of a scheduled LoRA follows its keyframes per sampler step; ``mode="loractl"`` indexes the per-step weights by
A1111's ``shared.state.sampling_step`` (the last callback's step, loractl's one-step lag), ``mode="exact"`` by the
step of the model call (``x = i / (steps − 1)``).

Mechanism: ComfyUI's own weight-wrapper hook. For every UNet key the LoRA patches, the model clone gets
``ModelPatcher.add_weight_wrapper(key, ScheduledWeight)`` (present in ComfyUI 0.3.75 and 0.33.0; the patcher
installs wrappers as the module's ``weight_function`` when it loads the model, on the classic and on the dynamic-VRAM
path, and calls ``move_to(device)`` on them). At forward time ComfyUI's ``cast_bias_weight`` hands the wrapper the
weight it computes with — its constant patches applied, on the execution device, a cast copy of read-only
file-backed memory under dynamic VRAM — and runs the layer with what the wrapper returns:
``lora.ScheduledLayer.merged`` = ``round(W + s·U)`` in fp32, cached while the strength and the incoming tensor are
unchanged. Nothing the host owns is modified, so the base weights stay bit-identical and no restore is needed.

Per run: a ``SAMPLER_SAMPLE`` wrapper builds each entry's per-step weights over the logical run
(``sampling_hooks.run_total_steps``: the refiner handoff continues one schedule) for the run's pass (``hires`` when
HiRes Fix (A1111) marks the run, else ``first``), and an ``on_call`` listener sets each entry's strength before every
model call. After the run the cached merged weights are dropped (no VRAM held between runs); outside sampling an
entry holds its step-0 strength.
"""
from __future__ import annotations

import uuid
import weakref

import comfy.patcher_extension as pe
import comfy.utils

from ..lora import keyframe_weight, sampler_step_weight
from ..lora.requests import step0_weight
from ..lora.scheduled_delta import ScheduledLayer
from . import sampling_hooks

SCHEDULES = "forgeline_lora_schedules"
WRAPPER_KEY = "forgeline.lora_schedule"
PASS_KEY = "forgeline_pass"


class ScheduleEntry:
    """One scheduled LoRA on a model: its keyframes per pass, and the strength in force now (``scale``)."""

    def __init__(self, name, slots, strength, mode, schedule):
        self.id = f"{name}#{uuid.uuid4().hex[:8]}"
        self.slots, self.strength, self.mode, self.schedule = dict(slots), float(strength), mode, schedule
        self.layers = {}
        self.table = None
        self.scale = self.resting_scale()

    def resting_scale(self):
        return self.strength * step0_weight(self.slots["first"])

    def step_weights(self, slot, steps):
        """Per-step unet weight (× strength): indexed by ``sampling_step`` (loractl) or by step (exact)."""
        if self.mode == "loractl":
            return [self.strength * keyframe_weight(slot, s, steps) for s in range(steps)]
        return [self.strength * sampler_step_weight(slot, i, steps, "exact") for i in range(steps)]

    def __deepcopy__(self, memo):  # ComfyUI 0.3.75 deep-copies model_options on clone: share the live entry
        return self

    def drop_caches(self):
        for layer in self.layers.values():
            layer._cache = None


class ScheduledWeight:
    """ComfyUI ``weight_function`` for one key of one entry: ``weight -> round(weight + scale·U)``.

    Whether the weight handed over is a scratch copy (merged in place) depends on the cast path: ComfyUI's classic
    ``cast_bias_weight`` (0.3.75 and 0.33 ``comfy/ops.py``) copies the weight whenever the module has a weight
    function; 0.33's dynamic-VRAM path (modules carrying ``_v``, ``resolve_cast_module_with_vbar``) may hand over
    the resident VRAM weight itself, which must not be touched."""

    def __init__(self, entry, layer, module=None):
        self.entry, self.layer = entry, layer
        self._module = weakref.ref(module) if module is not None else None

    def handed_a_copy(self):
        module = self._module() if self._module is not None else None
        return module is not None and not hasattr(module, "_v")

    def __call__(self, weight):
        return self.layer.merged(weight, {self.entry.id: self.entry.scale}, owned=self.handed_a_copy())

    def move_to(self, device=None):
        return self.layer.move_to(device) if device is not None else 0


def add_scheduled_lora(model, request, patches, unet_slots):
    """Register a scheduled LoRA on ``model`` (a clone): ``patches`` ``{key: ForgelinePatch}``, ``unet_slots`` the
    loractl keyframes ``[weights, positions]`` (or a number) per pass, ``{"first": …, "hires": …}``."""
    if not patches:
        return None
    if not hasattr(model, "add_weight_wrapper"):
        raise RuntimeError("this ComfyUI has no ModelPatcher.add_weight_wrapper; scheduled LoRA strength needs "
                           "ComfyUI 0.3.75 or newer - update ComfyUI or use a constant strength (empty schedule)")
    entry = ScheduleEntry(request.name, unet_slots, request.strength_model, request.mode, request.schedule)
    state = model.model.state_dict()
    for key, patch in patches.items():
        layer = ScheduledLayer(key, tuple(state[key].shape))
        for adapter, ratio in patch.items:
            layer.add(entry.id, adapter, ratio)
        entry.layers[key] = layer
        model.add_weight_wrapper(key, ScheduledWeight(entry, layer, comfy.utils.get_attr(model.model,
                                                                                         key.rpartition(".")[0])))
    opts = model.model_options.setdefault("transformer_options", {})
    opts[SCHEDULES] = list(opts.get(SCHEDULES, ())) + [entry]
    if not model.get_wrappers(pe.WrappersMP.SAMPLER_SAMPLE, WRAPPER_KEY):
        model.add_wrapper_with_key(pe.WrappersMP.SAMPLER_SAMPLE, WRAPPER_KEY, _sampler_sample)
    sampling_hooks.on_call(model, WRAPPER_KEY, _before_call)
    return entry


def run_pass(transformer_options):
    """``"hires"`` for a run carrying the HiRes pass marker, else ``"first"`` (which LoRA slot a run uses)."""
    marker = (transformer_options or {}).get(PASS_KEY) or {}
    return "hires" if marker.get("pass") == "hires" else "first"


def _sampler_sample(executor, *args, **kwargs):
    # args: (guider, sigmas, extra_args, callback, noise, latent_image, denoise_mask, disable_pbar)
    sigmas, extra_args = args[1], args[2]
    topts = extra_args["model_options"].setdefault("transformer_options", {})
    entries = topts.get(SCHEDULES) or []
    if not entries:
        return executor(*args, **kwargs)
    steps = max(int(sigmas.numel()) - 1, 1)
    table_steps = sampling_hooks.run_total_steps(topts, steps)
    which = run_pass(topts)
    for entry in entries:
        entry.table = entry.step_weights(entry.slots[which], table_steps)
    try:
        return executor(*args, **kwargs)
    finally:
        for entry in entries:
            entry.table = None
            entry.scale = entry.resting_scale()
            entry.drop_caches()


def _before_call(ctx, model_options):
    weights = []
    for entry in model_options.get("transformer_options", {}).get(SCHEDULES) or ():
        if entry.table is None:
            continue
        index = ctx.sampling_step if entry.mode == "loractl" else ctx.step
        entry.scale = entry.table[min(max(index, 0), len(entry.table) - 1)]
        weights.append(entry.scale)
    ctx.extra.setdefault("lora_weights", []).append(weights)
