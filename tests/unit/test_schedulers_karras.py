"""Karras schedule vs ComfyUI 0.3.75's float32 numbers (``comfy/samplers.py`` ``calculate_sigmas``) and a float64
re-derivation of the formula."""
import numpy as np
import pytest
import torch

from forgeline.schedulers import karras_sigmas

# ComfyUI comfy/model_sampling.py ModelSamplingDiscrete: float32 buffer values of the SD1.5 model σ_min / σ_max
SD15_SIGMA_MIN = 0.029167158529162407
SD15_SIGMA_MAX = 14.614641189575195

# Karras(10), SD1.5, ComfyUI 0.3.75 calculate_sigmas(ms, "karras", 10), float32 (7 decimals)
KARRAS10_SD15 = [14.6146431, 9.1029291, 5.4783921, 3.1686049, 1.7494180, 0.9140727, 0.4469184, 0.2013984,
                 0.0819103, 0.0291672, 0.0]


def sd15_sigmas_float64():
    """ComfyUI ``ModelSamplingDiscrete._register_schedule`` re-derived:
    β_t = (√0.00085 + (√0.012 − √0.00085)·t/999)², ᾱ = Π(1−β), σ = √((1−ᾱ)/ᾱ)."""
    betas = np.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=np.float64) ** 2
    alphas_cumprod = np.cumprod(1.0 - betas)
    return np.sqrt((1 - alphas_cumprod) / alphas_cumprod)


def karras_float64(n, lo, hi, rho=7.0):
    ramp = np.linspace(0.0, 1.0, n)
    return np.append((hi ** (1 / rho) + ramp * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho, 0.0)


def test_sd15_sigma_range_matches_notes():
    sig = sd15_sigmas_float64()
    assert sig[0] == pytest.approx(0.029167158151720367, rel=1e-12)
    assert sig[-1] == pytest.approx(14.614641229333639, rel=1e-12)
    assert float(np.float32(sig[0])) == pytest.approx(SD15_SIGMA_MIN, rel=1e-7)
    assert float(np.float32(sig[-1])) == pytest.approx(SD15_SIGMA_MAX, rel=1e-7)


def test_karras10_equals_published_comfy_values():
    got = karras_sigmas(10, SD15_SIGMA_MIN, SD15_SIGMA_MAX)
    assert got.dtype == torch.float32 and got.shape == (11,)
    np.testing.assert_allclose(got.numpy(), KARRAS10_SD15, rtol=0, atol=1e-7)


def test_karras_float32_artefact_first_value():
    # (σ_max^(1/7))^7 in float32 is 14.614643096923828, slightly above the model σ_max
    got = karras_sigmas(10, SD15_SIGMA_MIN, SD15_SIGMA_MAX)
    assert float(got[0]) == pytest.approx(14.614643096923828, rel=1e-7)
    assert float(got[0]) > SD15_SIGMA_MAX


@pytest.mark.parametrize("n", [1, 2, 4, 10, 20, 25, 30])
def test_karras_matches_float64_rederivation(n):
    got = karras_sigmas(n, SD15_SIGMA_MIN, SD15_SIGMA_MAX).double().numpy()
    ref = karras_float64(n, SD15_SIGMA_MIN, SD15_SIGMA_MAX)
    assert got[-1] == 0.0
    np.testing.assert_allclose(got[:-1], ref[:-1], rtol=2e-6)  # float32 rounding of the ramp


def test_karras_single_step_goes_straight_to_zero():
    got = karras_sigmas(1, SD15_SIGMA_MIN, SD15_SIGMA_MAX)
    assert got.shape == (2,) and float(got[1]) == 0.0
    assert float(got[0]) == pytest.approx(SD15_SIGMA_MAX, rel=1e-6)


def test_karras_rho_changes_curvature():
    # rho = 1 is linear in σ: midpoint of 3 levels is the arithmetic mean
    got = karras_sigmas(3, 1.0, 3.0, rho=1.0)
    np.testing.assert_allclose(got.numpy(), [3.0, 2.0, 1.0, 0.0], atol=1e-6)


@pytest.mark.parametrize("args, words", [
    ((0, 0.03, 14.6), "steps"), ((10, 0.0, 14.6), "sigma_min"), ((10, 20.0, 14.6), "swap"),
    ((10, 0.03, 14.6, -1.0), "rho"), ((2.5, 0.03, 14.6), "whole"),
])
def test_karras_bad_input_raises_clear_error(args, words):
    with pytest.raises(ValueError, match=words):
        karras_sigmas(*args)
