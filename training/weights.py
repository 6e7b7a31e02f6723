"""Min-SNR loss weighting (AC-RF technical report v1.1 §3.1-§3.4; Appendix B step 5; Hang et al. 2023, "Efficient
Diffusion Training via Min-SNR Weighting Strategy").

- Rectified flow (ComfyUI ``CONST`` model sampling), §3.1: ``SNR(sigma) = ((1 - sigma) / sigma)^2``, sigma soft-clipped to
  [1e-6, 1 - 1e-6] (§3.4). The report's table: sigma 0.1 -> 81, 0.3 -> 5.44, 0.5 -> 1, 0.7 -> 0.18, 0.9 -> 0.012.
- eps prediction (ComfyUI ``EPS``; x_t = x_0 + sigma*eps, so signal power 1, noise power sigma^2): ``SNR = 1/sigma^2``.
- Weight (§3.2 + §3.4 range limit): ``w = clamp(min(SNR, gamma) / SNR, 0.1, 1.0)``, gamma = 5 (``snr_gamma``);
  gamma = 0 disables weighting (w = 1), as in Appendix B.
"""
from __future__ import annotations

import torch

SNR_GAMMA = 5.0
W_MIN, W_MAX = 0.1, 1.0
SIGMA_EPS = 1e-6
PREDICTIONS = ("flow", "eps")


def snr(sigma, prediction="flow"):
    """Signal-to-noise ratio at ``sigma``: flow ``((1-s)/s)^2`` (s clipped to [1e-6, 1-1e-6]); eps ``1/s^2``."""
    s = torch.as_tensor(sigma)
    if not s.is_floating_point():
        s = s.double()
    if prediction == "flow":
        s = s.clamp(SIGMA_EPS, 1.0 - SIGMA_EPS)
        return ((1.0 - s) / s) ** 2
    if prediction == "eps":
        return 1.0 / s.clamp_min(SIGMA_EPS) ** 2
    raise ValueError(f"prediction {prediction!r} is not one of {PREDICTIONS}")


def min_snr_weight(sigma, gamma=SNR_GAMMA, prediction="flow"):
    """``clamp(min(SNR, gamma)/SNR, 0.1, 1.0)`` per sigma; all ones when ``gamma <= 0`` (disabled)."""
    r = snr(sigma, prediction)
    if gamma is None or gamma <= 0:
        return torch.ones_like(r)
    return (torch.clamp(r, max=gamma) / r).clamp(W_MIN, W_MAX)
