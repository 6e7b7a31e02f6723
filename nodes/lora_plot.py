"""Plot of each LoRA's weight per sampling step (loractl semantics) as an IMAGE.

One schedule per line, ``name: <loractl items>`` or just the items (``0@0,1@1``, ``1:0@0,1@0.5:hr=0.5``). The
curves are ``lora.loractl_weights`` (weights indexed by A1111 ``sampling_step``, i.e. what loractl computes) or, with
``mode``, ``lora.sampler_step_weights`` (the weight each sampler step actually runs with: loractl's one-step lag, or
exact). UNet weights are solid lines, text-encoder weights dashed; the hires pass is drawn after the first pass when
``hr_steps`` > 0. Drawn with PIL only.
"""
from __future__ import annotations

import numpy as np
import torch
from comfy_api.latest import io
from PIL import Image, ImageDraw

from ..lora import loractl_params, loractl_weights, sampler_step_weights

COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]


def parse_schedule_lines(text):
    """``[(label, items)]`` from the node text; raises ValueError naming a bad line."""
    out = []
    for n, raw in enumerate((text or "").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        label, _, rest = line.partition(" ")
        if label.endswith(":") and rest.strip():
            label, body = label[:-1], rest.strip()
        else:
            label, body = f"lora {len(out) + 1}", line
        items = [label] + body.split(":")
        try:
            loractl_params(items)
        except ValueError as e:
            raise ValueError(f"schedules line {n} ({line!r}): {e}") from None
        out.append((label, items))
    if not out:
        raise ValueError("schedules is empty: write one loractl schedule per line, e.g. 'style: 0@0,1@1'")
    return out


def curves(text, steps, hr_steps=0, mode="as loractl reads"):
    """``[(label, {"te", "unet", "hrte", "hrunet"})]`` per line."""
    out = []
    for label, items in parse_schedule_lines(text):
        if mode == "as loractl reads":
            w = loractl_weights(items, steps, hr_steps or None)
        else:
            w = sampler_step_weights(items, steps, hr_steps or None, mode=mode)
        out.append((label, w))
    return out


def draw(series, steps, hr_steps=0, width=768, height=384):
    """RGB uint8 array of the plot."""
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    left, right, top, bottom = 48, width - 16, 16, height - 40
    total = steps + (hr_steps or 0)
    values = [v for _, w in series for k in w for v in w[k]] + [0.0, 1.0]
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1.0

    def xy(i, v):
        x = left + (right - left) * (i / max(total - 1, 1))
        return x, bottom - (bottom - top) * ((v - lo) / (hi - lo))

    d.rectangle([left, top, right, bottom], outline=(0, 0, 0))
    for v in np.linspace(lo, hi, 5):
        y = xy(0, v)[1]
        d.line([left - 4, y, left, y], fill=(0, 0, 0))
        d.text((4, y - 6), f"{v:.2f}", fill=(0, 0, 0))
    for i in range(total):
        x = xy(i, lo)[0]
        d.line([x, bottom, x, bottom + 3], fill=(0, 0, 0))
    d.text((left, bottom + 8), f"step 0 … {steps - 1}" + (f" | hires 0 … {hr_steps - 1}" if hr_steps else ""),
           fill=(0, 0, 0))
    if hr_steps:
        x = xy(steps - 0.5, lo)[0]
        d.line([x, top, x, bottom], fill=(160, 160, 160))
    for n, (label, w) in enumerate(series):
        color = COLORS[n % len(COLORS)]
        for slot, hr_slot, dashed in (("unet", "hrunet", False), ("te", "hrte", True)):
            pts = [xy(i, v) for i, v in enumerate(w[slot] + (w[hr_slot] if hr_steps else []))]
            for a, b in zip(pts, pts[1:]):
                if not dashed:
                    d.line([a, b], fill=color, width=3)
                else:
                    mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
                    d.line([a, mid], fill=color, width=1)
            for p in pts:
                d.ellipse([p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2], fill=color)
        d.text((left + 8, top + 4 + 14 * n), f"{label}: unet solid, te dashed", fill=color)
    return np.asarray(img)


class ForgelineLoraWeightPlot(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ForgelineLoraWeightPlot",
            display_name="LoRA Weight Plot",
            category="Forgeline/lora",
            description="Draws each LoRA's weight per sampling step from loractl schedules (one per line).",
            inputs=[
                io.String.Input("schedules", multiline=True, default="style: 0@0,1@1",
                                tooltip="One schedule per line: 'name: 0@0,1@0.5' or '1:0@0,1@1:hr=0.5'."),
                io.Int.Input("steps", default=20, min=1, max=1000, tooltip="Sampling steps of the first pass."),
                io.Int.Input("hr_steps", default=0, min=0, max=1000, tooltip="Hires-pass steps (0 = none)."),
                io.Combo.Input("mode", options=["as loractl reads", "loractl", "exact"], default="as loractl reads",
                               tooltip="'as loractl reads': weight per A1111 sampling_step; 'loractl'/'exact': the "
                                       "weight each sampler step runs with under that mode."),
            ],
            outputs=[io.Image.Output()],
        )

    @classmethod
    def validate_inputs(cls, schedules=None):
        if schedules is not None:
            try:
                parse_schedule_lines(schedules)
            except ValueError as e:
                return str(e)
        return True

    @classmethod
    def execute(cls, schedules, steps, hr_steps=0, mode="as loractl reads") -> io.NodeOutput:
        try:
            series = curves(schedules, steps, hr_steps, mode)
        except ZeroDivisionError as e:
            raise ValueError(str(e)) from None
        image = torch.from_numpy(draw(series, steps, hr_steps).astype(np.float32) / 255.0)[None]
        return io.NodeOutput(image)


NODES = [ForgelineLoraWeightPlot]
