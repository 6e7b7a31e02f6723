"""Forgeline schedules == ComfyUI 0.3.75's own (get_sigmas_karras, AlignYourStepsScheduler, calculate_sigmas)."""
import importlib
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import comfy.model_sampling as cms
import comfy.samplers as csamplers
from comfy.k_diffusion import sampling as ks

def import_comfy_extra(name):
    """Import a ``comfy_extras`` module whose ``comfy_api`` (a namespace package in ComfyUI) may be shadowed by
    ``scripts/comfy_api.py`` on sys.path; the previous ``comfy_api`` entry is restored afterwards."""
    previous = sys.modules.get("comfy_api")
    if previous is not None and hasattr(previous, "__path__"):
        return importlib.import_module(name)
    package = types.ModuleType("comfy_api")
    package.__path__ = [str(Path(cms.__file__).resolve().parents[1] / "comfy_api")]
    sys.modules["comfy_api"] = package
    try:
        return importlib.import_module(name)
    finally:
        if previous is None:
            sys.modules.pop("comfy_api", None)
        else:
            sys.modules["comfy_api"] = previous


AlignYourStepsScheduler = import_comfy_extra("comfy_extras.nodes_align_your_steps").AlignYourStepsScheduler
SplitSigmasDenoise = import_comfy_extra("comfy_extras.nodes_custom_sampler").SplitSigmasDenoise

from forgeline.schedulers import ays_denoise_slice, ays_sigmas, karras_sigmas, ksampler_denoise_sigmas  # noqa: E402


class EPSDiscrete(cms.ModelSamplingDiscrete, cms.EPS):
    pass


@pytest.fixture(scope="module")
def sd15_ms():
    return EPSDiscrete(None)


@pytest.mark.parametrize("n", [1, 2, 4, 10, 20, 25, 30])
def test_karras_equals_comfy(sd15_ms, n):
    lo, hi = float(sd15_ms.sigma_min), float(sd15_ms.sigma_max)
    ours = karras_sigmas(n, lo, hi)
    assert torch.equal(ours, ks.get_sigmas_karras(n, lo, hi))
    assert torch.equal(ours, csamplers.calculate_sigmas(sd15_ms, "karras", n))
    assert torch.equal(karras_sigmas(n, 0.0291675, 14.614642, rho=7.0), ks.get_sigmas_karras(n, 0.0291675, 14.614642))


@pytest.mark.parametrize("model", ["SD1", "SDXL", "SVD"])
@pytest.mark.parametrize("steps", [1, 2, 4, 10, 11, 20, 25, 32])
def test_ays_equals_comfy_node(model, steps):
    ref = AlignYourStepsScheduler.execute(model, steps, 1.0).result[0]
    got = ays_sigmas(model, steps)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-6, atol=0)


@pytest.mark.parametrize("model", ["SD1", "SDXL"])
@pytest.mark.parametrize("steps, denoise", [(10, 0.5), (20, 0.5), (20, 0.75), (5, 0.5), (10, 0.0), (7, 0.33)])
def test_ays_denoise_equals_comfy_node(model, steps, denoise):
    ref = AlignYourStepsScheduler.execute(model, steps, denoise).result[0]
    got = ays_sigmas(model, steps, denoise=denoise)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-6, atol=0)


@pytest.mark.parametrize("steps, denoise", [(10, 0.5), (10, 0.3), (20, 0.6), (20, 1.0)])
def test_ksampler_denoise_rule_equals_comfy(sd15_ms, steps, denoise):
    ref = csamplers.KSampler.__new__(csamplers.KSampler)
    ref.model = type("Patcher", (), {"get_model_object": lambda self, name: sd15_ms})()
    ref.scheduler, ref.sampler, ref.device = "karras", "euler", "cpu"
    ref.set_steps(steps, denoise)
    got = ksampler_denoise_sigmas(lambda n: csamplers.calculate_sigmas(sd15_ms, "karras", n), steps, denoise)
    assert torch.equal(got, ref.sigmas)


def test_ays_slice_equals_split_sigmas_denoise_rule():
    sig = ays_sigmas("SD1", 20, denoise=1.0)
    high, low = SplitSigmasDenoise.execute(sig, 0.4).result
    ours = ays_denoise_slice(sig, 20, 0.4)
    assert torch.equal(ours[:-1], low[:-1])
