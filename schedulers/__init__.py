"""Forgeline schedules: Karras and Align Your Steps (all UI flavours), log-linear resampling, denoise slicing.

Pure torch/numpy; no ComfyUI import. ``simple``/``normal``/``sgm_uniform`` are ComfyUI's own and are not redone here
(A1111 "Automatic" for Euler a, k-diffusion ``DiscreteSchedule.get_sigmas`` in A1111
``modules/sd_samplers_kdiffusion.py``, equals ComfyUI ``normal`` for SD1.5 to 2.4e-7).
"""
from .align_your_steps import AYS_VARIANTS, SD_SIGMA_MAX, ays_sigmas
from .ays_tables import FORGE_AYS, FORGE_AYS_32, FORGE_AYS_GITS, NOISE_LEVELS
from .karras import karras_sigmas
from .loglinear import loglinear_interp
from .slicing import a1111_img2img_sigmas, ays_denoise_slice, discard_penultimate_sigma, ksampler_denoise_sigmas

__all__ = [
    "AYS_VARIANTS", "FORGE_AYS", "FORGE_AYS_32", "FORGE_AYS_GITS", "NOISE_LEVELS", "SD_SIGMA_MAX",
    "a1111_img2img_sigmas", "ays_denoise_slice", "ays_sigmas", "discard_penultimate_sigma",
    "karras_sigmas", "ksampler_denoise_sigmas", "loglinear_interp",
]
