"""Ancestral splits of a step σ → σ_next into a deterministic part (σ_down) and fresh noise (σ_up).

* EPS/VP (k-diffusion ``k_diffusion/sampling.py`` ``get_ancestral_step``), a DDPM-posterior split with
  ``σ_down² + σ_up² = σ_next²``::

      σ_up   = min(σ_next, η · √(σ_next² (σ² − σ_next²) / σ²))
      σ_down = √(σ_next² − σ_up²)

  η = 0 → ``(σ_next, 0.)`` (plain ODE step); η = 1 → ``σ_down = σ_next²/σ``; σ_next = 0 → ``(0, 0)``;
  η > 1 clips σ_up at σ_next, so σ_down can reach 0 before the last step.
* Flow/CONST (ComfyUI ``comfy/k_diffusion/sampling.py`` ``sample_*_RF``), with x = (1−σ)·x0 + σ·ε::

      σ_down  = σ_next · (1 + (σ_next/σ − 1)·η)
      renoise = √(σ_next² − σ_down² · α_next² / α_down²),   α = 1 − σ
"""
import torch


def get_ancestral_step(sigma_from, sigma_to, eta=1.0):
    """k-diffusion ancestral split ``(σ_down, σ_up)`` of σ_from → σ_to (DDPM posterior, Ho et al. 2020)."""
    if not eta:
        return sigma_to, 0.0
    sigma_up = min(sigma_to, eta * (sigma_to ** 2 * (sigma_from ** 2 - sigma_to ** 2) / sigma_from ** 2) ** 0.5)
    sigma_down = (sigma_to ** 2 - sigma_up ** 2) ** 0.5
    return sigma_down, sigma_up


def get_ancestral_step_rf(sigma_from, sigma_to, eta=1.0):
    """Rectified-flow ancestral split ``(σ_down, α_next/α_down, renoise)`` as ComfyUI's ``_RF`` samplers use it."""
    sigma_down = sigma_to * (1 + (sigma_to / sigma_from - 1) * eta)
    if float(sigma_down) < 0:
        limit = float(sigma_from) / (float(sigma_from) - float(sigma_to))
        raise ValueError(f"eta={eta} is too large for the flow step sigma {float(sigma_from):.6g} -> {float(sigma_to):.6g} "
                         f"(sigma_down would be negative); use eta <= {limit:.4g} for flow models")
    alpha_next = 1 - sigma_to
    alpha_down = 1 - sigma_down
    renoise = (sigma_to ** 2 - sigma_down ** 2 * alpha_next ** 2 / alpha_down ** 2) ** 0.5
    return sigma_down, alpha_next / alpha_down, renoise


def _as_tensor_like(value, ref):
    return value if torch.is_tensor(value) else torch.as_tensor(value, dtype=ref.dtype, device=ref.device)
