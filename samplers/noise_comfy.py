"""ComfyUI's default noise, for comparison and as the samplers' default (ComfyUI ``comfy/sample.py``
``prepare_noise``, ``comfy/k_diffusion/sampling.py`` ``default_noise_sampler``).

* Initial noise (``comfy.sample.prepare_noise``): one CPU ``torch.randn`` stream seeded with ``seed`` for the whole
  batch; with ``batch_inds`` the single-image draws are taken in order 0 … max index and picked by index.
* Ancestral noise (``comfy.k_diffusion.sampling.default_noise_sampler(x, seed)``): a fresh generator on ``x.device``
  seeded with the seed, one ``randn(x.shape)`` per call; ``(σ, σ_next)`` are ignored; ``seed=None`` uses the global
  RNG. ComfyUI 0.3.75 seeds it with ``seed`` on every device (so on CPU the first ancestral draw equals the initial
  noise); since upstream commit 1e4e342f (ComfyUI#11528, in 0.33.0) a CPU generator is seeded with ``seed + 1``
  (``cpu_seed_offset=1``), a CUDA one still with ``seed``. ``host/noise.py`` finds which rule the running host has.
"""
import torch


def comfy_noise_sampler(x, seed=None, cpu_seed_offset=0):
    """ComfyUI ``default_noise_sampler``: ``(σ, σ_next) ↦ randn(x.shape)`` from a generator on ``x.device`` seeded
    with ``seed`` (+ ``cpu_seed_offset`` on a CPU device, see the module docstring)."""
    generator = None
    if seed is not None:
        if x.device.type == "cpu":
            seed = _seed(seed) + int(cpu_seed_offset)
        generator = torch.Generator(device=x.device).manual_seed(_seed(seed))

    def noise_sampler(sigma, sigma_next):
        return torch.randn(x.size(), dtype=x.dtype, layout=x.layout, device=x.device, generator=generator)

    return noise_sampler


def _seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed={seed!r} must be a whole number")
    if not -2 ** 63 <= seed < 2 ** 64:
        raise ValueError(f"seed={seed} is outside torch's seed range [-2**63, 2**64)")
    return seed
