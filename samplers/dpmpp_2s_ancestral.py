"""DPM-Solver++(2S) ancestral sampler ("DPM++ 2S a"), Lu et al. (2022) with k-diffusion's ancestral noise.

Per step, in σ form (k-diffusion ``sample_dpmpp_2s_ancestral`` rewritten with σ = e^{−t}; see
docs/DERIVATIONS.md, 'DPM++ 2S a in σ form'), with (σ_down, σ_up) from ``get_ancestral_step`` and t = −log σ::

    σ_mid = √(σ_i · σ_down)                                   (log-midpoint, r = 1/2)
    x_2   = (σ_mid/σ_i)·x + (1 − σ_mid/σ_i)·D(x, σ_i)
    x     ← (σ_down/σ_i)·x + (1 − σ_down/σ_i)·D(x_2, σ_mid)  (from x, not x_2)
    x     ← x + s_noise · σ_up · ε_i                          (only if σ_{i+1} > 0)

computed as k-diffusion does: ``x_2 = (σ(s)/σ(t))·x − expm1(−h/2)·D`` with ``h = t_down − t``. When σ_down = 0
(the last step, or η > 1 clipping) the step is Euler to 0, ``x = D``, one model call: NFE = 2·steps − 1 for a
schedule ending in 0. Noise is drawn on every non-final step even at η = 0 (multiplied by 0), as k-diffusion and
ComfyUI do. Flow (CONST) models take ComfyUI's ``sample_dpmpp_2s_ancestral_RF`` branch
(``comfy/k_diffusion/sampling.py``), chosen by ``flow=True`` or, when ``flow is None``, by
``flow.is_flow_model(model)``; its noise is drawn only when η > 0.
"""
import torch

from .ancestral_step import _as_tensor_like, get_ancestral_step, get_ancestral_step_rf
from .flow import is_flow_model
from .noise_comfy import comfy_noise_sampler
from .progress import step_range


@torch.no_grad()
def sample_dpmpp_2s_ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                              noise_sampler=None, flow=None, noise_scale=1.0):
    """Ancestral sampling with DPM-Solver++(2S) second-order steps (Lu et al. 2022; k-diffusion)."""
    if flow is None:
        flow = is_flow_model(model)
    if flow:
        return sample_dpmpp_2s_ancestral_rf(model, x, sigmas, extra_args=extra_args, callback=callback,
                                            disable=disable, eta=eta, s_noise=s_noise, noise_sampler=noise_sampler, noise_scale=noise_scale)
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = comfy_noise_sampler(x, extra_args.get("seed")) if noise_sampler is None else noise_sampler
    s_in = x.new_ones([x.shape[0]])
    sigma_fn = lambda t: t.neg().exp()
    t_fn = lambda sigma: sigma.log().neg()
    for i in step_range(len(sigmas) - 1, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        if sigma_down == 0:
            x = denoised  # Euler step to σ = 0 lands exactly on D
        else:
            # DPM-Solver++(2S)
            t, t_next = t_fn(sigmas[i]), t_fn(_as_tensor_like(sigma_down, sigmas))
            r = 1 / 2
            h = t_next - t
            s = t + r * h
            x_2 = (sigma_fn(s) / sigma_fn(t)) * x - (-h * r).expm1() * denoised
            denoised_2 = model(x_2, sigma_fn(s) * s_in, **extra_args)
            x = (sigma_fn(t_next) / sigma_fn(t)) * x - (-h).expm1() * denoised_2
        if sigmas[i + 1] > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up  # Noise addition
    return x


@torch.no_grad()
def sample_dpmpp_2s_ancestral_rf(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0,
                                 s_noise=1.0, noise_sampler=None, noise_scale=1.0):
    """DPM-Solver++(2S) ancestral for rectified-flow (CONST) models, ComfyUI ``sample_dpmpp_2s_ancestral_RF``.

    λ(σ) = log((1−σ)/σ), σ(λ) = 1/(e^λ + 1); the midpoint is σ(λ_i + ½(λ_down − λ_i)), or 0.9999 when σ_i = 1
    (λ(1) = −∞).
    """
    extra_args = {} if extra_args is None else extra_args
    noise_sampler = comfy_noise_sampler(x, extra_args.get("seed")) if noise_sampler is None else noise_sampler
    s_noise = s_noise * noise_scale  # ComfyUI 0.33 (upstream 8e53f001): × model_sampling.noise_scale
    s_in = x.new_ones([x.shape[0]])
    sigma_fn = lambda lam: (lam.exp() + 1) ** -1
    lambda_fn = lambda sigma: ((1 - sigma) / sigma).log()
    for i in step_range(len(sigmas) - 1, disable=disable):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        if sigmas[i + 1] == 0:
            x = denoised  # Euler step to σ = 0 lands exactly on D
            continue
        sigma_down, alpha_ratio, renoise = get_ancestral_step_rf(sigmas[i], sigmas[i + 1], eta=eta)
        # DPM-Solver++(2S)
        if sigmas[i] == 1.0:
            sigma_s = sigmas[i].new_tensor(0.9999)
        else:
            lam, lam_down = lambda_fn(sigmas[i]), lambda_fn(sigma_down)
            sigma_s = sigma_fn(lam + (lam_down - lam) / 2)
        ratio_s = sigma_s / sigmas[i]
        u = ratio_s * x + (1 - ratio_s) * denoised
        denoised_2 = model(u, sigma_s * s_in, **extra_args)
        ratio_down = sigma_down / sigmas[i]
        x = ratio_down * x + (1 - ratio_down) * denoised_2
        if eta > 0:
            x = alpha_ratio * x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * renoise  # Noise addition
    return x
