"""Euler a / DPM++ 2S a on a closed-form toy problem (docs/DERIVATIONS.md, 'Toy sampler problem'): data x0 ~ N(M, I), so
the exact denoiser is D(x, σ) = (x + σ²M)/(1 + σ²) (EPS) and M + α/(α²+σ²)·(x − αM), α = 1 − σ (flow).

Checked against (a) reference numbers from running ComfyUI 0.3.75's ``comfy/k_diffusion/sampling.py`` (bit-equal to
crowsonkb/k-diffusion 0.1.1.post1 there) and (b) an independent float64 re-derivation of the k-diffusion / ComfyUI
``_RF`` step formulas written below, with a shared deterministic noise sampler."""
import math

import pytest
import torch

from forgeline.samplers import (A1111ImageRNG, get_ancestral_step, is_flow_model, sample_dpmpp_2s_ancestral,
                                sample_euler_ancestral)
from forgeline.schedulers import karras_sigmas

SHAPE = (1, 4, 8, 8)
M = torch.linspace(-1.0, 1.0, 256).reshape(SHAPE)
SIGMAS = karras_sigmas(10, 0.029167158529162407, 14.614641189575195)
NOISE = torch.randn(SHAPE, generator=torch.manual_seed(42))
X_INIT = NOISE * SIGMAS[0]


def eps_denoiser(x, sigma, **kwargs):
    s = sigma.reshape(-1, 1, 1, 1).to(x.dtype)
    return (x + s * s * M.to(x.dtype)) / (1 + s * s)


def flow_denoiser(x, sigma, **kwargs):
    s = sigma.reshape(-1, 1, 1, 1).to(x.dtype)
    a = 1 - s
    m = M.to(x.dtype)
    return m + a / (a * a + s * s) * (x - a * m)


class Counting:
    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, x, sigma, **kwargs):
        self.calls += 1
        return self.fn(x, sigma)


def fixed_noises(count, seed=7):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(SHAPE, generator=g) for _ in range(count)]


def sampler_from(noises):
    it = iter(noises)
    return lambda sigma, sigma_next: next(it)


# ---------------------------------------------------------------- float64 re-derivations (k-diffusion, ComfyUI _RF)
def split64(s, sn, eta):
    if eta == 0:
        return sn, 0.0
    up = min(sn, eta * math.sqrt(sn ** 2 * (s ** 2 - sn ** 2) / s ** 2))
    return math.sqrt(sn ** 2 - up ** 2), up


def den64(x, s):
    return (x + s * s * M.double()) / (1 + s * s)


def euler_a_64(x, sig, eta, s_noise, noises):
    x, k = x.double(), 0
    for s, sn in zip(sig[:-1], sig[1:]):
        d = den64(x, s)
        down, up = split64(s, sn, eta)
        x = (down / s) * x + (1 - down / s) * d
        if sn > 0:
            x = x + s_noise * up * noises[k].double()
            k += 1
    return x


def dpmpp_2s_a_64(x, sig, eta, s_noise, noises):
    x, k = x.double(), 0
    for s, sn in zip(sig[:-1], sig[1:]):
        d = den64(x, s)
        down, up = split64(s, sn, eta)
        if down == 0:
            x = d
        else:
            mid = math.sqrt(s * down)                         # σ_mid: log-midpoint
            x2 = (mid / s) * x + (1 - mid / s) * d
            x = (down / s) * x + (1 - down / s) * den64(x2, mid)
        if sn > 0:
            x = x + s_noise * up * noises[k].double()
            k += 1
    return x


def flow_den64(x, s):
    a = 1 - s
    return M.double() + a / (a * a + s * s) * (x - a * M.double())


def flow_64(kind, x, sig, eta, noises):
    x, k = x.double(), 0
    for s, sn in zip(sig[:-1], sig[1:]):
        d = flow_den64(x, s)
        if sn == 0:
            x = d
            continue
        down = sn * (1 + (sn / s - 1) * eta)
        a_next, a_down = 1 - sn, 1 - down
        renoise = math.sqrt(sn ** 2 - down ** 2 * a_next ** 2 / a_down ** 2)
        if kind == "euler":
            x = (down / s) * x + (1 - down / s) * d
        else:
            lam = lambda v: math.log((1 - v) / v)
            mid = 0.9999 if s == 1.0 else 1 / (math.exp(lam(s) + (lam(down) - lam(s)) / 2) + 1)
            u = (mid / s) * x + (1 - mid / s) * d
            x = (down / s) * x + (1 - down / s) * flow_den64(u, mid)
        if eta > 0:
            x = (a_next / a_down) * x + renoise * noises[k].double()
            k += 1
    return x


SIG64 = [float(v) for v in SIGMAS]


# ---------------------------------------------------------------- (a) ComfyUI 0.3.75 reference numbers
REF_A = {  # first 6 values and sum of final x, ComfyUI 0.3.75 float32, extra_args={"seed": 42}
    ("euler", 1.0, 1.0): ([-1.7673767, -1.4253434, -2.0451674, -1.7980834, -0.7772544, -1.3145009], -1.8265264),
    ("2s", 1.0, 1.0): ([-1.8519951, -1.5571015, -2.4287605, -2.2229197, -0.7278128, -1.4043045], -0.5319386),
    ("euler", 0.0, 1.0): ([0.6812173, 0.3181872, -0.1686466, -2.6942275, -0.3411672, -1.9455856], 13.5979929),
    ("2s", 0.0, 1.0): ([0.9394823, 0.5194797, -0.0433455, -2.9581051, -0.2447781, -2.0968680], 15.6868906),
    ("euler", 1.0, 0.5): ([-1.3157414, -1.1557920, -1.4817755, -1.4567009, -0.8475820, -1.1774440], -0.3636963),
    ("2s", 1.0, 0.5): ([-1.3185251, -1.1908644, -1.6543953, -1.7095034, -0.8081096, -1.2454985], 0.6032867),
}
FUNCS = {"euler": sample_euler_ancestral, "2s": sample_dpmpp_2s_ancestral}


def test_toy_initial_noise_matches_reference():
    assert NOISE.flatten()[:6].tolist() == pytest.approx(
        [1.9269153, 1.4872841, 0.9007172, -2.1055210, 0.6784185, -1.2345449], abs=1e-6)
    assert float(X_INIT.sum()) == pytest.approx(235.86102, abs=1e-3)


@pytest.mark.parametrize("key", list(REF_A))
def test_matches_comfyui_reference_numbers(key):
    kind, eta, s_noise = key
    x = FUNCS[kind](eps_denoiser, X_INIT.clone(), SIGMAS, extra_args={"seed": 42}, disable=True, eta=eta,
                    s_noise=s_noise)
    first6, total = REF_A[key]
    assert x.flatten()[:6].tolist() == pytest.approx(first6, abs=1e-5)
    assert float(x.sum()) == pytest.approx(total, abs=2e-5)


def test_eta0_2s_is_closer_to_exact_ode_endpoint_than_euler():
    # exact PF-ODE endpoint of the toy M + (x_T − M)/√(1+σ0²), sum 16.1010265
    exact = M + (X_INIT - M) / math.sqrt(1 + float(SIGMAS[0]) ** 2)
    assert float(exact.sum()) == pytest.approx(16.1010265, abs=1e-4)
    e = sample_euler_ancestral(eps_denoiser, X_INIT.clone(), SIGMAS, disable=True, eta=0.0)
    d = sample_dpmpp_2s_ancestral(eps_denoiser, X_INIT.clone(), SIGMAS, disable=True, eta=0.0)
    assert (d - exact).abs().max() < (e - exact).abs().max()


@pytest.mark.parametrize("kind, ensd, total", [("euler", 0, -5.5576739), ("euler", 31337, 1.9733886),
                                                ("2s", 0, -5.4565969), ("2s", 31337, 0.6379304)])
def test_a1111_cpu_rng_emulation_reference(kind, ensd, total):
    # A1111 CPU RNG emulation (modules/rng.py ImageRNG + upstream k-diffusion), one generator per image, x_T = noise·σ0,
    # ancestral draws continue or re-seed by ENSD
    rng = A1111ImageRNG((4, 8, 8), [42], source="CPU", eta_noise_seed_delta=ensd)
    x = rng.next() * SIGMAS[0]
    x = FUNCS[kind](eps_denoiser, x, SIGMAS, disable=True, noise_sampler=rng.noise_sampler())
    assert float(x.sum()) == pytest.approx(total, abs=2e-5)


# ---------------------------------------------------------------- (b) float64 re-derivation, shared noise
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("s_noise", [0.5, 1.0])
@pytest.mark.parametrize("kind", ["euler", "2s"])
def test_step_math_matches_float64_rederivation(kind, eta, s_noise):
    noises = fixed_noises(len(SIGMAS))
    x = FUNCS[kind](eps_denoiser, X_INIT.clone(), SIGMAS, disable=True, eta=eta, s_noise=s_noise,
                    noise_sampler=sampler_from(noises))
    ref = (euler_a_64 if kind == "euler" else dpmpp_2s_a_64)(X_INIT, SIG64, eta, s_noise, noises)
    assert (x.double() - ref).abs().max() < 2e-5


@pytest.mark.parametrize("kind", ["euler", "2s"])
def test_eta_above_one_follows_upstream_kdiffusion(kind):
    # get_ancestral_step clips σ_up at σ_next: at η = 2 σ_down = 0 on every Karras(10) step; upstream (A1111) still adds
    # σ_up = σ_next noise
    assert all(float(get_ancestral_step(SIGMAS[i], SIGMAS[i + 1], 2.0)[0]) == 0 for i in range(10))
    noises = fixed_noises(len(SIGMAS))
    x = FUNCS[kind](eps_denoiser, X_INIT.clone(), SIGMAS, disable=True, eta=2.0, noise_sampler=sampler_from(noises))
    ref = (euler_a_64 if kind == "euler" else dpmpp_2s_a_64)(X_INIT, SIG64, 2.0, 1.0, noises)
    assert (x.double() - ref).abs().max() < 2e-5
    assert not torch.allclose(x, M, atol=1e-3)  # not ComfyUI's noise-free quirk (which returns exactly M)


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("kind", ["euler", "2s"])
def test_flow_branch_matches_float64_rederivation(kind, eta):
    t = torch.linspace(1.0, 0.1, 10, dtype=torch.float64)
    sig = torch.cat([3 * t / (1 + 2 * t), torch.zeros(1, dtype=torch.float64)]).float()  # shift-3 "simple"
    noises = fixed_noises(len(sig))
    x = FUNCS[kind](flow_denoiser, NOISE.clone(), sig, disable=True, eta=eta, noise_sampler=sampler_from(noises),
                    flow=True)
    ref = flow_64(kind, NOISE, [float(v) for v in sig], eta, noises)
    assert (x.double() - ref).abs().max() < 2e-5


FLOW_REF = {("euler", 1.0): -3.4573793, ("euler", 0.0): 13.4439049, ("2s", 1.0): -4.1730866, ("2s", 0.0): 15.0332966}


@pytest.mark.parametrize("key", list(FLOW_REF))
def test_flow_branch_matches_comfyui_reference_sums(key):
    # ComfyUI 0.3.75 _RF branch: σ = shift-3 "simple" 10 steps, x_T = noise (σ0 = 1), seed 42 default noise;
    # dispatch by model_sampling
    class CONST:
        pass

    class ModelSamplingFlow(CONST):
        pass

    class Wrapped:
        def __init__(self):
            self.inner_model = type("Guider", (), {})()
            self.inner_model.inner_model = type("Base", (), {"model_sampling": ModelSamplingFlow()})()

        def __call__(self, x, sigma, **kwargs):
            return flow_denoiser(x, sigma)

    model = Wrapped()
    assert is_flow_model(model)
    t = torch.linspace(1.0, 0.1, 10, dtype=torch.float64)
    sig = torch.cat([3 * t / (1 + 2 * t), torch.zeros(1, dtype=torch.float64)]).float()
    assert [round(float(v), 6) for v in sig[:4]] == [1.0, 0.964286, 0.923077, 0.875]
    kind, eta = key
    x = FUNCS[kind](model, NOISE.clone(), sig, extra_args={"seed": 42}, disable=True, eta=eta)
    assert float(x.sum()) == pytest.approx(FLOW_REF[key], abs=1e-4)


# ---------------------------------------------------------------- structure: NFE, callback, noise draws
def test_model_call_counts():
    for steps in (1, 4, 10):
        sig = karras_sigmas(steps, 0.0291675, 14.614642)
        e, d = Counting(eps_denoiser), Counting(eps_denoiser)
        sample_euler_ancestral(e, X_INIT.clone(), sig, disable=True)
        sample_dpmpp_2s_ancestral(d, X_INIT.clone(), sig, disable=True)
        assert e.calls == steps
        assert d.calls == 2 * steps - 1  # last step is Euler to 0 (k-diffusion sigma_down == 0 branch)


def test_schedule_not_ending_in_zero_noises_every_step():
    sig = SIGMAS[:6]  # 5 steps, last level > 0 (KSamplerAdvanced leftover noise)
    draws = []

    def noise_sampler(s, sn):
        draws.append((float(s), float(sn)))
        return torch.zeros(SHAPE)

    d = Counting(eps_denoiser)
    sample_dpmpp_2s_ancestral(d, X_INIT.clone(), sig, disable=True, noise_sampler=noise_sampler)
    assert d.calls == 10 and len(draws) == 5
    assert draws[-1] == (float(sig[4]), float(sig[5]))


def test_noise_drawn_on_each_non_final_step_even_at_eta0():
    # k-diffusion and ComfyUI: the RNG stream advances at η = 0 as well (noise × 0)
    for f in FUNCS.values():
        draws = []
        f(eps_denoiser, X_INIT.clone(), SIGMAS, disable=True, eta=0.0,
          noise_sampler=lambda s, sn: draws.append(1) or torch.ones(SHAPE))
        assert len(draws) == 9


def test_callback_mirrors_kdiffusion():
    seen = []
    x = sample_euler_ancestral(eps_denoiser, X_INIT.clone(), SIGMAS, disable=True, callback=seen.append,
                               noise_sampler=lambda s, sn: torch.zeros(SHAPE))
    assert [c["i"] for c in seen] == list(range(10))
    assert all(set(c) == {"x", "i", "sigma", "sigma_hat", "denoised"} for c in seen)
    assert float(seen[3]["sigma"]) == float(SIGMAS[3]) and float(seen[3]["sigma_hat"]) == float(SIGMAS[3])
    assert torch.equal(x, seen[-1]["denoised"])  # last step lands on D


def test_interrupt_raised_from_callback_propagates():
    class Interrupted(Exception):
        pass

    def callback(info):
        if info["i"] == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        sample_dpmpp_2s_ancestral(eps_denoiser, X_INIT.clone(), SIGMAS, disable=True, callback=callback)


def test_plain_callable_is_not_flow():
    assert not is_flow_model(eps_denoiser)
