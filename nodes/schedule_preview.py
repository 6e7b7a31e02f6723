"""Schedule preview: a SIGMAS tensor drawn as an IMAGE (log σ against step), with PIL and numpy only.

The y axis is log10 σ (a schedule spans ~3 decades, 14.6 → 0.03 for SD1.5); the final σ = 0, which has no
logarithm, is drawn on the bottom edge and labelled "0". Every point is marked; up to 12 levels are written out
(σ to 4 significant figures) next to their points, and the axes carry labelled ticks. Text is ASCII
("sigma"): PIL's built-in bitmap font has no Greek letters.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from comfy_api.latest import io, ui

from ..host.sampling import sigmas_error

_BG, _AXIS, _GRID, _LINE, _ZERO, _TEXT = ((255, 255, 255), (40, 40, 40), (225, 225, 225), (31, 119, 180),
                                          (214, 39, 40), (20, 20, 20))
_MAX_LABELS = 12


def _nice_log_ticks(lo, hi):
    """Decade ticks (…, 0.01, 0.1, 1, 10, …) between 10^lo and 10^hi, plus the ends when fewer than two fit."""
    ticks = [10.0 ** k for k in range(math.floor(lo), math.ceil(hi) + 1) if lo - 1e-9 <= k <= hi + 1e-9]
    if len(ticks) < 2:
        ticks = sorted({10.0 ** lo, 10.0 ** hi})
    return ticks


def _fmt(value):
    return "0" if value == 0 else f"{value:.4g}"


def render_sigma_plot(sigmas, width=640, height=400, title=None):
    """RGB uint8 array (height, width, 3) plotting ``sigmas`` (1-D, finite, >= 0) as log10 σ against step."""
    values = [float(v) for v in torch.as_tensor(sigmas).flatten().tolist()]
    if not values:
        raise ValueError("schedule preview: the sigmas are empty (denoise 0 or a step window with nothing to run)")
    positive = [v for v in values if v > 0]
    img = Image.new("RGB", (int(width), int(height)), _BG)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    left, right, top, bottom = 64, 16, 28, 44
    x0, x1, y0, y1 = left, width - right, top, height - bottom
    n = len(values)
    lo = math.log10(min(positive)) if positive else -2.0
    hi = math.log10(max(positive)) if positive else 1.0
    if hi - lo < 1e-6:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.04 * (hi - lo)
    lo, hi = lo - pad, hi + pad

    def px(i):
        return x0 + (x1 - x0) * (i / max(n - 1, 1))

    def py(v):
        if v <= 0:
            return y1
        return y1 - (y1 - y0) * (math.log10(v) - lo) / (hi - lo)

    for tick in _nice_log_ticks(lo, hi):
        y = py(tick)
        draw.line([(x0, y), (x1, y)], fill=_GRID)
        draw.text((4, y - 6), _fmt(tick), fill=_TEXT, font=font)
    step_ticks = sorted({0, n - 1, *range(0, n, max(1, (n - 1) // 8 or 1))})
    for i in step_ticks:
        draw.line([(px(i), y1), (px(i), y1 + 4)], fill=_AXIS)
        draw.text((px(i) - 4, y1 + 6), str(i), fill=_TEXT, font=font)
    draw.line([(x0, y0), (x0, y1), (x1, y1)], fill=_AXIS, width=1)
    draw.text(((x0 + x1) // 2 - 12, height - 16), "step", fill=_TEXT, font=font)
    draw.text((4, 6), "sigma (log scale)", fill=_TEXT, font=font)
    header = title or f"{n - 1} steps: sigma {_fmt(values[0])} -> {_fmt(values[-1])}"
    draw.text((x0 + 120, 6), header, fill=_TEXT, font=font)

    points = [(px(i), py(v)) for i, v in enumerate(values)]
    if len(points) > 1:
        draw.line(points, fill=_LINE, width=2)
    label_every = max(1, math.ceil(n / _MAX_LABELS))
    for i, ((x, y), v) in enumerate(zip(points, values)):
        colour = _ZERO if v <= 0 else _LINE
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        if i % label_every == 0 or i == n - 1:
            draw.text((x + 5, y - 14 if v > 0 else y - 14), _fmt(v), fill=_TEXT, font=font)
    return np.asarray(img, dtype=np.uint8)


class ForgelineSchedulePreview(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ForgelineSchedulePreview",
            display_name="Schedule preview (Forgeline)",
            category="Forgeline/sampling/sigmas",
            description="Plot a SIGMAS schedule: log sigma against step, each level marked and labelled. Shows the "
                        "plot on the node and outputs it as an IMAGE.",
            inputs=[
                io.Sigmas.Input("sigmas", tooltip="Noise levels from a scheduler node (e.g. Karras / AYS sigmas)."),
                io.Int.Input("width", default=640, min=160, max=4096, tooltip="Plot width in pixels."),
                io.Int.Input("height", default=400, min=120, max=4096, tooltip="Plot height in pixels."),
            ],
            outputs=[io.Image.Output()],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, sigmas, width, height) -> io.NodeOutput:
        error = sigmas_error(sigmas)
        if error:
            raise ValueError(f"Schedule preview: {error}")
        image = torch.from_numpy(render_sigma_plot(sigmas, width, height).astype(np.float32) / 255.0)[None]
        return io.NodeOutput(image, ui=ui.PreviewImage(image, cls=cls))


NODES = [ForgelineSchedulePreview]
