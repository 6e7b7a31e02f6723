"""Upscalers of A1111's HiRes fix, on ComfyUI types (LATENT dicts, IMAGE tensors, VAE, UPSCALE_MODEL).

* **Latent** modes (A1111 ``shared.latent_upscale_modes``; ``sample_hr_pass``): ``torch.nn.functional.interpolate``
  of the latent to ``(upscale_to_y // 8, upscale_to_x // 8)`` with

  ======================================  ================  =========
  A1111 name                              mode              antialias
  ======================================  ================  =========
  Latent                                  bilinear          False
  Latent (antialiased)                    bilinear          True
  Latent (bicubic)                        bicubic           False
  Latent (bicubic antialiased)            bicubic           True
  Latent (nearest)                        nearest           False
  Latent (nearest-exact)                  nearest-exact     False
  ======================================  ================  =========

  (``align_corners`` left at its default, as in A1111 and ComfyUI's ``common_upscale``: the non-antialiased modes
  equal ComfyUI's ``LatentUpscale``/``LatentUpscaleBy`` bit for bit at the same size.) Then the latent is cropped by
  ``HiresSize.crop`` (A1111's ``truncate_x/y`` slice).
* **Pixel** modes: A1111 decodes, converts each image to 8-bit (``clamp((x+1)/2)·255 → uint8``), resizes it with PIL
  (``images.resize_image(0, …)``: "Lanczos" → ``LANCZOS``, "Nearest" → ``NEAREST``; Forgeline adds "Bicubic" →
  PIL ``BICUBIC``), and encodes it again.
* **Model** mode (A1111 ``Upscaler.upscale``): run the upscale model while the image is smaller than the target (at
  most 3 times, stopping if a pass does not grow it), then a LANCZOS resize to the exact target size. The model runs
  through ComfyUI's ``ImageUpscaleWithModel`` (tiling, out-of-memory retry, progress).

Forgeline resizes pixels straight to the 8-aligned size A1111's latent ends up with (A1111 resizes to
``int(w·scale)`` and lets the VAE encoder floor it: < 8 px of scale difference).
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

LATENT_MODES = {
    "Latent": ("bilinear", False),
    "Latent (antialiased)": ("bilinear", True),
    "Latent (bicubic)": ("bicubic", False),
    "Latent (bicubic antialiased)": ("bicubic", True),
    "Latent (nearest)": ("nearest", False),
    "Latent (nearest-exact)": ("nearest-exact", False),
}
PIXEL_MODES = {
    "Lanczos": Image.Resampling.LANCZOS,
    "Nearest": Image.Resampling.NEAREST,
    "Bicubic": Image.Resampling.BICUBIC,
}
MODEL_MODE = "Upscale model"
UPSCALERS = [*LATENT_MODES, *PIXEL_MODES, MODEL_MODE]
MAX_MODEL_PASSES = 3  # A1111 ``Upscaler.upscale``


def is_latent_mode(upscaler: str) -> bool:
    return upscaler in LATENT_MODES


def upscaler_error(upscaler, vae=None, upscale_model=None) -> str | None:
    """Why ``upscaler`` cannot run with the given inputs, or None."""
    if upscaler not in UPSCALERS:
        return f"upscaler={upscaler!r} is not known; use one of: {', '.join(UPSCALERS)}"
    if upscaler not in LATENT_MODES and vae is None:
        return (f"upscaler={upscaler!r} works in pixel space and needs the 'vae' input connected (the checkpoint's "
                "VAE), or pick a Latent upscaler")
    if upscaler == MODEL_MODE and upscale_model is None:
        return ("upscaler='Upscale model' needs the 'upscale_model' input (Load Upscale Model), or pick Lanczos or a "
                "Latent upscaler")
    return None


def upscale_latent(samples: torch.Tensor, latent_width: int, latent_height: int, upscaler: str) -> torch.Tensor:
    """A1111 latent upscale: ``F.interpolate(samples, size=(h, w), mode, antialias)`` for an A1111 mode name."""
    mode, antialias = LATENT_MODES[upscaler]
    if samples.ndim != 4:
        raise ValueError(f"latent upscale needs an image latent (B, C, H, W), got shape {tuple(samples.shape)}")
    if antialias:
        return torch.nn.functional.interpolate(samples, size=(latent_height, latent_width), mode=mode, antialias=True)
    return torch.nn.functional.interpolate(samples, size=(latent_height, latent_width), mode=mode)


def crop_latent(samples: torch.Tensor, crop) -> torch.Tensor:
    """Remove ``(left, top, right, bottom)`` latent cells, A1111's ``truncate_x/y`` slice."""
    left, top, right, bottom = crop
    h, w = samples.shape[-2], samples.shape[-1]
    return samples[..., top:h - bottom, left:w - right]


def to_uint8_images(images: torch.Tensor) -> list[Image.Image]:
    """ComfyUI IMAGE (B, H, W, C in 0…1) → PIL images, rounded down to 8 bit as A1111 does (``astype(uint8)``)."""
    arr = (255.0 * images.detach().clamp(0.0, 1.0).cpu().float().numpy()).astype(np.uint8)
    return [Image.fromarray(a[..., :3]) for a in arr]


def from_pil_images(images: list[Image.Image]) -> torch.Tensor:
    """PIL images → ComfyUI IMAGE (B, H, W, 3), ``/255`` as A1111 does before encoding.

    The tensor is laid out channels-first in memory (a (B, 3, H, W) tensor viewed as (B, H, W, 3)), as ComfyUI's
    ``ImageScale`` returns it, so the VAE encoder sees the same memory layout and gives the same floats."""
    hwc = torch.from_numpy(np.stack([np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0 for im in images]))
    return hwc.movedim(-1, 1).contiguous().movedim(1, -1)


def resize_pixels(images: torch.Tensor, width: int, height: int, upscaler: str) -> torch.Tensor:
    """8-bit PIL resize of a ComfyUI IMAGE batch with an A1111 pixel upscaler ("Lanczos", "Nearest", "Bicubic")."""
    resample = PIXEL_MODES[upscaler]
    return from_pil_images([im.resize((width, height), resample=resample) for im in to_uint8_images(images)])


def upscale_with_model(images: torch.Tensor, width: int, height: int, upscale_model) -> torch.Tensor:
    """A1111 ``Upscaler.upscale``: model passes until ≥ the target (≤ 3), then LANCZOS to exactly width×height."""
    from comfy_extras.nodes_upscale_model import ImageUpscaleWithModel

    for _ in range(MAX_MODEL_PASSES):
        h, w = images.shape[1], images.shape[2]
        if w >= width and h >= height:
            break
        out = ImageUpscaleWithModel.execute(upscale_model, images)
        images = out.result[0] if hasattr(out, "result") else out[0]
        if (images.shape[1], images.shape[2]) == (h, w):
            break
    if (images.shape[1], images.shape[2]) != (height, width):
        images = resize_pixels(images, width, height, "Lanczos")
    return images


def upscale_in_pixels(vae, samples: torch.Tensor, width: int, height: int, upscaler: str,
                      upscale_model=None) -> torch.Tensor:
    """Decode → resize (PIL or model) → encode; returns the new latent (B, C, height/8, width/8)."""
    images = vae.decode(samples)
    if images.ndim == 5:  # some VAEs return (B, T, H, W, C)
        images = images.reshape(-1, *images.shape[-3:])
    if upscaler == MODEL_MODE:
        images = upscale_with_model(images, width, height, upscale_model)
    else:
        images = resize_pixels(images, width, height, upscaler)
    return vae.encode(images[..., :3])
