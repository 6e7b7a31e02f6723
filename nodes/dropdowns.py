"""Forgeline samplers and schedulers in ComfyUI's own dropdowns (KSampler, KSamplerAdvanced, KSamplerSelect,
BasicScheduler): the pack's one monkeypatch, small and idempotent (comfy-host.md §2.3).

ComfyUI has no registry API (up to v0.8): ``KSampler.SAMPLERS is SAMPLER_NAMES`` and ``KSampler.SCHEDULERS is
SCHEDULER_NAMES`` are the list objects every node's combo refers to, so names are appended to those lists **in
place** (never rebound) and only when missing. Samplers become ``comfy.k_diffusion.sampling.sample_<name>``
(``comfy.samplers.ksampler`` looks them up there) and go into both ``KSAMPLER_NAMES`` and ``SAMPLER_NAMES``.
Schedulers go into ``SCHEDULER_HANDLERS`` as ``SchedulerHandler(fn, use_ms=…)``; cores without that table
(before ~0.3.2x) get a wrapper around ``comfy.samplers.calculate_sigmas`` that answers the Forgeline names and
passes everything else through, installed once.

AYS needs the model family but a ``use_ms`` handler only receives ``model_sampling``; SD1.5 and SDXL share the
same ``model_sampling`` numbers, so the handler finds the ModelPatcher that owns this ``model_sampling`` object in
its callers' frames (the stock ``KSampler.calculate_sigmas``'s ``self.model``, ``BasicScheduler``'s ``model``)
and reads its latent format. With no owner in sight it assumes SD1 and logs a warning pointing to the
"Align Your Steps sigmas (Forgeline)" node, where the model type is explicit.
"""
from __future__ import annotations

import logging
import sys

import comfy.samplers
from comfy.k_diffusion import sampling as k_diffusion_sampling

from .a1111_sampling import FORGELINE_SAMPLERS, FORGELINE_SCHEDULERS, forgeline_schedule

log = logging.getLogger("forgeline")

_FRAME_DEPTH = 12


def _owner_latent_format(model_sampling):
    """Latent format of the ModelPatcher (or BaseModel) in the calling frames that owns ``model_sampling``."""
    frame = sys._getframe(2)
    for _ in range(_FRAME_DEPTH):
        if frame is None:
            break
        for value in list(frame.f_locals.values()):
            candidate = getattr(value, "model", None) if isinstance(value, comfy.samplers.KSampler) else value
            get = getattr(candidate, "get_model_object", None)
            try:
                if get is not None and get("model_sampling") is model_sampling:
                    return get("latent_format")
                if getattr(candidate, "model_sampling", None) is model_sampling and hasattr(candidate, "latent_format"):
                    return candidate.latent_format
            except Exception:  # a foreign object with a get_model_object of another meaning
                continue
        frame = frame.f_back
    return None


def _ms_handler(name):
    def handler(model_sampling, steps):
        latent_format = _owner_latent_format(model_sampling) if FORGELINE_SCHEDULERS[name][0] == "ays" else None
        if latent_format is None and FORGELINE_SCHEDULERS[name][0] == "ays":
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


NODES: list = []
