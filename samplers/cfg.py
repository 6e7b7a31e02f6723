"""Classifier-free guidance combination (Ho & Salimans 2022, "Classifier-Free Diffusion Guidance"; ComfyUI
``comfy/samplers.py`` ``cfg_function``).

``cfg_combine(uncond, cond, s) = uncond + s·(cond − uncond)``, on denoised (x0) or ε predictions alike.
The guidance paper writes ``(1+w)·ε_c − w·ε_u``; that is the same with ``s = 1 + w`` (ComfyUI cfg 8 ↔ w = 7,
A1111 CFG 7 ↔ w = 6), and because D = x − σ·ε is affine in ε with the same x, combining D's or ε's is identical.
At s = 1 the result is ``cond`` alone, so the unconditional pass can be skipped: pass ``uncond=None``. The node layer
uses ComfyUI's own ``sampling_function``, which already skips it (unless ``disable_cfg1_optimization``).
A1111's multi-prompt AND *sums* weighted deltas; ComfyUI *averages* conds first (A1111
``modules/sd_samplers_cfg_denoiser.py`` ``combine_denoised``; ComfyUI ``comfy/samplers.py`` ``_calc_cond_batch``) —
prompt-side.
"""
import math


def cfg_combine(uncond, cond, scale):
    """Classifier-free guidance: ``uncond + scale·(cond − uncond)``; ``uncond`` may be ``None`` only at scale 1."""
    scale = float(scale)
    if not math.isfinite(scale):
        raise ValueError(f"cfg scale={scale} must be a finite number (ComfyUI default 8.0, A1111 7.0)")
    if uncond is None:
        if math.isclose(scale, 1.0):
            return cond
        raise ValueError(f"cfg_combine: uncond is None but scale={scale}; the unconditional prediction may only "
                         "be skipped at scale 1.0")
    return uncond + (cond - uncond) * scale
