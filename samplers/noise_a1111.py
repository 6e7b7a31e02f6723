"""A1111 seeds and noise streams (AUTOMATIC1111/stable-diffusion-webui ``modules/rng.py`` ``ImageRNG``).

* Per-image seeds: ``all_seeds = [seed + i]`` when ``subseed_strength == 0``, else every image keeps ``seed``;
  ``all_subseeds = [subseed + i]`` always.
* One generator per image: ``randn_source`` "CPU" → ``torch.Generator('cpu').manual_seed(seed_i)``; "NV" →
  ``PhiloxGenerator(seed_i)`` (A1111 ``rng_philox``); "GPU" → a CUDA generator when ``device`` is CUDA, otherwise
  the same Philox emulation (CUDA ``torch.randn`` numbers on any hardware).
* ``first()`` (initial noise): per image ``randn((C,H,W))`` from its generator; with a variation seed
  (``subseed_strength != 0``) the image's noise is ``slerp(strength, noise, subnoise)`` where ``subnoise`` comes from
  a fresh generator seeded with the image's subseed (0 past the end of the list). Then, if ENSD ≠ 0, the generators
  are re-created with ``seed_i + ENSD``; otherwise they continue.
* ``next()``: per image one more ``randn((C,H,W))`` from its generator, stacked. Inside A1111 every
  ``torch.randn_like(x)`` of k-diffusion (the ancestral noise) becomes ``p.rng.next()``, so
  ``noise_sampler()`` here is ``(σ, σ_next) ↦ next()``, usable by both ancestral samplers.
* "Resize seed from" (``seed_resize_from_w``/``_h``, pixels, both > 0): the seed's (and subseed's) noise is drawn at
  the resize-from latent size ``(C, h // 8, w // 8)`` from fresh generators, slerped there, and pasted centred into
  the image's full-size noise, which the image's own generator draws (so the ancestral stream continues after a
  full-size draw, as without resize). A smaller source sits in the middle of the new noise; a larger one is cropped
  to its middle (``paste_centred``). Older A1111 did the same in ``processing.py`` ``create_random_tensors``.

Source: AUTOMATIC1111/stable-diffusion-webui ``modules/rng.py`` (``ImageRNG``, ``slerp``), ``modules/processing.py``.
"""
import torch

from .philox import PhiloxGenerator

RANDN_SOURCES = ("CPU", "GPU", "NV")


def a1111_seeds(seed, count, subseed=None, subseed_strength=0.0, indices=None):
    """A1111 per-image ``(seeds, subseeds)`` for a batch of ``count`` images (``subseeds`` is None without subseed).

    ``indices`` (ComfyUI's ``batch_index`` of a latent taken out of a larger batch) replaces ``range(count)``, so
    image ``k`` of the original batch keeps seed ``seed + k``."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"a1111_seeds: count={count!r} must be a whole number >= 1 (the batch size)")
    positions = list(range(count)) if indices is None else [int(i) for i in indices]
    if len(positions) != count:
        raise ValueError(f"a1111_seeds: {len(positions)} batch indices for a batch of {count}; the latent's "
                         "batch_index must have one entry per image")
    seed = int(seed)
    seeds = [seed + (i if subseed_strength == 0 else 0) for i in positions]
    subseeds = None if subseed is None else [int(subseed) + i for i in positions]
    return seeds, subseeds


def a1111_slerp(val, low, high):
    """A1111 ``slerp`` of two (C,H,W) noises, quirks kept: directions are normalised along dim 1 and the angle is
    taken per (C, W) column; if the mean cosine exceeds 0.9995 it returns ``low·val + high·(1 − val)``."""
    low_dir = low / torch.norm(low, dim=1, keepdim=True)
    high_dir = high / torch.norm(high, dim=1, keepdim=True)
    cos_omega = (low_dir * high_dir).sum(1)
    if cos_omega.mean() > 0.9995:
        return low * val + high * (1 - val)
    omega = torch.acos(cos_omega)
    sin_omega = torch.sin(omega)
    w_low = (torch.sin((1.0 - val) * omega) / sin_omega).unsqueeze(1)
    w_high = (torch.sin(val * omega) / sin_omega).unsqueeze(1)
    return w_low * low + w_high * high


def paste_centred(target, source):
    """A1111's seed-resize paste (``ImageRNG.first``): ``source`` (C,h,w) into the centre of ``target`` (C,H,W),
    in place. Offsets are ``(H - h) // 2`` and ``(W - w) // 2`` (floor division, so an odd difference puts the extra
    row/column after the source when it is smaller, and crops one more from its start when it is larger)."""
    dx = (target.shape[2] - source.shape[2]) // 2
    dy = (target.shape[1] - source.shape[1]) // 2
    w = source.shape[2] if dx >= 0 else source.shape[2] + 2 * dx
    h = source.shape[1] if dy >= 0 else source.shape[1] + 2 * dy
    tx, ty = max(dx, 0), max(dy, 0)
    sx, sy = max(-dx, 0), max(-dy, 0)
    target[:, ty:ty + h, tx:tx + w] = source[:, sy:sy + h, sx:sx + w]
    return target


class A1111ImageRNG:
    """A1111 ``ImageRNG``: per-image generators for the initial noise and the ancestral stream (ENSD, subseeds,
    "resize seed from" in pixels: ``seed_resize_from_w``/``_h``, off unless both are > 0)."""

    def __init__(self, shape, seeds, source="GPU", eta_noise_seed_delta=0, subseeds=None, subseed_strength=0.0,
                 device="cpu", max_threads=None, seed_resize_from_w=0, seed_resize_from_h=0):
        self.shape = tuple(int(s) for s in shape)
        if len(self.shape) != 3:
            raise ValueError(f"A1111ImageRNG: shape={shape!r} must be one image's (C, H, W), e.g. (4, 64, 64)")
        self.seeds = [int(s) for s in seeds]
        if not self.seeds:
            raise ValueError("A1111ImageRNG: seeds is empty; pass one seed per image (a1111_seeds(seed, batch))")
        self.source = str(source).upper()
        if self.source not in RANDN_SOURCES:
            raise ValueError(f"A1111ImageRNG: randn source {source!r} unknown; use one of {', '.join(RANDN_SOURCES)}")
        self.eta_noise_seed_delta = int(eta_noise_seed_delta or 0)
        self.subseeds = None if subseeds is None else [int(s) for s in subseeds]
        self.subseed_strength = float(subseed_strength)
        self.device = torch.device(device)
        self.max_threads = max_threads
        self.seed_resize_from_w, self.seed_resize_from_h = int(seed_resize_from_w), int(seed_resize_from_h)
        self.generators = [self._generator(s) for s in self.seeds]
        self.is_first = True

    def noise_shape(self):
        """The (C, H, W) the seed's noise is drawn at: the resize-from latent size (pixels // 8, as A1111), or the
        image's own shape when resize is off."""
        if self.seed_resize_from_w <= 0 or self.seed_resize_from_h <= 0:
            return self.shape
        return (self.shape[0], self.seed_resize_from_h // 8, self.seed_resize_from_w // 8)

    def first(self):
        """Initial noise ``(B, C, H, W)``; afterwards the ancestral generators are re-seeded by ENSD if set."""
        shape = self.noise_shape()
        if min(shape) < 1:
            raise ValueError(f"A1111ImageRNG: resize seed from {self.seed_resize_from_w}x{self.seed_resize_from_h} "
                             "is under one latent pixel (8 image pixels); use at least 8x8, or 0 to turn it off")
        resized = shape != self.shape
        noises = []
        for i, (seed, generator) in enumerate(zip(self.seeds, self.generators)):
            subnoise = None
            if self.subseeds is not None and self.subseed_strength != 0:
                subseed = self.subseeds[i] if i < len(self.subseeds) else 0
                subnoise = self._draw(self._generator(subseed), shape)
            noise = self._draw(self._generator(seed), shape) if resized else self._draw(generator)
            if subnoise is not None:
                noise = a1111_slerp(self.subseed_strength, noise, subnoise)
            if resized:
                noise = paste_centred(self._draw(generator), noise)
            noises.append(noise)
        if self.eta_noise_seed_delta:
            self.generators = [self._generator(s + self.eta_noise_seed_delta) for s in self.seeds]
        return torch.stack(noises)

    def next(self):
        """``first()`` on the first call, then one more draw per image from each image's generator."""
        if self.is_first:
            self.is_first = False
            return self.first()
        return torch.stack([self._draw(g) for g in self.generators])

    def noise_sampler(self):
        """A k-diffusion ``noise_sampler(σ, σ_next)`` drawing the A1111 ancestral stream (arguments ignored)."""
        return lambda sigma, sigma_next: self.next()

    def _generator(self, seed):
        if self.source == "CPU":
            return torch.Generator("cpu").manual_seed(seed)
        if self.source == "GPU" and self.device.type == "cuda":
            return torch.Generator(self.device).manual_seed(seed)
        return PhiloxGenerator(seed, max_threads=self.max_threads)

    def _draw(self, generator, shape=None):
        shape = self.shape if shape is None else tuple(shape)
        if isinstance(generator, PhiloxGenerator):
            return generator.randn(shape, device=self.device)
        return torch.randn(shape, generator=generator, device=generator.device).to(self.device)
