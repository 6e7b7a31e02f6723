"""Scheduled LoRA strength inside ComfyUI sampling: ``ScheduledLoraMerge`` driven by the sampler step.

Rule (notes lora.md §4.6-§4.7, §7.2): scheduled LoRAs stay out of ``ModelPatcher.patches``. A model clone carries
the list of scheduled LoRAs (``transformer_options[SCHEDULES]``, replaced, never mutated, so clones stay apart) and
two hooks:

- a ``SAMPLER_SAMPLE`` wrapper (runs after ComfyUI has loaded and statically patched the weights) builds one engine
  over the live UNet weights (so the pristine copy ``W0'`` already holds every constant LoRA), precomputes each
  LoRA's weight for every step (loractl errors surface before the first step), picks merge or bypass per layer with
  the cost model (``lora.choose_path``: tokens per layer from the latent size and UNet level, batch = latent batch
  × 2 when cfg ≠ 1, changes = how often the per-step weights change), installs forward hooks on bypass layers,
  runs the sampler, and in ``finally`` removes the hooks and copies ``W0'`` back (bit-exact, also when sampling
  raises or is interrupted);
- a run that continues an earlier one (refiner handoff, ``sampling_context.continue_run``) builds its per-step
  weights over the whole schedule (``sampling_context.total_steps``) and indexes them by the context's continued
  ``sampling_step``/``step``, as loractl does inside A1111's single run;
- the entry carries the UNet keyframes of both passes (``slots`` ``{"first", "hires"}``, forced to one by the
  loader's ``pass``); the wrapper takes ``hires`` when the run carries the HiRes pass marker
  (``transformer_options["forgeline_pass"]["pass"] == "hires"``, ``nodes/hires_fix.py``), else ``first``;
- an ``on_call`` listener of ``nodes/sampling_context.py`` sets the strengths before each model call:
  ``mode="loractl"`` indexes the weights by ``ctx.sampling_step`` (A1111 ``shared.state.sampling_step``, the last
  callback's step: loractl's one-step lag, ``calculate_weight(step / (steps − 2))``); ``mode="exact"`` by
  ``ctx.step`` with ``x = i / (steps − 1)``. Only layers whose effective scale changed are re-merged, from
  pristine, one ``addmm`` per layer with the ranks of all scheduled LoRAs concatenated. Cond and uncond share the
  weights, so CFG stays one batch.

Engine cache: building an engine (factors, pristine copies, paths) costs about as much as a few merges, so the
built engine is kept between runs (LRU, ``ENGINE_CACHE_SIZE`` = 2: e.g. a first pass and a hires pass) under a key
of everything it depends on — the model object, each patched key's live tensor (identity, dtype, device, shape,
offload state), the scheduled LoRAs (per-loader ids) and their per-step tables, steps, latent shape, batch and forced
path. A hit is used only if, in addition, every merge layer's live tensor still equals its pristine copy bit for bit
and every bypass layer's live tensor has the fp64 sum recorded at build (ComfyUI re-loads weights in place between
runs, so version counters cannot tell; an in-place change by anyone forces a rebuild); the entry is taken out of
the cache while a run uses it and put back only after a successful restore. When ComfyUI detaches (unloads) the
model, entries whose pristine copies sit on another device than the model's offload device are dropped
(``ON_DETACH`` callback), so no VRAM is held for an unloaded model; ``clear_engine_cache()`` drops all.

Assumptions: weights are rewritten between model calls only, so no forward ever sees a half-merged tensor. A layer
whose module ComfyUI offloads (lowvram ``weight_function`` patches) or whose weight is quantised/fp8 is never
written: it takes the bypass path (``y += ((x·Aᵀ)·e)·Bᵀ``) on top of whatever ComfyUI computes. On CPU tests the
model is fully loaded.
"""
from __future__ import annotations

import math
import re
import uuid
from collections import OrderedDict

import comfy.patcher_extension as pe
import comfy.utils
import torch

from ..lora import ScheduledLoraMerge, keyframe_weight, sampler_step_weight
from . import sampling_context
from .hires_fix import PASS_KEY

SCHEDULES = "forgeline_lora_schedules"
ENGINE = "forgeline_lora_engine"
WRAPPER_KEY = "forgeline.lora_schedule"
FORCE_PATH = "forgeline_lora_force_path"
ENGINE_CACHE_SIZE = 2
_ENGINE_CACHE: OrderedDict = OrderedDict()      # key -> ((engine, tables, names), bypass-layer checksums)
_IN_OP = re.compile(r"diffusion_model\.input_blocks\.(\d+)\.0\.op\.")
_OUT = re.compile(r"diffusion_model\.output_blocks\.(\d+)\.(\d+)\.conv\.")


def add_scheduled_lora(model, request, patches, unet_slots):
    """Register a scheduled LoRA on ``model`` (a clone): ``patches`` ``{key: ForgelinePatch}``, ``unet_slots`` the
    loractl keyframes ``[weights, positions]`` (or a number) per pass, ``{"first": …, "hires": …}``."""
    if not patches:
        return
    opts = model.model_options.setdefault("transformer_options", {})
    entry = {"id": f"{request.name}#{uuid.uuid4().hex[:8]}", "patches": patches, "slots": dict(unet_slots),
             "strength": float(request.strength_model), "mode": request.mode, "schedule": request.schedule}
    opts[SCHEDULES] = list(opts.get(SCHEDULES, ())) + [entry]
    if not model.get_wrappers(pe.WrappersMP.SAMPLER_SAMPLE, WRAPPER_KEY):
        model.add_wrapper_with_key(pe.WrappersMP.SAMPLER_SAMPLE, WRAPPER_KEY, _sampler_sample)
    sampling_context.on_call(model, WRAPPER_KEY, _before_call)
    if not model.get_callbacks(pe.CallbacksMP.ON_DETACH, WRAPPER_KEY):
        model.add_callback_with_key(pe.CallbacksMP.ON_DETACH, WRAPPER_KEY, _forget_model)


def set_force_path(model, path):
    """Force ``"merge"`` or ``"bypass"`` for every scheduled layer of ``model`` (tests, benchmarks); None = cost model."""
    model.model_options.setdefault("transformer_options", {})[FORCE_PATH] = path


def run_pass(transformer_options):
    """``"hires"`` for a run carrying the HiRes pass marker, else ``"first"`` (which LoRA slot a run uses)."""
    marker = (transformer_options or {}).get(PASS_KEY) or {}
    return "hires" if marker.get("pass") == "hires" else "first"


def step_weights(entry, steps):
    """Per-step unet weight (× strength) of one entry: indexed by ``sampling_step`` (loractl) or step (exact)."""
    if entry["mode"] == "loractl":
        return [entry["strength"] * keyframe_weight(entry["slot"], s, steps) for s in range(steps)]
    return [entry["strength"] * sampler_step_weight(entry["slot"], i, steps, "exact") for i in range(steps)]


def unet_layer_tokens(model_keys, keys, latent_h, latent_w, context_tokens=77):
    """Tokens per sample seen by each UNet layer in ``keys``: ``⌈h/2^L⌉·⌈w/2^L⌉`` at level L (downsamplers
    ``input_blocks.N.0.op`` and upsamplers ``output_blocks.N.k.conv`` counted from the model's keys),
    ``context_tokens`` for cross-attention K/V, 1 for the time/label embeddings."""
    downs = sorted(int(m.group(1)) for k in model_keys if (m := _IN_OP.match(k)))
    ups = sorted({int(m.group(1)) for k in model_keys if (m := _OUT.match(k))})
    deepest = len(downs)

    def size(level):
        f = 2 ** max(level, 0)
        return math.ceil(latent_h / f) * math.ceil(latent_w / f)

    out = {}
    for key in keys:
        if ".attn2.to_k." in key or ".attn2.to_v." in key:
            out[key] = context_tokens
            continue
        if key.startswith(("diffusion_model.time_embed.", "diffusion_model.label_emb.")):
            out[key] = 1
            continue
        m = re.match(r"diffusion_model\.(input_blocks|middle_block|output_blocks)\.?(\d+)?", key)
        if not m:
            out[key] = size(0)
        elif m.group(1) == "input_blocks":
            out[key] = size(sum(1 for d in downs if d <= int(m.group(2))))
        elif m.group(1) == "middle_block":
            out[key] = size(deepest)
        else:
            n = int(m.group(2))
            level = deepest - sum(1 for u in ups if u < n)
            if _OUT.match(key):
                level -= 1
            out[key] = size(level)
    return out


def _changes(tables, steps):
    rows = [tuple(t[i] for t in tables) for i in range(steps)]
    return max(1, sum(1 for i in range(1, steps) if rows[i] != rows[i - 1]) + 1)


def _offloaded(module):
    return bool(getattr(module, "weight_function", None)) or bool(getattr(module, "bias_function", None))


def build_engine(base_model, entries, steps, latent_shape, batch, force_path=None, table_steps=None):
    """``(engine, tables, hooks_spec)`` for one run of ``steps`` steps over ``base_model``'s live weights (see module
    docstring); ``table_steps`` (default ``steps``) is the length of the logical run the weights are scheduled over."""
    keys = sorted({k for e in entries for k in e["patches"]})
    live, quantized = {}, set()
    for key in keys:
        live[key] = comfy.utils.get_attr(base_model, key)
        if _offloaded(comfy.utils.get_attr(base_model, key.rsplit(".", 1)[0])):
            quantized.add(key)
    tables = [step_weights(e, table_steps or steps) for e in entries]
    model_keys = [k for k, _ in base_model.named_parameters()]
    tokens = unet_layer_tokens(model_keys, keys, latent_shape[-2], latent_shape[-1])
    engine = ScheduledLoraMerge(live, tokens=tokens, batch=batch, steps=steps,
                                changes=_changes(tables, table_steps or steps),
                                quantized_keys=quantized, force_path=force_path)
    names = []
    for e, table in zip(entries, tables):
        group = []
        width = max(len(p.items) for p in e["patches"].values())
        for j in range(width):
            adapters = {k: p.items[j][0] for k, p in e["patches"].items() if j < len(p.items)}
            ratios = {k: p.items[j][1] for k, p in e["patches"].items() if j < len(p.items)}
            name = f"{e['id']}/{j}"
            engine.add_lora(name, adapters, strength=table[0], scheduled=True, block_multipliers=ratios)
            group.append(name)
        names.append(group)
    engine.build()
    return engine, tables, names


def clear_engine_cache():
    """Drop every cached engine (and its pristine copies)."""
    _ENGINE_CACHE.clear()


def _forget_model(patcher, *args):
    model_id, offload = id(getattr(patcher, "model", None)), str(getattr(patcher, "offload_device", "cpu"))
    for key in [k for k in _ENGINE_CACHE if k[0] == model_id]:
        engine = _ENGINE_CACHE[key][0][0]
        if any(str(layer.live.device) != offload for layer in engine.layers.values()):
            del _ENGINE_CACHE[key]


def _bypass_sums(engine):
    return tuple(float(torch.sum(layer.live.detach(), dtype=torch.float64)) for layer in engine.layers.values()
                 if layer.pristine is None)


def engine_cache_key(base_model, entries, tables, steps, latent_shape, batch, force_path):
    """Everything a built engine depends on except the bits of the live weights (see module docstring)."""
    live = []
    for key in sorted({k for e in entries for k in e["patches"]}):
        t = comfy.utils.get_attr(base_model, key)
        module = comfy.utils.get_attr(base_model, key.rsplit(".", 1)[0])
        live.append((key, id(t), str(t.dtype), str(t.device), tuple(t.shape), _offloaded(module)))
    return (id(base_model), tuple(live), tuple(e["id"] for e in entries), tuple(tuple(t) for t in tables),
            int(steps), tuple(latent_shape), int(batch), force_path)


def _cached_engine(key):
    """The cached ``(engine, tables, names)`` for ``key`` if its weights are untouched since its restore, else None;
    the entry leaves the cache either way (it is put back after the run's restore)."""
    hit = _ENGINE_CACHE.pop(key, None)
    if hit is None:
        return None
    state, sums = hit
    engine = state[0]
    if _bypass_sums(engine) != sums:
        return None
    for layer in engine.layers.values():
        if layer.pristine is not None and not torch.equal(layer.live, layer.pristine):
            return None
    return state


def _install_bypass_hooks(engine, base_model):
    handles = []
    for key, layer in engine.layers.items():
        if layer.path != "bypass":
            continue
        module = comfy.utils.get_attr(base_model, key.rsplit(".", 1)[0])
        if key.endswith(".bias"):
            continue

        def hook(mod, args, output, key=key):
            delta = engine.forward_delta(key, args[0], getattr(mod, "stride", 1), getattr(mod, "padding", 0),
                                         getattr(mod, "dilation", 1))
            return output if delta is None else output + delta
        handles.append(module.register_forward_hook(hook))
    return handles


def _sampler_sample(executor, *args, **kwargs):
    # args: (guider, sigmas, extra_args, callback, noise, latent_image, denoise_mask, disable_pbar)
    guider, sigmas, extra_args, noise = args[0], args[1], args[2], args[4]
    topts = extra_args["model_options"].setdefault("transformer_options", {})
    entries = topts.get(SCHEDULES) or []
    if not entries:
        return executor(*args, **kwargs)
    which = run_pass(topts)
    entries = [{**e, "slot": e["slots"][which]} for e in entries]
    steps = max(int(sigmas.numel()) - 1, 1)
    cfg = float(getattr(guider, "cfg", 2.0))
    batch = int(noise.shape[0]) * (1 if cfg == 1.0 else 2)
    base_model = guider.model_patcher.model
    table_steps = sampling_context.total_steps(topts, steps)
    key = engine_cache_key(base_model, entries, [step_weights(e, table_steps) for e in entries], steps,
                           tuple(noise.shape), batch, topts.get(FORCE_PATH))
    state = _cached_engine(key)
    if state is None:
        state = build_engine(base_model, entries, steps, tuple(noise.shape), batch, topts.get(FORCE_PATH),
                             table_steps)
    engine, tables, names = state
    topts[ENGINE] = (engine, tables, names, [e["mode"] for e in entries])
    handles = _install_bypass_hooks(engine, base_model)
    try:
        return executor(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
        engine.restore()
        topts.pop(ENGINE, None)
        _ENGINE_CACHE[key] = (state, _bypass_sums(engine))
        while len(_ENGINE_CACHE) > ENGINE_CACHE_SIZE:
            _ENGINE_CACHE.popitem(last=False)


def _before_call(ctx, model_options):
    state = model_options.get("transformer_options", {}).get(ENGINE)
    if state is None:
        return
    engine, tables, names, modes = state
    scales = {}
    for table, group, mode in zip(tables, names, modes):
        index = ctx.sampling_step if mode == "loractl" else ctx.step
        value = table[min(max(index, 0), len(table) - 1)]
        for name in group:
            scales[name] = value
    engine.set_scales(scales)
    ctx.extra.setdefault("lora_weights", []).append([scales[group[0]] for group in names])



NODES = []
