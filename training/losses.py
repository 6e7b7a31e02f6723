"""AC-RF loss terms and modes (AC-RF technical report v1.1 §4, §4A, Appendix B step 6).

Every term returns one value per sample (shape ``[B]``); the caller multiplies by the Min-SNR weight and averages.

standard (§4.3, Appendix B), on the model's native prediction (v for flow, eps for eps models)::

    L = lambda1 * Charbonnier(v_hat, v) + lambda2 * (1 - cos(v_hat, v)) + lambda3 * ||F(v_hat) - F(v)||_1,
    lambda = 1.0 / 0.1 / 0.1

- ``charbonnier`` (§4.1): ``sqrt(d^2 + eps) - sqrt(eps)`` read element-wise (the robust-L1 form; the norm in the
  report's formula is of one element), averaged; eps = 1e-6.
- ``cosine_loss`` (§4.2): ``1 - <a, b> / (|a| |b|)`` over each flattened sample.
- ``fft_l1`` (§4.2): mean |F(a) - F(b)| of the 2-D FFT over the last two axes. The report gives no normalisation;
  Forgeline uses the orthonormal FFT (``norm="ortho"``), so by Parseval the term has the scale of the spatial
  difference whatever the latent size.

frequency (§4A.2), on x0_hat vs x0::

    low = Upsample(AvgPool(x, s)), high = x - low, s = 4 (bilinear upsampling back to the input size)
    L_freq = MSE + alpha_hf * L1(high_hat, high) + beta_lf * (1 - cos(low_hat, low)),  alpha_hf = 1.0, beta_lf = 0.2

style (§4A.3), on x0_hat vs x0, channel 0 read as "L", channels 1-3 as "ab"::

    L_style = l_struct (1 - SSIM(L_hat, L)) + l_light (|mu_L_hat - mu_L| + |sd_L_hat - sd_L|)
            + l_color (same on ab, per channel, averaged) + l_tex * L1(high(L_hat), high(L)),
    l_struct / l_light / l_color / l_tex = 1.0 / 0.5 / 0.3 / 0.5 (the §8.2 defaults)

  SSIM (Wang et al. 2004): Gaussian window 11, sigma 1.5, zero padding, C1 = 0.01^2, C2 = 0.03^2; statistics mu / sd
  per sample over H x W (population sd).

unified (§4A.4): ``(L_freq + L_style) / 2``.

x0_hat for the x0 modes is reconstructed from the prediction (§4A.6): ``x0_hat = x_t - sigma * v_pred`` (flow), which
ComfyUI's ``model_sampling.calculate_denoised`` computes for every prediction type.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

CHARBONNIER_EPS = 1e-6
POOL_FACTOR = 4
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01 ** 2
SSIM_C2 = 0.03 ** 2
LOSS_MODES = ("standard", "frequency", "style", "unified")


def _per_sample(x):
    return x.reshape(x.shape[0], -1).mean(dim=1)


def charbonnier(pred, target, eps=CHARBONNIER_EPS):
    """§4.1: mean over elements of ``sqrt((pred - target)^2 + eps) - sqrt(eps)``, per sample."""
    d = pred - target
    return _per_sample(torch.sqrt(d * d + eps) - eps ** 0.5)


def cosine_loss(pred, target, eps=1e-8):
    """§4.2: ``1 - cos(pred, target)`` over each flattened sample."""
    a = pred.reshape(pred.shape[0], -1)
    b = target.reshape(target.shape[0], -1)
    return 1.0 - F.cosine_similarity(a, b, dim=1, eps=eps)


def fft_l1(pred, target):
    """§4.2: mean |F(pred) - F(target)| with the orthonormal 2-D FFT over the last two axes, per sample."""
    diff = torch.fft.fft2(pred.float() - target.float(), norm="ortho")   # F is linear: F(a) - F(b) = F(a - b)
    return _per_sample(diff.abs())


def mse(pred, target):
    d = pred - target
    return _per_sample(d * d)


def l1(pred, target):
    return _per_sample((pred - target).abs())


def split_frequencies(x, factor=POOL_FACTOR):
    """§4A.2: ``(low, high)`` with ``low = Upsample(AvgPool(x, factor), size of x)`` (bilinear), ``high = x - low``."""
    if x.shape[-1] < factor or x.shape[-2] < factor:
        raise ValueError(f"latent of {tuple(x.shape[-2:])} is smaller than the pool factor {factor}")
    low = F.interpolate(F.avg_pool2d(x, factor), size=x.shape[-2:], mode="bilinear", align_corners=False)
    return low, x - low


def _gaussian_window(size, sigma, dtype, device):
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(r * r) / (2.0 * sigma * sigma))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).to(dtype=dtype, device=device)[None, None]


def ssim(a, b, window=SSIM_WINDOW, sigma=SSIM_SIGMA, c1=SSIM_C1, c2=SSIM_C2):
    """Mean SSIM per sample of single-channel maps ``[B, 1, H, W]`` (Wang et al. 2004): Gaussian window, zero padding::

        SSIM = (2 mu_a mu_b + C1)(2 cov + C2) / ((mu_a^2 + mu_b^2 + C1)(var_a + var_b + C2))
    """
    w = _gaussian_window(window, sigma, a.dtype, a.device)
    pad = window // 2
    mu_a = F.conv2d(a, w, padding=pad)
    mu_b = F.conv2d(b, w, padding=pad)
    var_a = F.conv2d(a * a, w, padding=pad) - mu_a * mu_a
    var_b = F.conv2d(b * b, w, padding=pad) - mu_b * mu_b
    cov = F.conv2d(a * b, w, padding=pad) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2))
    return _per_sample(s)


def mean_std_l1(pred, target):
    """§4A.3 ``|mu_hat - mu|_1 + |sd_hat - sd|_1`` per channel over H x W (population sd), averaged over channels."""
    dims = (-2, -1)
    mu_p, mu_t = pred.mean(dim=dims), target.mean(dim=dims)
    sd_p = pred.var(dim=dims, unbiased=False).clamp_min(1e-20).sqrt()
    sd_t = target.var(dim=dims, unbiased=False).clamp_min(1e-20).sqrt()
    return ((mu_p - mu_t).abs() + (sd_p - sd_t).abs()).reshape(pred.shape[0], -1).mean(dim=1)


@dataclass
class LossWeights:
    """All mode weights with the report's defaults (§4.3, §8.2)."""

    charbonnier: float = 1.0      # lambda1
    cosine: float = 0.1           # lambda2
    fft: float = 0.1              # lambda3
    alpha_hf: float = 1.0
    beta_lf: float = 0.2
    struct: float = 1.0
    light: float = 0.5
    color: float = 0.3
    tex: float = 0.5
    pool_factor: int = POOL_FACTOR


def standard_loss(pred, target, w=None):
    """§4.3 composite on the native prediction: ``l1*Charbonnier + l2*(1-cos) + l3*FFT-L1`` per sample."""
    w = w or LossWeights()
    out = w.charbonnier * charbonnier(pred, target)
    if w.cosine:
        out = out + w.cosine * cosine_loss(pred, target)
    if w.fft:
        out = out + w.fft * fft_l1(pred, target)
    return out


def frequency_loss(x0_hat, x0, w=None):
    """§4A.2: ``MSE + alpha_hf * L1(high) + beta_lf * (1 - cos(low))`` per sample."""
    w = w or LossWeights()
    low_p, high_p = split_frequencies(x0_hat, w.pool_factor)
    low_t, high_t = split_frequencies(x0, w.pool_factor)
    return mse(x0_hat, x0) + w.alpha_hf * l1(high_p, high_t) + w.beta_lf * cosine_loss(low_p, low_t)


def style_loss(x0_hat, x0, w=None):
    """§4A.3: SSIM on channel 0, mean/std L1 of channel 0 and of channels 1-3, high-pass L1 of channel 0."""
    w = w or LossWeights()
    lum_p, lum_t = x0_hat[:, :1], x0[:, :1]
    out = w.struct * (1.0 - ssim(lum_p, lum_t)) + w.light * mean_std_l1(lum_p, lum_t)
    if x0.shape[1] > 1:
        out = out + w.color * mean_std_l1(x0_hat[:, 1:4], x0[:, 1:4])
    _, hp = split_frequencies(lum_p, w.pool_factor)
    _, ht = split_frequencies(lum_t, w.pool_factor)
    return out + w.tex * l1(hp, ht)


def unified_loss(x0_hat, x0, w=None):
    """§4A.4: ``(L_freq + L_style) / 2``."""
    return 0.5 * (frequency_loss(x0_hat, x0, w) + style_loss(x0_hat, x0, w))


def mode_loss(mode, pred, target, x0_hat, x0, w=None):
    """Per-sample loss of ``mode``: ``standard`` on (pred, target); the others on (x0_hat, x0)."""
    if mode == "standard":
        return standard_loss(pred, target, w)
    if mode == "frequency":
        return frequency_loss(x0_hat, x0, w)
    if mode == "style":
        return style_loss(x0_hat, x0, w)
    if mode == "unified":
        return unified_loss(x0_hat, x0, w)
    raise ValueError(f"loss_mode {mode!r} is not one of {LOSS_MODES}")


def acrf_loss(mode, pred, target, x0_hat, x0, weight, w=None):
    """Appendix B step 6: ``mean(w(sigma) * L_mode)`` over the batch (``weight``: Min-SNR weights, shape [B])."""
    per = mode_loss(mode, pred.float(), target.float(), x0_hat.float(), x0.float(), w)
    return (torch.as_tensor(weight, dtype=per.dtype, device=per.device) * per).mean()
