"""Align Your Steps schedules (Sabour, Fidler, Kreis, ICML 2024) in each UI's flavour.

Variants:
* ``"comfy"`` — ComfyUI ``AlignYourStepsScheduler``: the published 11 levels (SD1/SDXL/SVD) are used verbatim at
  10 steps, otherwise log-linearly resampled to ``steps + 1`` points; σ_min is *replaced* by 0; denoise keeps the
  last ``round(steps·denoise)+1`` levels (``slicing.ays_denoise_slice``).
* ``"a1111"`` / ``"11"`` — A1111 / Forge "Align Your Steps" and "Align Your Steps 11" (same arrays, same code):
  the 3-decimal levels are squeezed into ``steps`` points (verbatim when ``steps == 11``) and 0 is *appended*, so
  σ_min = 0.029 stays a real step; denoise follows A1111 img2img (``slicing.a1111_img2img_sigmas``).
* ``"32"`` — Forge "Align Your Steps 32": 32 levels ending at 0.015, same mechanism.
* ``"gits"`` — Forge "Align Your Steps GITS", same mechanism.
* ``"reforge"`` / ``"reforge_gits"`` — reForge's lists written as ``σ_max / ratio`` (model σ_max) plus 0.029,
  same mechanism.
All results are float32 tensors (the UIs build float64 lists and cast with ``torch.FloatTensor``).
No official AYS schedule exists for flow/CONST models; only SD1, SDXL (and SVD for ``comfy``) are accepted.
"""
import numpy as np
import torch

from .ays_tables import (FORGE_AYS, FORGE_AYS_32, FORGE_AYS_GITS, NOISE_LEVELS, REFORGE_AYS_GITS_RATIOS,
                         REFORGE_AYS_RATIOS, REFORGE_LAST_LEVEL)
from .karras import _check_steps
from .loglinear import loglinear_interp
from .slicing import a1111_img2img_sigmas, ays_denoise_slice

AYS_VARIANTS = ("comfy", "a1111", "11", "32", "gits", "reforge", "reforge_gits")

SD_SIGMA_MAX = 14.614641189575195  # SD1.5/SDXL model σ_max (float32 of σ_999), what reForge passes

_MODEL_ALIASES = {"SD1": "SD1", "SD15": "SD1", "SD1.5": "SD1", "SDXL": "SDXL", "SVD": "SVD"}


def ays_sigmas(model_type, steps, variant="comfy", denoise=1.0, sigma_max=None):
    """Align Your Steps schedule for ``model_type`` ∈ {SD1, SDXL, SVD} with ``steps`` steps (float32, ends in 0).

    ``sigma_max`` is only read by the reForge variants (default: the SD1.5/SDXL model σ_max).
    """
    model = _model_key(model_type)
    steps = _check_steps(steps)
    variant = str(variant)
    if variant not in AYS_VARIANTS:
        raise ValueError(f"ays_sigmas: unknown variant {variant!r}; choose one of {', '.join(AYS_VARIANTS)}")
    if variant == "comfy":
        levels = NOISE_LEVELS[model]
        levels = np.array(levels, dtype=np.float64) if steps + 1 == len(levels) else loglinear_interp(levels, steps + 1)
        return ays_denoise_slice(torch.tensor(levels, dtype=torch.float64), steps, denoise).to(torch.float32)
    if model == "SVD":
        raise ValueError(f"ays_sigmas: variant {variant!r} has no SVD table (Forge/reForge ship SD1 and SDXL only); "
                         "use variant='comfy' for SVD")
    base = _webui_levels(model, variant, sigma_max)
    levels = np.array(base, dtype=np.float64) if steps == len(base) else loglinear_interp(base, steps)
    sigmas = torch.tensor(np.append(levels, 0.0), dtype=torch.float32)
    if float(denoise) < 1.0:
        sigmas = a1111_img2img_sigmas(sigmas, steps, denoise)
    return sigmas


def _webui_levels(model, variant, sigma_max):
    if variant in ("a1111", "11"):
        return FORGE_AYS[model]
    if variant == "32":
        return FORGE_AYS_32[model]
    if variant == "gits":
        return FORGE_AYS_GITS[model]
    ratios = (REFORGE_AYS_RATIOS if variant == "reforge" else REFORGE_AYS_GITS_RATIOS)[model]
    top = SD_SIGMA_MAX if sigma_max is None else float(sigma_max)
    if not top > REFORGE_LAST_LEVEL:
        raise ValueError(f"ays_sigmas: sigma_max={sigma_max} must be above {REFORGE_LAST_LEVEL} for the reForge lists")
    return tuple(REFORGE_LAST_LEVEL if r is None else top / r for r in ratios)


def _model_key(model_type):
    key = _MODEL_ALIASES.get(str(model_type).strip().upper())
    if key is None:
        raise ValueError(f"AYS model_type {model_type!r} is not known; use 'SD1', 'SDXL' or 'SVD' "
                         "(SDXL fine-tunes such as Pony/Illustrious use 'SDXL'; there is no AYS table for flow models)")
    return key
