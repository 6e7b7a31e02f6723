"""Anchor-coupled timestep sampling (AC-RF technical report v1.1, "Anchor-Coupled Rectified Flow", §2 and Appendix B).

The *anchor set* is the inference schedule's own sigmas without the final 0 (§2.1: ``anchors = scheduler.sigmas[:-1]``),
K of them. For a batch of B samples (§2.2):

- B >= K: stratified, sample i sits at anchor ``a[floor(i*K/B)]`` (``stratified_indices``), so every anchor is hit;
- B <  K: B distinct anchors drawn without replacement (``Sample(A, B)`` in §2.2). Appendix B's pseudo-code draws
  ``randint(0, K, B)`` (with replacement) here; Forgeline follows the text and the issue: no replacement;
- plus jitter of scale eta = 0.02 ("jitter_scale"). Two variants, both offered:
  ``"gaussian"`` (Appendix B, "matches the real code", the DEFAULT): ``t + eta*N(0,1)``, clamped to [0.001, 0.999];
  ``"uniform"`` (§2.2 text + §3.4 soft clip): ``t + U(-eta, eta)``, clamped to [1e-6, 1 - 1e-6].

The report is written for rectified flow, where sigma itself lies in [0, 1] and jitter is added to sigma. For
discrete eps-prediction models (SD1.5/SDXL: sigma in [0.03, 14.6]) the same rule is applied in the model's *time
fraction* u = t/(T-1) in [0, 1] (T = 1000 training timesteps), which is also the coordinate ComfyUI's own
``TrainLoraNode`` samples uniformly (``model_sampling.percent_to_sigma(rand())``): anchors are mapped
sigma -> u with ``sigma_to_fraction``, sampled and jittered in u, and mapped back with ``fraction_to_sigma``
(log-sigma interpolation between the table entries, as ComfyUI ``ModelSamplingDiscrete.sigma`` and k-diffusion
``DiscreteSchedule.sigma_to_t`` do).
"""
from __future__ import annotations

import torch

JITTER_ETA = 0.02
JITTER_MODES = ("gaussian", "uniform")
CLAMP = {"gaussian": (0.001, 0.999), "uniform": (1e-6, 1.0 - 1e-6)}
MIN_ANCHORS = 2


class AnchorError(ValueError):
    """Bad anchor source; the message names the input to change."""


def anchor_set(sigmas, source="sigmas"):
    """Anchors from a schedule ``sigmas`` (1-D, descending, ending in 0): the sigmas without the final 0 (§2.1).

    Trailing zeros are dropped. Raises ``AnchorError`` naming ``source`` for an empty schedule, a schedule with no
    non-zero sigma, or fewer than ``MIN_ANCHORS`` anchors (one noise level is no schedule to couple to).
    """
    if sigmas is None:
        raise AnchorError(f"{source}: no schedule was given; connect SIGMAS or pick a scheduler and steps")
    s = torch.as_tensor(sigmas, dtype=torch.float64).flatten()
    if s.numel() == 0:
        raise AnchorError(f"{source}: the schedule has no sigmas; pick a scheduler and a step count of at least "
                          f"{MIN_ANCHORS}")
    if not torch.isfinite(s).all() or (s < 0).any():
        raise AnchorError(f"{source}: the schedule holds negative or non-finite sigmas")
    n = s.numel()
    while n > 0 and float(s[n - 1]) == 0.0:
        n -= 1
    a = s[:n]
    if a.numel() < MIN_ANCHORS:
        raise AnchorError(f"{source}: the schedule gives {a.numel()} anchor(s) (non-zero sigmas); AC-RF needs at "
                          f"least {MIN_ANCHORS}: raise the steps")
    return a


def stratified_indices(batch_size, k):
    """§2.2 case B >= K: ``[floor(i*K/B) for i in 0..B-1]`` (each anchor gets floor(B/K) or ceil(B/K) samples)."""
    return torch.tensor([(i * k) // batch_size for i in range(batch_size)], dtype=torch.long)


def anchor_indices(batch_size, k, generator=None):
    """§2.2: stratified indices for B >= K, else B distinct anchors drawn without replacement."""
    if batch_size < 1:
        raise AnchorError(f"batch_size must be at least 1 (got {batch_size})")
    if k < 1:
        raise AnchorError("the anchor set is empty")
    if batch_size >= k:
        return stratified_indices(batch_size, k)
    return torch.randperm(k, generator=generator)[:batch_size]


def jitter(values, eta=JITTER_ETA, mode="gaussian", generator=None):
    """Add anchor jitter to ``values`` (coordinates in [0, 1]) and clamp.

    ``"gaussian"`` (Appendix B, default): ``v + eta*N(0,1)``, clamp [0.001, 0.999].
    ``"uniform"`` (§2.2 text, clamp from §3.4): ``v + U(-eta, eta)``, clamp [1e-6, 1-1e-6].
    """
    if mode not in JITTER_MODES:
        raise AnchorError(f"jitter mode {mode!r} is not one of {JITTER_MODES}")
    v = torch.as_tensor(values, dtype=torch.float64)
    if eta > 0:
        if mode == "gaussian":
            xi = torch.randn(v.shape, generator=generator, dtype=torch.float64) * eta
        else:
            xi = (torch.rand(v.shape, generator=generator, dtype=torch.float64) * 2.0 - 1.0) * eta
        v = v + xi
    lo, hi = CLAMP[mode]
    return v.clamp(lo, hi)


def sample_anchor_coordinates(anchors, batch_size, eta=JITTER_ETA, mode="gaussian", generator=None):
    """``(coords, indices)``: one anchor-coupled draw of B coordinates in [0, 1] (§2.2 + Appendix B steps 1-2)."""
    a = torch.as_tensor(anchors, dtype=torch.float64)
    idx = anchor_indices(batch_size, a.numel(), generator)
    return jitter(a[idx], eta, mode, generator), idx


# -- eps models: the time-fraction coordinate ---------------------------------------------------------------------
def sigma_to_fraction(sigma, sigma_table):
    """Continuous timestep fraction u = t/(T-1) of ``sigma`` on a discrete model's ascending ``sigma_table`` (T
    entries), by linear interpolation in log sigma (k-diffusion ``DiscreteSchedule.sigma_to_t``). Clamped to [0, 1]."""
    log_table = torch.as_tensor(sigma_table, dtype=torch.float64).log()
    log_s = torch.as_tensor(sigma, dtype=torch.float64).log().clamp(log_table[0], log_table[-1])
    hi = torch.searchsorted(log_table, log_s.reshape(-1).contiguous()).clamp(1, log_table.numel() - 1)
    lo = hi - 1
    w = (log_s.reshape(-1) - log_table[lo]) / (log_table[hi] - log_table[lo])
    t = lo.double() + w
    return (t / (log_table.numel() - 1)).reshape(log_s.shape).clamp(0.0, 1.0)


def fraction_to_sigma(u, sigma_table):
    """Sigma at timestep fraction ``u`` on an ascending ``sigma_table``: log-linear interpolation at t = u*(T-1)
    (ComfyUI ``ModelSamplingDiscrete.sigma``)."""
    log_table = torch.as_tensor(sigma_table, dtype=torch.float64).log()
    t = (torch.as_tensor(u, dtype=torch.float64) * (log_table.numel() - 1)).clamp(0, log_table.numel() - 1)
    lo = t.floor().long()
    hi = t.ceil().long()
    w = t - lo.double()
    return ((1 - w) * log_table[lo] + w * log_table[hi]).exp()


def sample_anchor_sigmas(anchors, batch_size, eta=JITTER_ETA, mode="gaussian", generator=None, sigma_table=None):
    """``(sigmas, indices)`` for one batch.

    Flow models (``sigma_table=None``): the report's rule on sigma itself (anchors in [0, 1]).
    Discrete eps models: anchors mapped to time fractions on ``sigma_table``, sampled + jittered there, mapped back.
    """
    a = torch.as_tensor(anchors, dtype=torch.float64)
    if sigma_table is None:
        if (a > 1).any():
            raise AnchorError("anchor sigmas above 1 for a flow model: pass the model's sigma table (eps models)")
        return sample_anchor_coordinates(a, batch_size, eta, mode, generator)
    u, idx = sample_anchor_coordinates(sigma_to_fraction(a, sigma_table), batch_size, eta, mode, generator)
    return fraction_to_sigma(u, sigma_table), idx


def sample_uniform_sigmas(batch_size, generator=None, sigma_table=None):
    """Baseline (ComfyUI ``TrainLoraNode``): coordinates ~ U(0, 1); sigma itself for flow, u -> sigma for eps."""
    u = torch.rand(batch_size, generator=generator, dtype=torch.float64)
    return u if sigma_table is None else fraction_to_sigma(u, sigma_table)
