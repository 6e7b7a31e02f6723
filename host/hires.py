"""HiRes Fix (A1111): upscale a first-pass latent and re-sample it with A1111's hires-pass semantics.

Design: the node takes the **first pass's LATENT** (from KSampler (A1111), the stock KSampler or any sampler) plus
the settings that pass used — the same model, prompts, seed, steps, CFG, sampler and scheduler, exactly the fields
of A1111's txt2img tab — and does what A1111's "Hires. fix" panel adds (``processing.py``
``StableDiffusionProcessingTxt2Img.sample_hr_pass``). Wiring the first pass separately keeps every first-pass
option (ControlNet, regional prompts, any sampler) available, and the same node also upscales a loaded image.

A1111 rules reproduced (A1111 1.10):

* size: ``hires_target_size`` (factor ``int(w·scale)``, or "resize to" with aspect-preserving crop), floored to
  multiples of 8 by the latent;
* upscalers: the six "Latent …" interpolations, PIL Lanczos/Nearest (plus Bicubic) in pixel space, or an upscale
  model (``nodes/upscale.py``);
* steps: ``hires_steps`` (0 = the first pass's ``steps``) run at the tail of an ``int(hires_steps / min(denoise,
  0.999))``-step schedule (``setup_img2img_steps``; ComfyUI's ``KSampler.set_steps`` denoise rule, ``comfy/samplers.py``);
* seed: the hires noise is drawn afresh from the **first pass's seed** (A1111 rebuilds ``ImageRNG`` with
  ``p.seeds``), so a hires pass equals ``KSampler(seed, steps, denoise)`` on the upscaled latent;
* hires prompt/negative, CFG, sampler and scheduler fall back to the first pass's when left empty/"same".

Pass marker for other Forgeline features: during the hires run the model carries
``transformer_options["forgeline_pass"] = {"pass": "hires", "first_pass_steps", "hires_steps"}`` and, before every
model call, the sampling context gets ``ctx.extra["pass"] = "hires"`` (plus the two step counts), and prompt
editing is switched to its hires schedule (A1111 ``get_learned_conditioning_prompt_schedules(…, hires_steps)``):
the model's prompt-schedule pass is set to ``hires`` once (``prompt_schedule.set_pass``; a ``first``/``hires`` pass
forced upstream by A1111 Prompt Editing Steps is kept), and the runner's ``enable_step_schedules`` keeps it.

Differences from A1111 (documented): at denoise ≥ 0.999 the "comfy" noise source starts from
``latent + noise·√(1+σ₀²)`` (ComfyUI's max-denoise scaling; the a1111_* sources use A1111's ``noise·σ₀``); pixel
upscalers resize straight to the 8-aligned size.
"""
from __future__ import annotations

import comfy.utils

from ..samplers import hires_pass_steps, hires_schedule_length, hires_sigma_start, hires_target_size
from . import upscale
from .passes import PassProgress, mark_pass
from .sampling import full_schedule, sample_a1111, sampling_input_error

SAME = "(same as first pass)"
MAX_RESOLUTION = 16384


def hires_input_error(upscale_by=None, resize_width=None, resize_height=None, denoise=None, hires_steps=None,
                      upscaler=None, hires_cfg=None) -> str | None:
    """A message naming the first bad HiRes input and how to fix it, or None."""
    if upscaler is not None and upscaler not in upscale.UPSCALERS:
        return upscale.upscaler_error(upscaler)
    if upscale_by is not None and not 0.0 < upscale_by <= 8.0:
        return f"upscale_by={upscale_by}: must be in (0, 8] (A1111 'Upscale by', usually 1.5–2)"
    for name, value in (("resize_width", resize_width), ("resize_height", resize_height)):
        if value is not None and value != 0 and not 64 <= value <= MAX_RESOLUTION:
            return f"{name}={value}: use 0 (keep aspect ratio / use upscale_by) or 64…{MAX_RESOLUTION} pixels"
    if denoise is not None and not 0.0 <= denoise <= 1.0:
        return f"denoise={denoise}: must be in [0, 1] (A1111 'Denoising strength', usually 0.3–0.7)"
    if hires_steps is not None and not 0 <= hires_steps <= 10000:
        return f"hires_steps={hires_steps}: use 0 (same as the first pass) or 1…10000"
    if hires_cfg is not None and not 0.0 <= hires_cfg <= 100.0:
        return f"hires_cfg={hires_cfg}: use 0 (same as the first pass) or a CFG scale up to 100"
    return None


def hires_fix(model, positive, negative, latent, *, seed, steps, cfg, sampler_name, scheduler, upscaler="Latent",
              upscale_by=2.0, resize_width=0, resize_height=0, hires_steps=0, denoise=0.7, hires_sampler=SAME,
              hires_scheduler=SAME, hires_cfg=0.0, hires_positive=None, hires_negative=None, vae=None,
              upscale_model=None, noise_source="comfy", eta=1.0, s_noise=1.0, ensd=0):
    """Upscale ``latent`` (a first pass of ``steps`` steps) and run A1111's hires pass; returns a LATENT dict."""
    error = hires_input_error(upscale_by, resize_width, resize_height, denoise, hires_steps, upscaler, hires_cfg)
    error = error or upscale.upscaler_error(upscaler, vae, upscale_model)
    if error:
        raise ValueError(f"HiRes Fix: {error}")
    samples = latent["samples"]
    if samples.ndim != 4:
        raise ValueError(f"HiRes Fix: latent has shape {tuple(samples.shape)}; it needs an image latent (B, C, H, W)")
    size = hires_target_size(samples.shape[-1] * 8, samples.shape[-2] * 8, upscale_by, resize_width, resize_height)
    if not (64 <= size.width <= MAX_RESOLUTION and 64 <= size.height <= MAX_RESOLUTION):
        raise ValueError(f"HiRes Fix: the hires size would be {size.width}x{size.height} pixels; keep it within "
                         f"64…{MAX_RESOLUTION} (lower upscale_by or the resize size)")
    run_steps = hires_pass_steps(steps, hires_steps)
    sampler_name = sampler_name if hires_sampler in (SAME, "", None) else hires_sampler
    scheduler = scheduler if hires_scheduler in (SAME, "", None) else hires_scheduler
    cfg = hires_cfg or cfg
    error = sampling_input_error(steps=run_steps, sampler_name=sampler_name, scheduler=scheduler, cfg=cfg)
    if error:
        raise ValueError(f"HiRes Fix: {error}")

    progress = PassProgress(1 + run_steps, model)
    latent_w, latent_h = size.latent_size
    if upscale.is_latent_mode(upscaler):
        upscaled = upscale.upscale_latent(samples, latent_w, latent_h, upscaler)
    else:
        upscaled = upscale.upscale_in_pixels(vae, samples, latent_w * 8, latent_h * 8, upscaler, upscale_model)
    upscaled = upscale.crop_latent(upscaled, size.crop)
    progress.advance()
    hires_latent = {k: v for k, v in latent.items() if k not in ("samples", "noise_mask")}
    hires_latent["samples"] = upscaled

    total = hires_schedule_length(run_steps, denoise)
    if total == 0:
        return hires_latent
    sigmas = full_schedule(model, scheduler, total, sampler_name)[hires_sigma_start(total, run_steps):]
    hires_model = mark_pass(model.clone(), "hires", first_pass_steps=int(steps), hires_steps=run_steps)
    out, _info = sample_a1111(hires_model, hires_positive or positive, hires_negative or negative, hires_latent,
                              seed=seed, steps=run_steps, cfg=cfg, sampler_name=sampler_name, scheduler=scheduler,
                              sigmas=sigmas, eta=eta, s_noise=s_noise, noise_source=noise_source, ensd=ensd,
                              callback=progress.callback(), disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED)
    return out
