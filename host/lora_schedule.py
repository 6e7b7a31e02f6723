"""Scheduled LoRA strength inside ComfyUI sampling, without writing the host's weights.

Rule (cheald/sd-webui-loractl, ``lora_ctl_network.py``; the step tables are ``lora.batched.step_table`` over
``lora/loractl.py``): the UNet strength of a scheduled LoRA follows its keyframes per sampler step;
``mode="loractl"`` indexes the per-step weights by A1111's ``shared.state.sampling_step`` (the last callback's step,
loractl's one-step lag), ``mode="exact"`` by the step of the model call (``x = i / (steps − 1)``).

Mechanism, per key the LoRA patches:

- **Low-rank adapters (LoRA, LoCon, Tucker-folded) on Linear/Conv2d weights, and plain bias deltas of those
  layers: on the activations.** A forward hook on the layer adds ``s(t)·up(down(x))`` to its output (the every-row
  mode of ``lora.batched.BatchedLora``, the engine Batch prompts (A1111) runs per image), registered for the length
  of one sampler run. Nothing of the weight is copied or rewritten: a step whose strength changes costs two
  low-rank products per layer on the activations, the same as ComfyUI's LoRA bypass (``comfy/weight_adapter/
  lora.py`` ``bypass_forward``), and the layer itself keeps running on the weight the host casts for it — also on
  ComfyUI 0.33's dynamic-VRAM patcher, under lowvram offload and with quantised weights.
  The cross-attention ``to_k``/``to_v`` layers read the text conditioning, which is the same at every step: their
  strength-1 term is computed once per distinct conditioning and each step adds ``s·T`` (``TextContext``).
- **Dense adapters (LoHa, LoKr, (IA)³, full ``diff``, DoRA) and non-Linear/Conv2d keys (norm layers): through
  ComfyUI's weight-wrapper hook**, ``ModelPatcher.add_weight_wrapper(key, ScheduledWeight)`` (ComfyUI 0.3.75 and
  0.33.0 install it as the module's ``weight_function``): ComfyUI's ``cast_bias_weight`` hands it the weight it
  computes with and runs the layer with ``lora.ScheduledLayer.merged`` = ``round(W + s·U)`` in fp32. A dense update
  has no low-rank form, and merging it costs a pass over the weight where the activation form would cost a second
  full layer product.

Both leave every tensor the host owns untouched: the base weights stay bit-identical and no restore is needed.

Per run: a ``SAMPLER_SAMPLE`` wrapper builds each entry's per-step tables over the logical run
(``sampling_hooks.run_total_steps``: the refiner handoff continues one schedule) for the run's pass (``hires`` when
HiRes Fix (A1111) marks the run, else ``first``), registers the forward hooks on the run's UNet, and an ``on_call``
listener sets each entry's strength before every model call. After the run the hooks are removed and factors moved
to the accelerator dropped (no VRAM held between runs); outside sampling an entry holds its step-0 strength.
"""
from __future__ import annotations

import uuid
import weakref

import comfy.patcher_extension as pe
import comfy.utils
import torch

from ..lora.batched import BatchedLora, step_table, table_value
from ..lora.requests import step0_weight
from ..lora.scheduled_delta import ScheduledLayer
from . import sampling_hooks
from .activation_hooks import layer_hook

SCHEDULES = "forgeline_lora_schedules"
WRAPPER_KEY = "forgeline.lora_schedule"
PASS_KEY = "forgeline_pass"


def on_activations(key, shape, adapter, shapes):
    """True when ``adapter`` on ``key`` takes the activation path (module docstring): a plain low-rank LoRA on a
    Linear/Conv2d weight, or a plain delta on the bias of such a layer."""
    kind = getattr(adapter, "kind", None)
    if key.endswith(".weight"):
        return kind == "lora" and getattr(adapter, "dora_scale", None) is None and len(shape) in (2, 4)
    if key.endswith(".bias") and kind == "diff":
        sibling = shapes.get(key[: -len(".bias")] + ".weight")
        return sibling is not None and len(sibling) in (2, 4)
    return False


class ScheduleEntry:
    """One scheduled LoRA on a model: its keyframes per pass, the activation engine for its low-rank keys, the
    merged layers for its dense keys, and the strength in force now (``scale``)."""

    def __init__(self, name, slots, strength, mode, schedule, shapes):
        self.id = f"{name}#{uuid.uuid4().hex[:8]}"
        self.slots, self.strength, self.mode, self.schedule = dict(slots), float(strength), mode, schedule
        self.engine = BatchedLora(1, shapes, every_row=True)
        self.layers = {}          # dense keys: ScheduledLayer
        self.table = None
        self.scale = self.resting_scale()

    def resting_scale(self):
        return self.strength * step0_weight(self.slots["first"])

    def begin_run(self, steps, pass_):
        self.table = step_table(self.slots[pass_], self.strength, steps, self.mode)
        if self.engine.uses:
            self.engine.begin_run(steps, pass_)

    def set_step(self, index_by_mode):
        self.scale = table_value(self.table, index_by_mode[self.mode])
        if self.engine.uses:
            self.engine.begin_call(1, index_by_mode)
        return self.scale

    def end_run(self):
        self.table = None
        self.scale = self.resting_scale()
        self.engine.release()
        for layer in self.layers.values():
            layer._cache = None

    def __deepcopy__(self, memo):  # ComfyUI 0.3.75 deep-copies model_options on clone: share the live entry
        return self


class ScheduledWeight:
    """ComfyUI ``weight_function`` for one dense key of one entry: ``weight -> round(weight + scale·U)``.

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
    from .lora_apply import model_targets

    shapes = model_targets(model, None)
    entry = ScheduleEntry(request.name, unet_slots, request.strength_model, request.mode, request.schedule, shapes)
    hooked, ratios = {}, {}
    for key, patch in patches.items():
        shape = tuple(shapes[key])
        dense = []
        for adapter, ratio in patch.items:
            if on_activations(key, shape, adapter, shapes) and ratios.get(key, ratio) == ratio:
                hooked.setdefault(key, []).append(adapter)
                ratios[key] = ratio
            else:
                dense.append((adapter, ratio))
        if dense:
            layer = ScheduledLayer(key, shape)
            for adapter, ratio in dense:
                layer.add(entry.id, adapter, ratio)
            entry.layers[key] = layer
            module = comfy.utils.get_attr(model.model, key.rpartition(".")[0])
            model.add_weight_wrapper(key, ScheduledWeight(entry, layer, module))
    if hooked:
        entry.engine.add(0, entry.id, hooked, unet_slots, request.strength_model, request.mode, ratios)
        entry.engine.build()
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


class TextContext:
    """The text conditioning of the current model call and a token that changes only when its values change.

    ComfyUI's UNet receives it as ``diffusion_model(x, t, context=…)`` (``comfy/model_base.py`` ``_apply_model``)
    and hands the same tensor object to every cross-attention ``to_k``/``to_v`` (``comfy/ldm/modules/attention.py``
    ``SpatialTransformer`` / ``CrossAttention``). It is the same at every step of a run unless the conditioning
    changes (prompt editing, a timestep range), so the LoRA term of those layers is computed once per distinct
    conditioning (``BatchedLora.apply(input_token=…)``). A layer whose input is any other tensor gets no token."""

    def __init__(self):
        self.tensor = None
        self.previous = None
        self.token = 0

    def pre_hook(self, module, args, kwargs):
        ctx = kwargs.get("context")
        prev = self.previous
        if ctx is None:
            self.tensor = None
            return None
        if prev is None or prev.shape != ctx.shape or prev.dtype != ctx.dtype or prev.device != ctx.device \
                or not torch.equal(prev, ctx):
            self.token += 1
            self.previous = ctx.detach().clone()
        self.tensor = ctx
        return None

    def token_for(self, x):
        return self.token if x is self.tensor and x is not None else None


def install_hooks(unet, entries):
    """One forward hook per hooked module of ``unet`` (the run's ``BaseModel``) applying every entry's engine, and
    the ``TextContext`` pre-hook on its ``diffusion_model``; returns the torch hook handles (remove them after the
    run)."""
    per_module = {}
    for entry in entries:
        for name in entry.engine.layers:
            per_module.setdefault(name, []).append(entry.engine)
    if not per_module:
        return []
    context = TextContext()
    handles = [unet.diffusion_model.register_forward_pre_hook(context.pre_hook, with_kwargs=True)]
    for name, engines in per_module.items():
        module = comfy.utils.get_attr(unet, name)
        handles.append(module.register_forward_hook(layer_hook(module, name, engines, context.token_for)))
    return handles


def _sampler_sample(executor, *args, **kwargs):
    # args: (guider, sigmas, extra_args, callback, noise, latent_image, denoise_mask, disable_pbar)
    guider, sigmas, extra_args = args[0], args[1], args[2]
    topts = extra_args["model_options"].setdefault("transformer_options", {})
    entries = topts.get(SCHEDULES) or []
    if not entries:
        return executor(*args, **kwargs)
    steps = max(int(sigmas.numel()) - 1, 1)
    table_steps = sampling_hooks.run_total_steps(topts, steps)
    which = run_pass(topts)
    handles = []
    try:
        for entry in entries:
            entry.begin_run(table_steps, which)
        handles = install_hooks(guider.model_patcher.model, entries)
        return executor(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
        for entry in entries:
            entry.end_run()


def _before_call(ctx, model_options):
    weights = []
    index = {"loractl": ctx.sampling_step, "exact": ctx.step}
    for entry in model_options.get("transformer_options", {}).get(SCHEDULES) or ():
        if entry.table is None:
            continue
        weights.append(entry.set_step(index))
    ctx.extra.setdefault("lora_weights", []).append(weights)
