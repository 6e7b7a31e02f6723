"""How each UI cuts a schedule for denoise < 1 or drops a level (A1111 ``modules/sd_samplers_common.py``
``setup_img2img_steps``; ComfyUI ``comfy/samplers.py`` ``KSampler.set_steps``,
``comfy_extras/nodes_align_your_steps.py``; worked examples in docs/DERIVATIONS.md, 'Denoise slicing').

* ComfyUI ``AlignYourStepsScheduler`` / ``GITSScheduler`` / ``SplitSigmasDenoise``: build the ``steps`` schedule,
  keep the last ``round(steps·denoise) + 1`` levels (Python ``round``: halves to even), force the last to 0;
  ``denoise <= 0`` gives an empty schedule; ``denoise >= 1`` keeps everything.
* ComfyUI ``KSampler`` / ``BasicScheduler``: ``denoise > 0.9999`` → ``calc(steps)``; ``denoise <= 0`` → empty;
  else ``calc(int(steps / denoise))[-(steps + 1):]`` (``int`` truncates: 10 steps at 0.3 builds 33).
* A1111 img2img (``setup_img2img_steps``, ``img2img_fix_steps`` off): ``t_enc = int(min(denoise, 0.999)·steps)``,
  the schedule is built for ``steps`` and ``sigmas[steps − t_enc − 1:]`` runs ``t_enc + 1`` steps
  (20 steps at 0.5 runs 11 steps from σ_9).
* A1111 ``discard_next_to_last_sigma``: drop σ_{n−1} (the level before the final 0).
"""
import math

import torch


def ays_denoise_slice(sigmas, steps, denoise):
    """ComfyUI AYS/GITS denoise rule: keep the last ``round(steps·denoise)+1`` levels and set the last one to 0."""
    denoise = _check_denoise(denoise)
    if denoise <= 0.0:
        return torch.zeros(0, dtype=sigmas.dtype, device=sigmas.device)
    total_steps = steps if denoise >= 1.0 else round(steps * denoise)
    out = sigmas[-(total_steps + 1):].clone()
    out[-1] = 0
    return out


def ksampler_denoise_sigmas(calc, steps, denoise):
    """ComfyUI ``KSampler.set_steps`` rule: ``calc(int(steps/denoise))[-(steps+1):]``; ``calc(steps)`` above 0.9999."""
    if denoise is None or _check_denoise(denoise) > 0.9999:
        return calc(steps)
    if denoise <= 0.0:
        return torch.zeros(0)
    return calc(int(steps / denoise))[-(steps + 1):]


def a1111_img2img_sigmas(sigmas, steps, denoise):
    """A1111 img2img rule: ``t_enc = int(min(denoise, 0.999)·steps)``, run ``sigmas[steps − t_enc − 1:]``."""
    denoise = _check_denoise(denoise)
    if len(sigmas) != steps + 1:
        raise ValueError(f"a1111_img2img_sigmas: expected a schedule of steps+1 = {steps + 1} levels, got {len(sigmas)}; "
                         "build the schedule for the full step count first")
    t_enc = int(min(denoise, 0.999) * steps)
    return sigmas[steps - t_enc - 1:]


def discard_penultimate_sigma(sigmas):
    """A1111 ``discard_next_to_last_sigma``: ``[σ_0, …, σ_{n−2}, σ_n]``."""
    if len(sigmas) < 3:
        raise ValueError(f"discard_penultimate_sigma: need at least 3 levels, got {len(sigmas)}; use more steps")
    return torch.cat([sigmas[:-2], sigmas[-1:]])


def _check_denoise(denoise):
    denoise = float(denoise)
    if not math.isfinite(denoise):
        raise ValueError(f"denoise={denoise} must be a finite number between 0 and 1")
    return denoise
