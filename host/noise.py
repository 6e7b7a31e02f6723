"""The running host's own noise rules, found by feature tests (ComfyUI 0.3.75 and 0.33.0 differ).

* Ancestral noise seed: ``comfy.k_diffusion.sampling.default_noise_sampler(x, seed)`` seeds a CPU generator with
  ``seed`` in 0.3.75 and with ``seed + 1`` since upstream 1e4e342f (0.33.0). ``cpu_seed_offset()`` draws once from
  the host's function and compares it with ``torch.Generator`` seeded both ways, so the "comfy" noise source and the
  default noise of Forgeline's samplers equal the stock sampler of whichever host runs.
* Flow (CONST) ancestral samplers scale ``s_noise`` by ``model_sampling.noise_scale`` in 0.33.0 (upstream 8e53f001);
  0.3.75's model samplings have no such attribute, which reads as 1.0 (``noise_scale``).
"""
from __future__ import annotations

import functools
import inspect

import torch
from comfy.k_diffusion import sampling as k_diffusion_sampling

from ..samplers import comfy_noise_sampler


@functools.lru_cache(maxsize=1)
def cpu_seed_offset() -> int:
    """0 or 1: what this host adds to the seed of a CPU ancestral-noise generator."""
    probe = torch.zeros(1, 8)
    draw = k_diffusion_sampling.default_noise_sampler(probe, seed=1234)(None, None)
    for offset in (0, 1):
        if torch.equal(draw, torch.randn(probe.shape, generator=torch.Generator().manual_seed(1234 + offset))):
            return offset
    raise RuntimeError("Forgeline: this ComfyUI's default_noise_sampler seeds neither with seed nor seed + 1; "
                       "the 'comfy' noise source cannot match it - please report your ComfyUI version")


def default_noise_sampler(x, seed):
    """The host's ancestral noise stream for ``x`` (Forgeline's own copy of the rule, with the host's seed offset)."""
    return comfy_noise_sampler(x, seed, cpu_seed_offset())


@functools.lru_cache(maxsize=1)
def host_scales_rf_noise() -> bool:
    """True when this host's flow ancestral sampler multiplies ``s_noise`` by ``model_sampling.noise_scale``."""
    try:
        return "noise_scale" in inspect.getsource(k_diffusion_sampling.sample_euler_ancestral_RF)
    except (OSError, TypeError, AttributeError):
        return False


def noise_scale(model) -> float:
    """``model_sampling.noise_scale`` of a ComfyUI k-diffusion model wrapper, where the host's own flow samplers
    apply it (else 1.0, so Forgeline's samplers equal the host's)."""
    if not host_scales_rf_noise():
        return 1.0
    try:
        patcher = model.inner_model.model_patcher
        return float(getattr(patcher.get_model_object("model_sampling"), "noise_scale", 1.0))
    except AttributeError:
        return 1.0


def with_host_noise(sampler_function):
    """A Forgeline sampler as ComfyUI calls it from its dropdown: the host's default noise stream and noise scale
    filled in when the caller gives none."""
    @functools.wraps(sampler_function)
    def sample(model, x, sigmas, extra_args=None, callback=None, disable=None, **options):
        extra_args = {} if extra_args is None else extra_args
        if options.get("noise_sampler") is None:
            options["noise_sampler"] = default_noise_sampler(x, extra_args.get("seed"))
        options.setdefault("noise_scale", noise_scale(model))
        return sampler_function(model, x, sigmas, extra_args=extra_args, callback=callback, disable=disable,
                                **options)
    return sample
