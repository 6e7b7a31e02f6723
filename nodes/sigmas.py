"""SIGMAS nodes for ``SamplerCustomAdvanced``: Karras and Align Your Steps from Forgeline's schedulers package."""
from __future__ import annotations

import math

from comfy_api.latest import io

from ..limits import MAX_STEPS, check_inputs
from ..schedulers import AYS_VARIANTS, ays_sigmas, karras_sigmas

SD15_SIGMA_MIN, SD15_SIGMA_MAX = 0.0291675, 14.614642  # ComfyUI KarrasScheduler defaults (comfy_extras/nodes_custom_sampler.py)


class ForgelineKarrasSigmas(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ForgelineKarrasSigmas",
            display_name="Karras sigmas (Forgeline)",
            category="Forgeline/sampling/sigmas",
            description="Karras et al. (2022) schedule as k-diffusion/A1111 build it: "
                        "sigma_i = (sigma_max^(1/rho) + i/(n-1)·(sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, then 0. Connect a model to use "
                        "its own sigma range (what A1111 'Karras' does); otherwise the sigma inputs are used.",
            inputs=[
                io.Int.Input("steps", default=20, min=1, max=10000, tooltip="Number of steps (n)."),
                io.Float.Input("sigma_max", default=SD15_SIGMA_MAX, min=0.0001, max=10000.0, step=0.01, round=False,
                               tooltip="Highest noise level (SD1.5/SDXL: 14.614642). Ignored when a model is "
                                       "connected."),
                io.Float.Input("sigma_min", default=SD15_SIGMA_MIN, min=0.0001, max=10000.0, step=0.01, round=False,
                               tooltip="Lowest non-zero noise level (SD1.5/SDXL: 0.0291675). Ignored when a model "
                                       "is connected."),
                io.Float.Input("rho", default=7.0, min=0.01, max=100.0, step=0.01, round=False,
                               tooltip="Curvature rho (Karras and A1111 use 7; higher spends more steps at low sigma)."),
                io.Model.Input("model", optional=True, tooltip="Optional: take sigma_min/sigma_max from this model."),
            ],
            outputs=[io.Sigmas.Output()],
        )

    @classmethod
    def validate_inputs(cls, steps=None, sigma_max=None, sigma_min=None, rho=None):
        limit = check_inputs(steps=(steps, 1, MAX_STEPS), sigma_max=(sigma_max, 0.0001, 10000.0),
                             sigma_min=(sigma_min, 0.0001, 10000.0), rho=(rho, 0.01, 100.0))
        if limit is not True:
            return limit
        for name, value in (("sigma_max", sigma_max), ("sigma_min", sigma_min), ("rho", rho)):
            if value is not None and (not math.isfinite(value) or value <= 0):
                return f"{name}={value!r}: must be a finite number > 0"
        if steps is not None and steps < 1:
            return f"steps={steps!r}: must be >= 1"
        if sigma_max is not None and sigma_min is not None and sigma_min > sigma_max:
            return f"sigma_min={sigma_min} is above sigma_max={sigma_max}: swap them"
        return True

    @classmethod
    def execute(cls, steps, sigma_max, sigma_min, rho, model=None) -> io.NodeOutput:
        if model is not None:
            ms = model.get_model_object("model_sampling")
            sigma_min, sigma_max = float(ms.sigma_min), float(ms.sigma_max)
        return io.NodeOutput(karras_sigmas(steps, sigma_min, sigma_max, rho=rho))


class ForgelineAYSSigmas(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ForgelineAYSSigmas",
            display_name="Align Your Steps sigmas (Forgeline)",
            category="Forgeline/sampling/sigmas",
            description="Align Your Steps (Sabour, Fidler, Kreis, ICML 2024). variant comfy = NVIDIA's 10-step "
                        "tables log-linearly resampled, sigma_min replaced by 0 (ComfyUI's node); a1111/11 = Forge "
                        "'Align Your Steps (11)'; 32 = Forge 'AYS 32'; gits = Forge 'AYS GITS'; reforge/"
                        "reforge_gits = reForge's lists. denoise < 1 cuts the schedule as that UI does.",
            inputs=[
                io.Combo.Input("model_type", options=["SD1", "SDXL", "SVD"], default="SDXL",
                               tooltip="Table to use: SD1 (SD1.x/SD2), SDXL (incl. Pony/Illustrious), SVD "
                                       "(comfy variant only)."),
                io.Int.Input("steps", default=10, min=1, max=10000, tooltip="Number of steps."),
                io.Combo.Input("variant", options=list(AYS_VARIANTS), default="comfy",
                               tooltip="Which UI's AYS to reproduce (see the node description)."),
                io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="1 = full schedule; below 1 keeps the tail (comfy: round(steps·denoise) "
                                       "steps; web UI variants: A1111 img2img int(denoise·steps)+1)."),
            ],
            outputs=[io.Sigmas.Output()],
        )

    @classmethod
    def validate_inputs(cls, model_type=None, steps=None, variant=None, denoise=None):
        limit = check_inputs(steps=(steps, 1, MAX_STEPS), denoise=(denoise, 0.0, 1.0))
        if limit is not True:
            return limit
        if steps is not None and steps < 1:
            return f"steps={steps!r}: must be >= 1"
        if denoise is not None and not (math.isfinite(denoise) and 0.0 < denoise <= 1.0):
            return f"denoise={denoise!r}: must be in (0, 1]"
        if variant is not None and variant not in AYS_VARIANTS:
            return f"variant={variant!r} is not known; use one of {', '.join(AYS_VARIANTS)}"
        if model_type is not None and model_type not in ("SD1", "SDXL", "SVD"):
            return f"model_type={model_type!r} is not known; use SD1, SDXL or SVD"
        if model_type == "SVD" and variant not in (None, "comfy"):
            return f"model_type=SVD has no '{variant}' table (Forge/reForge ship SD1 and SDXL only): use variant comfy"
        return True

    @classmethod
    def execute(cls, model_type, steps, variant, denoise) -> io.NodeOutput:
        return io.NodeOutput(ays_sigmas(model_type, steps, variant=variant, denoise=denoise))


NODES = [ForgelineKarrasSigmas, ForgelineAYSSigmas]
