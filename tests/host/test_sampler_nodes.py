"""Forgeline's sampling runner against ComfyUI 0.3.75's stock KSampler and A1111's noise rules (samplers.md §7).

References: ``nodes.common_ksampler`` (the stock KSampler node's body) run in the same process; the initial noise
of A1111's ``ImageRNG`` re-derived here with ``torch.randn`` on a CPU generator (``randn_source=CPU``) and the
published CUDA/Philox first values for seed 42 (samplers.md §7.2); σ_0 from k-diffusion's Karras formula.
"""
import math

import pytest
import torch

import comfy.sd
import nodes as comfy_nodes

from forgeline.nodes import a1111_sampling as a1


@pytest.fixture(scope="module")
def sd15():
    from forgeline.scripts.comfy_server import MODELS_CACHE
    from forgeline.tests.fixtures.models import ensure_checkpoint

    path = ensure_checkpoint("sd15", MODELS_CACHE / "checkpoints")
    model, clip, _vae, _ = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=True, output_clip=True)
    cond = clip.encode_from_tokens_scheduled(clip.tokenize("a red cube"))
    uncond = clip.encode_from_tokens_scheduled(clip.tokenize(""))
    return model, cond, uncond


def _latent(batch=1):
    return {"samples": torch.zeros(batch, 4, 8, 8)}


def _stock(model, cond, uncond, latent, **kw):
    return comfy_nodes.common_ksampler(model, kw["seed"], kw["steps"], kw["cfg"], kw["sampler_name"],
                                       kw["scheduler"], cond, uncond, latent, denoise=kw.get("denoise", 1.0))[0]


@pytest.mark.parametrize("sampler,scheduler,steps,cfg,denoise", [
    ("euler_ancestral", "karras", 4, 7.0, 1.0),
    ("dpmpp_2s_ancestral", "normal", 3, 5.0, 1.0),
    ("euler", "karras", 3, 1.0, 1.0),       # cfg 1: uncond skipped on both sides
])
def test_comfy_noise_equals_stock_ksampler_bit_for_bit(sd15, sampler, scheduler, steps, cfg, denoise):
    model, cond, uncond = sd15
    kw = dict(seed=123, steps=steps, cfg=cfg, sampler_name=sampler, scheduler=scheduler, denoise=denoise)
    ref = _stock(model, cond, uncond, _latent(), **kw)["samples"]
    out, info = a1.sample_a1111(model, cond, uncond, _latent(), noise_source="comfy", **kw)
    assert torch.equal(out["samples"], ref)
    assert len(info.sigmas) == steps + 1
