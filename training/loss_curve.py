"""The loss-curve picture for the training node's IMAGE output: losses per optimizer update as a polyline on a white
canvas, min..max of the losses mapped to the plot height (ComfyUI IMAGE layout: float [1, H, W, 3] in 0..1)."""
from __future__ import annotations

import numpy as np

WIDTH, HEIGHT, MARGIN = 512, 256, 12


def loss_curve_image(losses, width=WIDTH, height=HEIGHT, margin=MARGIN):
    """``float32 [1, height, width, 3]``: light grid, blue curve of ``losses`` (one value per update)."""
    img = np.ones((height, width, 3), dtype=np.float32)
    img[margin:height - margin, margin] = 0.6
    img[height - margin - 1, margin:width - margin] = 0.6
    vals = np.asarray([v for v in losses if np.isfinite(v)], dtype=np.float64)
    if vals.size == 0:
        return img[None]
    lo, hi = float(vals.min()), float(vals.max())
    span = hi - lo if hi > lo else 1.0
    n = vals.size
    xs = margin + (np.arange(n) / max(n - 1, 1)) * (width - 2 * margin - 1)
    ys = (height - margin - 1) - (vals - lo) / span * (height - 2 * margin - 1)
    if n == 1:
        xs, ys = np.array([xs[0], width - margin - 1]), np.array([ys[0], ys[0]])
    for i in range(len(xs) - 1):                 # dense samples along each segment, 2 px thick
        k = int(max(abs(xs[i + 1] - xs[i]), abs(ys[i + 1] - ys[i]))) * 2 + 2
        t = np.linspace(0.0, 1.0, k)
        px = np.clip(np.rint(xs[i] + t * (xs[i + 1] - xs[i])).astype(int), 0, width - 1)
        py = np.clip(np.rint(ys[i] + t * (ys[i + 1] - ys[i])).astype(int), 0, height - 1)
        for dy in (0, 1):
            img[np.clip(py + dy, 0, height - 1), px] = (0.1, 0.3, 0.9)
    return img[None]
