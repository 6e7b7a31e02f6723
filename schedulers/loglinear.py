"""Log-linear interpolation of a decreasing noise-level list (Align Your Steps how-to,
https://research.nvidia.com/labs/toronto-ai/AlignYourSteps/howto.html).

Rule: place the k given levels at evenly spaced positions 0 … 1, place ``num_steps`` new points evenly on the same
interval, and interpolate log σ piecewise-linearly between neighbours; float64. This is what ComfyUI's
``nodes_align_your_steps.loglinear_interp`` and Forge/A1111's AYS schedulers compute (they reverse the list to feed
``np.interp`` an increasing grid; interpolating on the index grid directly is the same up to float64 rounding).
"""
import math

import numpy as np


def loglinear_interp(t_steps, num_steps):
    """Resample a decreasing list of positive levels to ``num_steps`` points, linear in log σ over the index."""
    levels = np.asarray(t_steps, dtype=np.float64).reshape(-1)
    if levels.size < 2:
        raise ValueError(f"loglinear_interp: need at least 2 levels to interpolate, got {levels.size}")
    if not np.all(np.isfinite(levels)) or np.any(levels <= 0):
        raise ValueError(f"loglinear_interp: levels must be finite and > 0 (log sigma), got {levels.tolist()}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
        raise ValueError(f"loglinear_interp: num_steps={num_steps!r} must be a whole number >= 1")
    log_levels = np.log(levels)
    last = levels.size - 1
    if num_steps == 1:
        return np.exp(log_levels[-1:]).copy()
    out = np.empty(num_steps, dtype=np.float64)
    for j in range(num_steps):
        pos = j * last / (num_steps - 1)           # position on the index grid of the given levels
        k = min(int(math.floor(pos)), last - 1)
        frac = pos - k
        out[j] = log_levels[k] + frac * (log_levels[k + 1] - log_levels[k])
    return np.exp(out)
