"""Forgeline samplers and schedulers in ComfyUI's own dropdowns (KSampler, KSamplerAdvanced, KSamplerSelect,
BasicScheduler): the pack's one monkeypatch, small and idempotent.

ComfyUI has no registry API (up to v0.8): ``KSampler.SAMPLERS is SAMPLER_NAMES`` and ``KSampler.SCHEDULERS is
SCHEDULER_NAMES`` are the list objects every node's combo refers to, so names are appended to those lists **in
place** (never rebound) and only when missing. Samplers become ``comfy.k_diffusion.sampling.sample_<name>``
(``comfy.samplers.ksampler`` looks them up there) and go into both ``KSAMPLER_NAMES`` and ``SAMPLER_NAMES``.
Schedulers go into ``SCHEDULER_HANDLERS`` as ``SchedulerHandler(fn, use_ms=…)``; cores without that table
(before ~0.3.2x) get a wrapper around ``comfy.samplers.calculate_sigmas`` that answers the Forgeline names and
passes everything else through, installed once.

AYS needs the model family but a ``use_ms`` handler only receives ``model_sampling`` (SD1.5 and SDXL share the same
numbers). The family comes from the model that owns this ``model_sampling`` module, found without looking at the
callers: first among ComfyUI's loaded models (``comfy.model_management.current_loaded_models``), then through the
garbage collector's referrers (the ``BaseModel`` whose submodule it is). Found owners are remembered per object
(weakly). With no owner it assumes SD1 and logs one warning pointing to the "Align Your Steps sigmas (Forgeline)"
node, where the model type is explicit. Forgeline's own samplers pass the model's latent format directly.
"""
from __future__ import annotations

import gc
import logging
import weakref

import comfy.model_management
import comfy.samplers
import torch
from comfy.k_diffusion import sampling as k_diffusion_sampling

from .sampling import FORGELINE_SAMPLERS, FORGELINE_SCHEDULERS, forgeline_schedule

log = logging.getLogger("forgeline")

_OWNERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_WARNED: set = set()


def _latent_format_of(owner):
    return getattr(owner, "latent_format", None)


def _module_holding(child):
    """The ``torch.nn.Module`` with a ``latent_format`` that has ``child`` in its ``_modules`` (gc referrers; the
    instance dict may sit between the module and its ``_modules`` depending on the Python version)."""
    for holder in gc.get_referrers(child):
        if not isinstance(holder, dict) or holder.get("model_sampling") is not child:
            continue
        frontier = [holder]
        for _depth in range(2):
            found = []
            for ref in frontier:
                for candidate in gc.get_referrers(ref):
                    if isinstance(candidate, torch.nn.Module) and hasattr(candidate, "latent_format"):
                        return candidate
                    if isinstance(candidate, dict) and candidate.get("_modules") is ref:
                        found.append(candidate)
            frontier = found
    return None


def owner_latent_format(model_sampling):
    """Latent format of the model whose ``model_sampling`` submodule this is, or None (module docstring)."""
    try:
        if model_sampling in _OWNERS:
            return _latent_format_of(_OWNERS[model_sampling]())
    except TypeError:  # not weak-referenceable
        return None
    owner = None
    for loaded in list(getattr(comfy.model_management, "current_loaded_models", ())):
        model = getattr(getattr(loaded, "model", None), "model", None)
        if getattr(model, "model_sampling", None) is model_sampling:
            owner = model
            break
    if owner is None:
        owner = _module_holding(model_sampling)
    if owner is None:
        return None
    _OWNERS[model_sampling] = weakref.ref(owner)
    return _latent_format_of(owner)


def _ms_handler(name):
    def handler(model_sampling, steps):
        latent_format = owner_latent_format(model_sampling) if FORGELINE_SCHEDULERS[name][0] == "ays" else None
        if latent_format is None and FORGELINE_SCHEDULERS[name][0] == "ays" and name not in _WARNED:
            _WARNED.add(name)
            log.warning("Forgeline: %s could not see which model family is sampling; using the SD1 table. Use the "
                        "'Align Your Steps sigmas (Forgeline)' node to choose SD1/SDXL/SVD explicitly.", name)
        return forgeline_schedule(name, model_sampling, steps, latent_format)
    handler.__name__ = f"{name}_scheduler"
    return handler


def register_samplers() -> None:
    for name, function in FORGELINE_SAMPLERS.items():
        setattr(k_diffusion_sampling, f"sample_{name}", function)
        for names in (comfy.samplers.KSAMPLER_NAMES, comfy.samplers.SAMPLER_NAMES):
            if name not in names:
                names.append(name)


def register_schedulers() -> None:
    handlers = getattr(comfy.samplers, "SCHEDULER_HANDLERS", None)
    scheduler_handler = getattr(comfy.samplers, "SchedulerHandler", None)
    if handlers is not None and scheduler_handler is not None:
        for name in FORGELINE_SCHEDULERS:
            handlers[name] = scheduler_handler(_ms_handler(name), use_ms=True)
    else:
        _wrap_calculate_sigmas()
    for name in FORGELINE_SCHEDULERS:
        if name not in comfy.samplers.SCHEDULER_NAMES:
            comfy.samplers.SCHEDULER_NAMES.append(name)


def _wrap_calculate_sigmas() -> None:
    original = getattr(comfy.samplers, "calculate_sigmas", None)
    if original is None:
        log.warning("Forgeline: this ComfyUI has neither SCHEDULER_HANDLERS nor calculate_sigmas; Forgeline "
                    "schedulers are available only through the Forgeline sigma nodes.")
        return
    if getattr(original, "_forgeline_wrapped", False):
        return
    handlers = {name: _ms_handler(name) for name in FORGELINE_SCHEDULERS}

    def calculate_sigmas(model_sampling, scheduler_name, steps):
        if scheduler_name in handlers:
            return handlers[scheduler_name](model_sampling, steps)
        return original(model_sampling, scheduler_name, steps)

    calculate_sigmas._forgeline_wrapped = True
    calculate_sigmas.__wrapped__ = original
    comfy.samplers.calculate_sigmas = calculate_sigmas


def on_load() -> None:
    """Register (again: idempotent) the Forgeline samplers and schedulers into ComfyUI's lists."""
    register_samplers()
    register_schedulers()

