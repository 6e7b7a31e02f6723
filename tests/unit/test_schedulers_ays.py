"""Align Your Steps vs the published tables (NVIDIA AYS how-to), ComfyUI 0.3.75 node values, Forge/reForge values and an
independent float64 re-derivation of the log-linear rule."""
import math

import numpy as np
import pytest
import torch

from forgeline.schedulers import (FORGE_AYS, FORGE_AYS_32, NOISE_LEVELS, ays_sigmas,
                                  loglinear_interp)


def np_interp_reference(levels, num):
    """ComfyUI ``nodes_align_your_steps.loglinear_interp`` as written: np.interp on the reversed log levels over
    linspace(0, 1) grids, reversed back."""
    xs = np.linspace(0, 1, len(levels))
    ys = np.log(np.asarray(levels, dtype=np.float64)[::-1])
    return np.exp(np.interp(np.linspace(0, 1, num), xs, ys))[::-1]


def sd15_sigma_at(timesteps):
    betas = np.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=np.float64) ** 2
    ac = np.cumprod(1.0 - betas)
    return np.sqrt((1 - ac) / ac)[timesteps]


def test_sd1_table_is_model_sigma_at_published_timesteps():
    # SD1.5 levels are σ at the NVIDIA AYS how-to's sampling_schedule timesteps 999 … 24, 0
    ref = sd15_sigma_at([999, 850, 736, 645, 545, 455, 343, 233, 124, 24, 0])
    np.testing.assert_allclose(NOISE_LEVELS["SD1"], ref, rtol=1e-8)


def test_webui_tables_equal_diffusers_ays_lists_and_track_published_levels():
    # huggingface/diffusers schedulers/scheduling_utils.py AysSchedules carries the same 3-decimal lists as A1111/Forge
    # (σ_min replaced by 0 there)
    diffusers = {"SD1": [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152],
                 "SDXL": [14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113]}
    for model in ("SD1", "SDXL"):
        assert list(FORGE_AYS[model][:-1]) == diffusers[model]
        assert FORGE_AYS[model][-1] == 0.029
        np.testing.assert_allclose(FORGE_AYS[model], NOISE_LEVELS[model], rtol=1e-3, atol=2e-3)  # close, not exact roundings


def test_comfy_sd1_10_steps_is_published_list_with_zero():
    # ComfyUI AlignYourStepsScheduler float32 values
    ref = [14.614641, 6.474576, 3.863675, 2.694615, 1.884192, 1.394380, 0.964258, 0.652369, 0.397746, 0.151523, 0]
    got = ays_sigmas("SD1", 10)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-6)


@pytest.mark.parametrize("steps, ref", [
    (1, [14.6146, 0.0]),
    (2, [14.6146, 1.39438, 0.0]),
    (4, [14.6146, 3.22663, 1.39438, 0.50939, 0.0]),
])
def test_comfy_small_step_counts(steps, ref):
    np.testing.assert_allclose(ays_sigmas("SD1", steps).numpy(), ref, atol=1e-4)


@pytest.mark.parametrize("model", ["SD1", "SDXL", "SVD"])
@pytest.mark.parametrize("steps", [3, 11, 20, 25, 32])
def test_comfy_interpolated_matches_reference_rule(model, steps):
    ref = np_interp_reference(NOISE_LEVELS[model], steps + 1)
    ref[-1] = 0.0
    got = ays_sigmas(model, steps).double().numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=0)


def test_comfy_denoise_keeps_round_steps_times_denoise():
    # docs/DERIVATIONS.md, 'Denoise slicing': AYS "10 steps, denoise 0.5" runs 5 steps: the tail of the 10-step list,
    # last forced to 0
    full = ays_sigmas("SD1", 10)
    got = ays_sigmas("SD1", 10, denoise=0.5)
    assert got.shape == (6,)
    np.testing.assert_allclose(got[:-1].numpy(), full[5:10].numpy())
    assert float(got[-1]) == 0.0
    assert ays_sigmas("SDXL", 20, denoise=0.0).numel() == 0


def test_forge_sd1_10_steps():
    # Forge modules/sd_schedulers.py SD1 at n = 10 (not the published 10-step schedule)
    ref = [14.615, 6.1135, 3.5651, 2.3939, 1.6500, 1.1358, 0.7425, 0.4450, 0.1692, 0.029, 0]
    for variant in ("a1111", "11"):
        np.testing.assert_allclose(ays_sigmas("SD1", 10, variant=variant).numpy(), ref, atol=5e-5)


@pytest.mark.parametrize("model", ["SD1", "SDXL"])
def test_forge_11_steps_uses_levels_verbatim_plus_zero(model):
    got = ays_sigmas(model, 11, variant="11").double().numpy()
    np.testing.assert_allclose(got, list(FORGE_AYS[model]) + [0.0], rtol=1e-7)


@pytest.mark.parametrize("model", ["SD1", "SDXL"])
def test_forge_32_head_is_interpolated_11_and_tail_is_steeper(model):
    # Forge ays_32_sigmas: entries 0–27 equal loglinear_interp(AYS11, 32) (~1e-8); the last 4 are scaled by
    # ×0.979, ×0.791, ×0.640, ×0.517 and end at 0.015
    interp = np_interp_reference(FORGE_AYS[model], 32)
    table = np.asarray(FORGE_AYS_32[model])
    np.testing.assert_allclose(table[:28], interp[:28], rtol=1e-7)
    np.testing.assert_allclose(table[28:] / interp[28:], [0.979, 0.791, 0.640, 0.517], atol=1e-3)
    got = ays_sigmas(model, 32, variant="32").double().numpy()
    np.testing.assert_allclose(got, list(table) + [0.0], rtol=1e-7)
    assert got[-2] == pytest.approx(0.015, rel=1e-7)


def test_forge_interpolates_n_points_then_appends_zero():
    got = ays_sigmas("SDXL", 20, variant="a1111").double().numpy()
    ref = np.append(np_interp_reference(FORGE_AYS["SDXL"], 20), 0.0)
    assert got.shape == (21,)
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    assert got[-2] == pytest.approx(0.029, rel=1e-6)  # σ_min stays a real step


def test_forge_denoise_follows_a1111_img2img_rule():
    # A1111 setup_img2img_steps (docs/DERIVATIONS.md, 'Denoise slicing'): 20 steps at 0.5 → t_enc = 10 → runs 11 steps
    # starting at σ_9
    full = ays_sigmas("SD1", 20, variant="a1111")
    got = ays_sigmas("SD1", 20, variant="a1111", denoise=0.5)
    assert torch.equal(got, full[9:])


def test_reforge_is_sigma_max_over_ratios():
    got = ays_sigmas("SD1", 11, variant="reforge", sigma_max=14.614641189575195).double().numpy()
    assert got[0] == pytest.approx(14.614641189575195, rel=1e-7)
    assert got[1] == pytest.approx(14.614641189575195 / 2.257, rel=1e-6)
    assert got[-2] == pytest.approx(0.029, rel=1e-6) and got[-1] == 0.0
    # it scales with the model σ_max
    scaled = ays_sigmas("SD1", 11, variant="reforge", sigma_max=2 * 14.614641189575195).double().numpy()
    assert scaled[1] == pytest.approx(2 * got[1], rel=1e-6)




def test_loglinear_interp_hand_values():
    got = loglinear_interp([math.e ** 2, 1.0], 3)
    np.testing.assert_allclose(got, [math.e ** 2, math.e, 1.0], rtol=1e-12)
    got = loglinear_interp([8.0, 2.0, 1.0], 5)  # halfway in log between 8 and 2 is 4, between 2 and 1 is √2
    np.testing.assert_allclose(got, [8.0, 4.0, 2.0, math.sqrt(2.0), 1.0], rtol=1e-12)
    np.testing.assert_allclose(loglinear_interp([5.0, 1.0], 1), [1.0])  # one point: σ_min, as np.interp gives


@pytest.mark.parametrize("call, words", [
    (lambda: ays_sigmas("SD3", 10), "model_type"),
    (lambda: ays_sigmas("SD1", 10, variant="fancy"), "variant"),
    (lambda: ays_sigmas("SVD", 10, variant="a1111"), "SVD"),
    (lambda: ays_sigmas("SD1", 0), "steps"),
    (lambda: loglinear_interp([1.0, -1.0], 3), "> 0"),
])
def test_ays_bad_input_raises_clear_error(call, words):
    with pytest.raises(ValueError, match=words):
        call()
