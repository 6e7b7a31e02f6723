"""Euler ancestral sampler ("Euler a"): Karras et al. (2022) Euler steps on the PF-ODE plus DDPM-style re-noising.

Per step (crowsonkb/k-diffusion ``k_diffusion/sampling.py`` ``sample_euler_ancestral``)::

    x ← x + (x − D(x, σ_i))/σ_i · (σ_down − σ_i) + s_noise · σ_up · ε_i      (noise only if σ_{i+1} > 0)

One model call per step; the last step (σ_{i+1} = 0) lands on ``x = D``.
Edge cases follow upstream k-diffusion, which A1111/Forge run: with η > 1, σ_down can be 0 while σ_{i+1} > 0, and
σ_up = σ_{i+1} noise is still added. ComfyUI's copy instead sets ``x = D`` with no noise there (ComfyUI
``comfy/k_diffusion/sampling.py``, a quirk); for η ≤ 1 both are the same. A noise sample is drawn on every non-final
step even at η = 0 (multiplied by 0), as in both references, so the RNG stream advances identically.
Flow (CONST) models take the ComfyUI ``sample_euler_ancestral_RF`` branch (``comfy/k_diffusion/sampling.py``), chosen by
``flow=True`` or, when ``flow is None``, by ``flow.is_flow_model(model)``.
Default noise is ComfyUI's: a generator seeded with ``extra_args["seed"]`` (``noise_comfy.comfy_noise_sampler``).
"""
import torch

from .ancestral_step import get_ancestral_step, get_ancestral_step_rf
from .flow import is_flow_model
from .karras_ode import to_d
from .noise_comfy import comfy_noise_sampler
from .progress import step_range


@torch.no_grad()
def sample_euler_ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                           noise_sampler=None, flow=None, noise_scale=1.0):
    """Ancestral sampling with Euler method steps (Karras et al. 2022; k-diffusion)."""
    if flow is None:
        flow = is_flow_model(model)
    if flow:
        return sample_euler_ancestral_rf(model, x, sigmas, extra_args=extra_args, callback=callback,
                                         disable=disable, eta=eta, s_noise=s_noise, noise_sampler=noise_sampler, noise_scale=noise_scale)
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = comfy_noise_sampler(x, extra_args.get("seed")) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    for i in step_range(len(sigmas) - 1, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        if sigma_down == 0:
            x = denoised  # Euler step to σ = 0 lands exactly on D
        else:
            d = to_d(x, sigmas[i], denoised)
            dt = sigma_down - sigmas[i]
            x = x + d * dt  # Euler method
        if sigmas[i + 1] > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up  # Noise addition
    return x


@torch.no_grad()
def sample_euler_ancestral_rf(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                              noise_sampler=None, noise_scale=1.0):
    """Ancestral Euler for rectified-flow (CONST) models, ComfyUI ``sample_euler_ancestral_RF``."""
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = comfy_noise_sampler(x, extra_args.get("seed")) if noise_sampler is None else noise_sampler
    s_noise = s_noise * noise_scale  # ComfyUI 0.33 (upstream 8e53f001): × model_sampling.noise_scale
    s_in = x.new_ones([x.shape[0]])
    for i in step_range(len(sigmas) - 1, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        sigma_down, alpha_ratio, renoise = get_ancestral_step_rf(sigmas[i], sigmas[i + 1], eta=eta)
        ratio = sigma_down / sigmas[i]
        x = ratio * x + (1 - ratio) * denoised  # Euler method
        if eta > 0:
            x = alpha_ratio * x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * renoise  # Noise addition
    return x
