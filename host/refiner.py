"""Refiner handoff (A1111): base model for the first part of ONE schedule, refiner model for the rest.

A1111 (``sd_samplers_common.apply_refiner``, 1.10) swaps the checkpoint inside a single sampler run once
``completed_ratio >= refiner_switch_at``; the schedule, the sampler and its noise stream carry on. Forgeline runs the
same schedule in two ComfyUI sampling runs on the shared runner (``a1111_sampling.sample_a1111``):

* ONE sigma schedule, built once from the base model for ``steps`` steps (``full_schedule``);
* the switch step ``k`` by A1111's rule (``samplers.refiner_switch``): "timestep" (A1111's default, the model
  timestep nearest to σ_k has ``(999 − t)/1000 >= switch_at``) or "steps" (the "switch by sampling steps" option);
* the base runs ``σ_0 … σ_k`` with noise added and returns its leftover noise (no forced 0);
* the refiner continues ``σ_k … 0`` with no new initial noise and the base run's **ancestral noise sampler object**
  (``info.noise_sampler``), so Euler a / DPM2 a / DPM++ 2S a / LCM draw one continuous stream, as one run would.
  The native example instead re-seeds the refiner's ancestral noise from its own ``noise_seed`` (0 in
  ``sdxl_simple_example``, comfyanonymous/ComfyUI_examples ``sdxl/sdxl_simple_example.png``).

So ``switch_at = 1.0`` is a single base run, and for a deterministic sampler (Euler) a split at ``k`` equals the
two-``KSamplerAdvanced`` graph (base 0→k with leftover noise, refiner k→end without added noise).

Conditioning: the refiner needs its OWN positive/negative, encoded with the refiner checkpoint's CLIP (SDXL refiner:
CLIP-G only, 1280-wide; use ``CLIPTextEncodeSDXLRefiner`` or any encoder). For an SDXL refiner model, entries without
an ``aesthetic_score`` get A1111's defaults (``sdxl_refiner_high_aesthetic_score`` 6.0 for the positive,
``sdxl_refiner_low_aesthetic_score`` 2.5 for the negative); an explicit score from ``CLIPTextEncodeSDXLRefiner`` wins.

Pass markers: ``transformer_options["forgeline_pass"]`` / ``ctx.extra`` carry ``{"pass": "base" | "refiner",
"switch_step": k, "total_steps": steps}``.

One logical run for the step counters (``sampling_hooks.continue_run``): both parts' contexts describe the whole
schedule (``ctx.steps = steps``), and the refiner part's model-call counter starts at the base part's call count and
its sampler step at ``k`` (``sampling_step = k − 1``, the base's last callback), as A1111's single run counts — so
prompt editing switches at the same model call and loractl reads the same step as without the split.

Differences from A1111 (documented): the handoff is at a step boundary (A1111 can switch on the second model call
of a second-order step); multistep samplers (DPM++ 2M, …) restart their history at the handoff and SDE samplers
re-seed their Brownian noise over the refiner's σ range (the two-run limit; one-stream samplers are exact).
"""
from __future__ import annotations

import comfy.utils

from ..samplers import refiner_switch_step_by_steps, refiner_switch_step_by_timestep
from . import sampling_hooks
from .sampling import full_schedule, sample_a1111, sampling_input_error
from .passes import PassProgress, mark_pass

SWITCH_BY = ("timestep", "steps")


def refiner_input_error(switch_at=None, switch_by=None, refiner_cfg=None) -> str | None:
    """A message naming the first bad refiner input and how to fix it, or None."""
    if switch_at is not None and not 0.0 < switch_at <= 1.0:
        return (f"switch_at={switch_at}: must be in (0, 1] — the fraction of the run the base model does "
                "(A1111 'Switch at', usually 0.8); 1.0 means no refiner")
    if switch_by is not None and switch_by not in SWITCH_BY:
        return f"switch_by={switch_by!r}: use 'timestep' (A1111 default) or 'steps'"
    if refiner_cfg is not None and not 0.0 <= refiner_cfg <= 100.0:
        return f"refiner_cfg={refiner_cfg}: use 0 (same as cfg) or a CFG scale up to 100"
    return None


def switch_step(model, sigmas, steps, switch_at, switch_by="timestep", sampler_name=""):
    """The step where the refiner takes over (``steps`` = never), by A1111's rule."""
    if switch_by == "steps":
        return refiner_switch_step_by_steps(steps, switch_at)
    table = model.get_model_object("model_sampling").sigmas
    return refiner_switch_step_by_timestep(sigmas, table, switch_at)


def _context_width(model):
    config = getattr(getattr(model, "model", None), "model_config", None)
    return (getattr(config, "unet_config", None) or {}).get("context_dim")


def check_conditioning(model, cond, input_name, model_input):
    """Clear error when ``cond`` was encoded by a CLIP of another width than ``model`` attends to."""
    if not cond:
        raise ValueError(f"Refiner: '{input_name}' is empty; connect a text encode of the prompt for "
                         f"'{model_input}'")
    width = _context_width(model)
    for entry in cond:
        tensor = entry[0] if isinstance(entry, (list, tuple)) and entry else None
        if width and getattr(tensor, "ndim", 0) == 3 and tensor.shape[-1] != width:
            raise ValueError(f"Refiner: '{input_name}' has {tensor.shape[-1]}-wide text embeddings but "
                             f"'{model_input}' expects {width}: encode it with that checkpoint's own CLIP "
                             "(for an SDXL refiner: CLIPTextEncodeSDXLRefiner with the refiner's CLIP)")


def check_same_latent_space(base_model, refiner_model):
    base = type(base_model.get_model_object("latent_format"))
    refiner = type(refiner_model.get_model_object("latent_format"))
    if base is not refiner:
        raise ValueError(f"Refiner: base_model works in the {base.__name__} latent space but refiner_model in "
                         f"{refiner.__name__}; a refiner must share the base's latent space (SDXL base -> SDXL "
                         "refiner, SD1.5 -> SD1.5 fine-tune)")


def with_aesthetic_score(model, cond, score):
    """SDXL refiner: add ``aesthetic_score`` to entries that lack it (A1111 defaults 6.0 / 2.5)."""
    if type(getattr(model, "model", None)).__name__ != "SDXLRefiner":
        return cond
    return [[t, d if "aesthetic_score" in d else {**d, "aesthetic_score": float(score)}] for t, d in cond]


def refiner_handoff(base_model, base_positive, base_negative, refiner_model, refiner_positive, refiner_negative,
                    latent, *, seed, steps, cfg, sampler_name, scheduler, switch_at=0.8, switch_by="timestep",
                    refiner_cfg=0.0, aesthetic_score=6.0, negative_aesthetic_score=2.5, noise_source="comfy",
                    eta=1.0, s_noise=1.0, ensd=0):
    """Base → refiner on one schedule and one noise stream; returns ``(latent_dict, switch_step)``."""
    error = refiner_input_error(switch_at, switch_by, refiner_cfg)
    error = error or sampling_input_error(steps=steps, sampler_name=sampler_name, scheduler=scheduler, cfg=cfg)
    if error:
        raise ValueError(f"Refiner: {error}")
    check_same_latent_space(base_model, refiner_model)
    check_conditioning(base_model, base_positive, "base_positive", "base_model")
    check_conditioning(base_model, base_negative, "base_negative", "base_model")
    check_conditioning(refiner_model, refiner_positive, "refiner_positive", "refiner_model")
    check_conditioning(refiner_model, refiner_negative, "refiner_negative", "refiner_model")
    refiner_positive = with_aesthetic_score(refiner_model, refiner_positive, aesthetic_score)
    refiner_negative = with_aesthetic_score(refiner_model, refiner_negative, negative_aesthetic_score)

    sigmas = full_schedule(base_model, scheduler, steps, sampler_name)
    k = switch_step(base_model, sigmas, steps, switch_at, switch_by, sampler_name)
    tag = dict(switch_step=k, total_steps=steps)
    common = dict(seed=seed, steps=steps, sampler_name=sampler_name, scheduler=scheduler, sigmas=sigmas, eta=eta,
                  s_noise=s_noise, noise_source=noise_source, ensd=ensd,
                  disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED)
    progress = PassProgress(steps, base_model)
    refiner = mark_pass(refiner_model.clone(), "refiner", **tag)
    if k == 0:  # the refiner does the whole run
        out, _ = sample_a1111(refiner, refiner_positive, refiner_negative, latent, cfg=refiner_cfg or cfg,
                              callback=progress.callback(refiner_model), **common)
        return out, k
    base = mark_pass(base_model.clone(), "base", **tag)
    sampling_hooks.continue_run(base, calls=0, steps=0, sigmas=sigmas)
    out, info = sample_a1111(base, base_positive, base_negative, latent, cfg=cfg, last_step=k,
                             force_full_denoise=k >= steps, callback=progress.callback(), **common)
    if k >= steps:
        return out, k
    sampling_hooks.continue_run(refiner, calls=info.model_calls, steps=k, sigmas=sigmas)
    out, _ = sample_a1111(refiner, refiner_positive, refiner_negative, out, cfg=refiner_cfg or cfg, start_step=k,
                          add_noise=False, noise_sampler=info.noise_sampler,
                          callback=progress.callback(refiner_model), **common)
    return out, k
