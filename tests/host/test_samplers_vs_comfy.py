"""Forgeline Euler a / DPM++ 2S a == ComfyUI 0.3.75's (eps and _RF flow branches) on the toy denoiser."""
import pytest
import torch

import comfy.model_sampling as cms
import comfy.samplers as csamplers
from comfy.k_diffusion import sampling as ks

from forgeline.host.noise import with_host_noise
from forgeline.samplers import (get_ancestral_step, is_flow_model, sample_dpmpp_2s_ancestral,
                                sample_euler_ancestral)


SHAPE = (1, 4, 8, 8)
M = torch.linspace(-1.0, 1.0, 256).reshape(SHAPE)


class EPSDiscrete(cms.ModelSamplingDiscrete, cms.EPS):
    pass


class FlowMS(cms.ModelSamplingDiscreteFlow, cms.CONST):
    pass


class Holder:
    pass


class PatcherLike:
    """What ComfyUI 0.33's RF samplers read from ``model.inner_model.model_patcher``: ``get_model_object``."""

    def __init__(self, model_sampling):
        self.model_sampling = model_sampling

    def get_model_object(self, name):
        return getattr(self, name)


class ToyModel:
    """Shaped like ComfyUI's KSamplerX0Inpaint: ``model.inner_model.inner_model.model_sampling`` and
    ``model.inner_model.model_patcher``."""

    def __init__(self, model_sampling, flow):
        self.inner_model = Holder()
        self.inner_model.inner_model = Holder()
        self.inner_model.inner_model.model_sampling = model_sampling
        self.inner_model.model_patcher = PatcherLike(model_sampling)
        self.flow = flow

    def __call__(self, x, sigma, **kwargs):
        s = sigma.reshape(-1, 1, 1, 1)
        if self.flow:
            a = 1 - s
            return M + a / (a * a + s * s) * (x - a * M)
        return (x + s * s * M) / (1 + s * s)


@pytest.fixture(scope="module")
def eps_setup():
    ms = EPSDiscrete(None)
    return ToyModel(ms, flow=False), csamplers.calculate_sigmas(ms, "karras", 10)


@pytest.fixture(scope="module")
def flow_setup():
    ms = FlowMS(None)
    ms.set_parameters(shift=3.0)
    return ToyModel(ms, flow=True), csamplers.calculate_sigmas(ms, "simple", 10)


def shared_noise(count=32, seed=3):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(SHAPE, generator=g) for _ in range(count)]


def sampler_of(noises):
    it = iter(noises)
    return lambda s, sn: next(it)


PAIRS = [(sample_euler_ancestral, ks.sample_euler_ancestral), (sample_dpmpp_2s_ancestral, ks.sample_dpmpp_2s_ancestral)]


@pytest.mark.parametrize("ours, theirs", PAIRS)
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("s_noise", [0.5, 1.0])
def test_eps_equals_comfy_with_shared_noise(eps_setup, ours, theirs, eta, s_noise):
    model, sigmas = eps_setup
    x0 = torch.randn(SHAPE, generator=torch.manual_seed(42)) * sigmas[0]
    noises = shared_noise()
    a = ours(model, x0.clone(), sigmas, disable=True, eta=eta, s_noise=s_noise, noise_sampler=sampler_of(noises))
    b = theirs(model, x0.clone(), sigmas, disable=True, eta=eta, s_noise=s_noise, noise_sampler=sampler_of(noises))
    assert (a - b).abs().max() <= 1e-5


@pytest.mark.parametrize("ours, theirs", PAIRS)
@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_eps_equals_comfy_with_default_seeded_noise(eps_setup, ours, theirs, eta):
    """As registered in the dropdown (host/noise.py fills in the running host's default noise: ``seed`` on 0.3.75,
    ``seed + 1`` on CPU on 0.33.0) Forgeline's samplers equal the host's own."""
    model, sigmas = eps_setup
    x0 = torch.randn(SHAPE, generator=torch.manual_seed(42)) * sigmas[0]
    a = with_host_noise(ours)(model, x0.clone(), sigmas, extra_args={"seed": 42}, disable=True, eta=eta)
    b = theirs(model, x0.clone(), sigmas, extra_args={"seed": 42}, disable=True, eta=eta)
    assert (a - b).abs().max() <= 1e-5


@pytest.mark.parametrize("ours, theirs", PAIRS)
def test_eps_window_not_ending_in_zero(eps_setup, ours, theirs):
    model, sigmas = eps_setup
    window = sigmas[2:7]
    x0 = torch.randn(SHAPE, generator=torch.manual_seed(1)) * window[0]
    noises = shared_noise()
    a = ours(model, x0.clone(), window, disable=True, noise_sampler=sampler_of(noises))
    b = theirs(model, x0.clone(), window, disable=True, noise_sampler=sampler_of(noises))
    assert (a - b).abs().max() <= 1e-5


def test_euler_a_eta_above_one_differs_from_comfy_by_design(eps_setup):
    # Forgeline follows upstream k-diffusion/A1111 (noise added when σ_down = 0 < σ_next); ComfyUI drops it
    model, sigmas = eps_setup
    x0 = torch.randn(SHAPE, generator=torch.manual_seed(42)) * sigmas[0]
    theirs = ks.sample_euler_ancestral(model, x0.clone(), sigmas, extra_args={"seed": 42}, disable=True, eta=2.0)
    ours = with_host_noise(sample_euler_ancestral)(model, x0.clone(), sigmas, extra_args={"seed": 42}, disable=True,
                                                   eta=2.0)
    assert torch.allclose(theirs, M, atol=1e-5)
    assert not torch.allclose(ours, M, atol=1e-3)
    d2 = ks.sample_dpmpp_2s_ancestral(model, x0.clone(), sigmas, extra_args={"seed": 42}, disable=True, eta=2.0)
    ours2 = with_host_noise(sample_dpmpp_2s_ancestral)(model, x0.clone(), sigmas, extra_args={"seed": 42},
                                                       disable=True, eta=2.0)
    assert (d2 - ours2).abs().max() <= 1e-5  # 2S a has no such quirk in ComfyUI


@pytest.mark.parametrize("ours, theirs", PAIRS)
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_flow_branch_equals_comfy_rf(flow_setup, ours, theirs, eta):
    model, sigmas = flow_setup
    assert is_flow_model(model)
    x0 = model.inner_model.inner_model.model_sampling.noise_scaling(
        sigmas[0], torch.randn(SHAPE, generator=torch.manual_seed(42)), torch.zeros(SHAPE))
    noises = shared_noise()
    a = with_host_noise(ours)(model, x0.clone(), sigmas, disable=True, eta=eta, noise_sampler=sampler_of(noises))
    b = theirs(model, x0.clone(), sigmas, disable=True, eta=eta, noise_sampler=sampler_of(noises))
    assert (a - b).abs().max() <= 1e-5


@pytest.mark.parametrize("ours, theirs", PAIRS)
def test_flow_noise_scale_follows_the_host(flow_setup, ours, theirs):
    """A model_sampling with noise_scale 0.5: 0.33's RF samplers scale the ancestral noise by it, 0.3.75's ignore
    it; Forgeline's (as registered) equal whichever host runs."""
    model, sigmas = flow_setup
    ms = model.inner_model.inner_model.model_sampling
    ms.noise_scale = 0.5
    try:
        x0 = ms.noise_scaling(sigmas[0], torch.randn(SHAPE, generator=torch.manual_seed(42)), torch.zeros(SHAPE))
        noises = shared_noise()
        a = with_host_noise(ours)(model, x0.clone(), sigmas, disable=True, eta=1.0, noise_sampler=sampler_of(noises))
        b = theirs(model, x0.clone(), sigmas, disable=True, eta=1.0, noise_sampler=sampler_of(noises))
        assert (a - b).abs().max() <= 1e-5
    finally:
        del ms.noise_scale


def test_callbacks_match_comfy(eps_setup):
    model, sigmas = eps_setup
    x0 = torch.randn(SHAPE, generator=torch.manual_seed(42)) * sigmas[0]
    seen_a, seen_b = [], []
    with_host_noise(sample_dpmpp_2s_ancestral)(model, x0.clone(), sigmas, extra_args={"seed": 42}, disable=True,
                                               callback=seen_a.append)
    ks.sample_dpmpp_2s_ancestral(model, x0.clone(), sigmas, extra_args={"seed": 42}, disable=True,
                                 callback=seen_b.append)
    assert [set(c) for c in seen_a] == [set(c) for c in seen_b]
    for a, b in zip(seen_a, seen_b):
        assert a["i"] == b["i"] and float(a["sigma"]) == float(b["sigma"])
        assert (a["denoised"] - b["denoised"]).abs().max() <= 1e-5


def test_helpers_equal_comfy(eps_setup):
    _, sigmas = eps_setup
    for eta in (0.0, 0.5, 1.0, 2.0):
        for i in range(len(sigmas) - 1):
            ours = get_ancestral_step(sigmas[i], sigmas[i + 1], eta)
            theirs = ks.get_ancestral_step(sigmas[i], sigmas[i + 1], eta)
            assert float(ours[0]) == pytest.approx(float(theirs[0]), abs=1e-6)
            assert float(ours[1]) == pytest.approx(float(theirs[1]), abs=1e-6)




