"""Progress and pass markers shared by Forgeline's multi-pass nodes (HiRes Fix, Refiner): one ComfyUI progress bar
with latent previews over several sampling runs, and the ``transformer_options["forgeline_pass"]`` marker that
other Forgeline features read (prompt editing's hires schedule, LoRA ``hrunet`` slots).
"""
from __future__ import annotations

import comfy.utils
import latent_preview

from . import prompt_schedule, sampling_hooks
from .lora_schedule import PASS_KEY


class PassProgress:
    """One progress bar (with latent previews) over several sampling passes of one node."""

    def __init__(self, total, model):
        self.total = max(int(total), 1)
        self.done = 0
        self.bar = comfy.utils.ProgressBar(self.total)
        self.previewer = latent_preview.get_previewer(model.load_device, model.model.latent_format)

    def advance(self, n=1):
        self.done += n
        self.bar.update_absolute(min(self.done, self.total), self.total)

    def callback(self, model=None):
        """A sampler callback for the next pass; the pass's steps count on from what is done already."""
        previewer = self.previewer
        if model is not None:
            previewer = latent_preview.get_previewer(model.load_device, model.model.latent_format)
        offset = self.done

        def on_step(step, x0, x, total_steps):
            preview = previewer.decode_latent_to_preview_image("JPEG", x0) if previewer else None
            self.done = offset + step + 1
            self.bar.update_absolute(min(self.done, self.total), self.total, preview)
        return on_step


def mark_pass(model_clone, name, **info):
    """Tag every sampling run of ``model_clone`` as pass ``name`` (see module docstring for the keys)."""
    tag = {"pass": name, **info}
    model_clone.model_options.setdefault("transformer_options", {})[PASS_KEY] = tag

    if name == "hires":  # kept by enable_step_schedules' "auto"; a pass forced upstream by the user wins
        prompt_schedule.set_pass(model_clone, "hires", keep_forced=True)

    def before_call(ctx, model_options):
        ctx.extra.update(tag)

    sampling_hooks.on_call(model_clone, f"forgeline.pass.{name}", before_call)
    return model_clone
