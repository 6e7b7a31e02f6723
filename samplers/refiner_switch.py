"""A1111 refiner "Switch at": the sampler step where the refiner takes over (``sd_samplers_common.apply_refiner``).

A1111 checks before every model call (``CFGDenoiser.forward``) and swaps the checkpoint at the first call where
``completed_ratio >= refiner_switch_at``:

* default ("by model timestep"): ``timestep = argmin |model_sigmas − σ|`` over the model's discrete σ table
  (1000 levels for SD/SDXL), ``completed_ratio = (999 − timestep) / 1000``;
* option ``refiner_switch_by_sample_steps`` ("old behaviour"): ``completed_ratio = step / total_steps`` with
  ``step`` the model-call counter and ``total_steps = steps`` (``2·steps`` for second-order samplers).

Forgeline splits at step boundaries (the base runs steps ``[0, k)``, the refiner ``[k, n)`` on the same schedule), so a
switch that A1111 would make on the second call of a second-order step moves to the next step. No step qualifying
(e.g. switch at 1.0) gives ``k = n``: the base runs the whole schedule.
"""
import math

import torch


def refiner_switch_step_by_steps(steps, switch_at):
    """First step boundary ``k`` at or after A1111's switching call: ``k = ⌈steps · switch_at⌉`` (``n`` if none).

    A1111 switches at the first model call ``c`` with ``c / total >= switch_at``. A first-order sampler makes one call
    per step (``total = steps``), so ``k = ⌈steps·s⌉``; a second-order one two (``total = 2·steps``), so
    ``c = ⌈2·steps·s⌉`` and rounding a mid-step switch up to the next boundary gives ``⌈c / 2⌉ = ⌈steps·s⌉`` again:
    the sampler's order does not change the step-boundary switch."""
    steps = int(steps)
    switch_at = _check_switch(switch_at)
    if steps < 1:
        raise ValueError(f"steps={steps} must be at least 1")
    for call in range(steps):
        if call / steps >= switch_at:
            return call
    return steps


def refiner_switch_step_by_timestep(sigmas, model_sigmas, switch_at):
    """First step ``k`` with ``(T − 1 − argmin|model_sigmas − σ_k|) / T >= switch_at`` (``T`` table levels)."""
    switch_at = _check_switch(switch_at)
    table = torch.as_tensor(model_sigmas).flatten()
    if table.numel() < 2:
        raise ValueError("model_sigmas: need the model's discrete sigma table (e.g. 1000 levels for SD1.5/SDXL)")
    levels = table.numel()
    run = [float(s) for s in torch.as_tensor(sigmas).flatten().tolist()]
    steps = len(run) - 1
    for k in range(steps):
        timestep = int(torch.argmin(torch.abs(table - torch.tensor(run[k], dtype=table.dtype))))
        if (levels - 1 - timestep) / levels >= switch_at:
            return k
    return max(steps, 0)


def _check_switch(switch_at):
    switch_at = float(switch_at)
    if not math.isfinite(switch_at) or not 0.0 < switch_at <= 1.0:
        raise ValueError(f"switch_at={switch_at} must be in (0, 1]: the fraction of the run the base model does "
                         "(A1111 'Switch at'); use 1.0 for no refiner")
    return switch_at
