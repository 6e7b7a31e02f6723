"""Empty latent sized as A1111 sizes it.

A1111 (``processing.py``) creates the initial latent as ``[C, height // 8, width // 8]`` with width and height
taken in steps of 8 from its sliders; sizes that are not multiples of 8 are floored the same way here and the
node reports the size it actually used. Channels follow the connected model (4 for SD1.x/SDXL) when given.
"""
from __future__ import annotations

import torch
from comfy_api.latest import io

from ..limits import check_latent_size, latent_size_problem


def snap_to_8(size: int) -> int:
    """A1111 latent geometry: the pixel size actually produced is ``(size // 8) * 8``."""
    return (int(size) // 8) * 8


class ForgelineEmptyLatent(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ForgelineEmptyLatent",
            display_name="Empty Latent (A1111 size)",
            category="Forgeline/latent",
            description="A zero latent of width×height pixels (floored to multiples of 8, as A1111 does).",
            inputs=[
                io.Int.Input("width", default=512, min=64, max=16384, step=8, tooltip="Image width in pixels."),
                io.Int.Input("height", default=512, min=64, max=16384, step=8, tooltip="Image height in pixels."),
                io.Int.Input("batch_size", default=1, min=1, max=4096, tooltip="Images per batch (A1111 'Batch size')."),
                io.Model.Input("model", optional=True,
                               tooltip="Optional: take the latent channel count from this model."),
            ],
            outputs=[io.Latent.Output()],
        )

    @classmethod
    def validate_inputs(cls, width=None, height=None, batch_size=None):
        return latent_size_problem(width, height, batch_size, lo=64)

    @classmethod
    def execute(cls, width, height, batch_size, model=None) -> io.NodeOutput:
        check_latent_size(width, height, batch_size, lo=64)
        channels = 4
        if model is not None:
            channels = getattr(model.get_model_object("latent_format"), "latent_channels", 4)
        w, h = snap_to_8(width), snap_to_8(height)
        samples = torch.zeros([batch_size, channels, h // 8, w // 8])
        return io.NodeOutput({"samples": samples})


NODES = [ForgelineEmptyLatent]
