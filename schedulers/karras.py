"""Karras et al. (2022) noise schedule, as k-diffusion's ``get_sigmas_karras`` builds it.

Formula (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models", eq. 5;
crowsonkb/k-diffusion ``k_diffusion/sampling.py`` ``get_sigmas_karras``)::

    σ_i = (σ_max^(1/ρ) + i/(n−1) · (σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ,   i = 0 … n−1,   then a trailing 0

The ramp is a float32 ``torch.linspace(0, 1, n)`` and the arithmetic is float32, as in k-diffusion and ComfyUI,
so the result is bit-compatible with ``comfy.k_diffusion.sampling.get_sigmas_karras`` (first value
14.614643… for SD1.5, slightly above σ_max, a float32 artefact of ``(σ_max^(1/7))^7``).
A1111 "Karras" calls it with the model's σ_min/σ_max and ρ = 7 (``opts.rho`` may override).
"""
import math

import torch


def karras_sigmas(n, sigma_min, sigma_max, rho=7.0, device="cpu"):
    """Karras et al. (2022) schedule: n levels from σ_max to σ_min, evenly spaced in σ^(1/ρ), plus a final 0.

    Usable as a ComfyUI ``SchedulerHandler(karras_sigmas, use_ms=False)``: called as ``(n, sigma_min, sigma_max)``.
    ``n = 1`` gives ``[σ_max, 0]`` (linspace(0, 1, 1) = [0]).
    """
    n = _check_steps(n)
    sigma_min, sigma_max, rho = float(sigma_min), float(sigma_max), float(rho)
    if not (math.isfinite(sigma_min) and math.isfinite(sigma_max)) or sigma_min <= 0 or sigma_max <= 0:
        raise ValueError(f"karras_sigmas: sigma_min={sigma_min} and sigma_max={sigma_max} must be finite and > 0; "
                         "pass the model's sigma range (SD1.5: 0.0291675 … 14.614642)")
    if sigma_min > sigma_max:
        raise ValueError(f"karras_sigmas: sigma_min={sigma_min} is above sigma_max={sigma_max}; swap them")
    if not math.isfinite(rho) or rho <= 0:
        raise ValueError(f"karras_sigmas: rho={rho} must be a finite number > 0 (the paper and A1111 use 7)")
    ramp = torch.linspace(0, 1, n, device=device)
    min_inv_rho = sigma_min ** (1 / rho)
    max_inv_rho = sigma_max ** (1 / rho)
    sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros([1])])


def _check_steps(n):
    if isinstance(n, bool) or not isinstance(n, int):
        if isinstance(n, float) and n.is_integer():
            n = int(n)
        else:
            raise ValueError(f"steps/n={n!r} must be a whole number >= 1")
    if n < 1:
        raise ValueError(f"steps/n={n} must be >= 1; a schedule needs at least one step")
    return n
