"""How the first sampler input x_T is formed from unit noise (A1111 ``modules/sd_samplers_kdiffusion.py``;
ComfyUI ``comfy/samplers.py`` ``KSAMPLER.sample`` and ``comfy/model_sampling.py`` ``noise_scaling``).

* A1111 (``KDiffusionSampler.sample`` / ``sample_img2img``): ``x_T = latent + noise·σ_0``; with the
  ``sgm_noise_multiplier`` option, ``noise·√(1+σ_0²)`` (txt2img).
* ComfyUI EPS ``noise_scaling``: ``noise·√(1+σ_0²) + latent`` when ``max_denoise``
  (``isclose(σ_max, σ_0, rel_tol=1e-5) or σ_0 > σ_max``), else ``noise·σ_0 + latent``.
* ComfyUI CONST (flow): ``σ_0·noise + (1 − σ_0)·latent``.
``s_noise`` never scales the initial noise.
"""
import math


def a1111_initial_latent(noise, sigma0, latent=None, sgm_noise_multiplier=False):
    """A1111 start point: ``latent + noise·σ_0`` (``·√(1+σ_0²)`` with ``sgm_noise_multiplier``)."""
    sigma0 = float(sigma0)
    scale = math.sqrt(1.0 + sigma0 ** 2) if sgm_noise_multiplier else sigma0
    x = noise * scale
    return x if latent is None else latent + x


def comfy_max_denoise(model_sigma_max, sigma0):
    """ComfyUI ``KSAMPLER.max_denoise``: σ_0 is (within 1e-5 relative) at or above the model σ_max."""
    model_sigma_max, sigma0 = float(model_sigma_max), float(sigma0)
    return math.isclose(model_sigma_max, sigma0, rel_tol=1e-5) or sigma0 > model_sigma_max


def comfy_initial_latent(noise, sigma0, latent, max_denoise, flow=False):
    """ComfyUI ``model_sampling.noise_scaling`` for EPS (default) or CONST (``flow=True``) models."""
    sigma0 = float(sigma0)
    if flow:
        return sigma0 * noise + (1.0 - sigma0) * latent
    scale = math.sqrt(1.0 + sigma0 ** 2) if max_denoise else sigma0
    return noise * scale + latent
