"""AC-RF core formulas against the technical report (v1.1) and hand-derived values: SNR table (§3.1), Min-SNR clamp
(§3.2, §3.4), anchor sampling (§2.2, Appendix B), jitter bounds, cosine LR (§6.2)."""
import math

import pytest
import torch

from forgeline.training import (AnchorError, anchor_indices, anchor_set, cosine_lr, fraction_to_sigma, jitter,
                                min_snr_weight, sample_anchor_sigmas, sigma_to_fraction, snr, stratified_indices)

# §2.1: the Z-Image-Turbo anchors (FlowMatchEulerDiscreteScheduler(shift=3), K=10), as printed in the report
REPORT_ANCHORS = [1.000, 0.960, 0.913, 0.858, 0.790, 0.707, 0.602, 0.465, 0.278, 0.009]


# -- SNR and weights ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sigma,value,tol", [(0.1, 81.0, 1e-9), (0.3, 5.44, 0.005), (0.5, 1.0, 1e-12),
                                             (0.7, 0.18, 0.005), (0.9, 0.012, 0.0005)])
def test_flow_snr_matches_report_table(sigma, value, tol):
    assert abs(float(snr(torch.tensor(sigma, dtype=torch.float64), "flow")) - value) <= tol


def test_flow_snr_exact_values():
    s = torch.tensor([0.3, 0.7, 0.9], dtype=torch.float64)
    assert torch.allclose(snr(s, "flow"), torch.tensor([49 / 9, 9 / 49, 1 / 81], dtype=torch.float64))


def test_eps_snr_is_inverse_sigma_squared():
    s = torch.tensor([0.1, 0.5, 2.0, 14.6146], dtype=torch.float64)
    assert torch.allclose(snr(s, "eps"), 1.0 / s ** 2)


def test_min_snr_weight_clamp_flow():
    s = torch.tensor([0.1, 0.2, 0.3, 0.5, 0.9], dtype=torch.float64)
    # SNR 81 -> 5/81 = 0.0617 -> clamped 0.1; 16 -> 5/16; 49/9 -> 45/49; 1 -> 1; 1/81 -> 1
    want = torch.tensor([0.1, 5 / 16, 45 / 49, 1.0, 1.0], dtype=torch.float64)
    assert torch.allclose(min_snr_weight(s, 5.0, "flow"), want)


def test_min_snr_weight_clamp_eps_and_disabled():
    s = torch.tensor([0.1, 0.4, 0.5, 3.0], dtype=torch.float64)
    # SNR 100 -> 0.05 -> 0.1; 6.25 -> 0.8; 4 -> 1; 1/9 -> 1
    assert torch.allclose(min_snr_weight(s, 5.0, "eps"), torch.tensor([0.1, 0.8, 1.0, 1.0], dtype=torch.float64))
    assert torch.equal(min_snr_weight(s, 0.0, "eps"), torch.ones(4, dtype=torch.float64))
    w = min_snr_weight(torch.linspace(0.001, 0.999, 999, dtype=torch.float64), 5.0, "flow")
    assert float(w.min()) == pytest.approx(0.1) and float(w.max()) == 1.0


# -- anchors -----------------------------------------------------------------------------------------------------
def test_anchor_set_drops_final_zero_and_names_input():
    a = anchor_set(torch.tensor(REPORT_ANCHORS + [0.0]))
    assert a.tolist() == pytest.approx(REPORT_ANCHORS)
    with pytest.raises(AnchorError, match="sigmas"):
        anchor_set(torch.tensor([]), "sigmas")
    with pytest.raises(AnchorError, match="steps"):
        anchor_set(torch.tensor([1.0, 0.0]), "steps")
    with pytest.raises(AnchorError, match="no schedule"):
        anchor_set(None)


def test_stratified_indices_formula():
    assert stratified_indices(4, 3).tolist() == [0, 0, 1, 2]          # floor(i*3/4)
    assert stratified_indices(10, 10).tolist() == list(range(10))
    assert stratified_indices(7, 2).tolist() == [0, 0, 0, 0, 1, 1, 1]   # floor(2i/7)


@pytest.mark.parametrize("b,k", [(10, 10), (16, 10), (25, 10), (13, 4), (4, 4)])
def test_stratified_coverage_b_ge_k(b, k):
    idx = anchor_indices(b, k)
    counts = torch.bincount(idx, minlength=k)
    assert (counts >= 1).all(), "every anchor is hit when B >= K"
    assert set(counts.tolist()) <= {b // k, -(-b // k)}
    assert idx.tolist() == sorted(idx.tolist())


def test_no_replacement_b_lt_k():
    gen = torch.Generator().manual_seed(0)
    seen = torch.zeros(10, dtype=torch.long)
    for _ in range(300):
        idx = anchor_indices(4, 10, gen)
        assert len(set(idx.tolist())) == 4, "B < K draws distinct anchors"
        seen += torch.bincount(idx, minlength=10)
    assert (seen > 0).all()
    # without replacement each anchor is picked with probability B/K = 0.4 per draw: 120 of 300 expected
    assert seen.min() > 80 and seen.max() < 160


def test_uniform_jitter_bounds():
    gen = torch.Generator().manual_seed(1)
    a = torch.tensor(REPORT_ANCHORS * 200, dtype=torch.float64)
    v = jitter(a, 0.02, "uniform", gen)
    assert ((v - a).abs() <= 0.02 + 1e-12).sum() >= a.numel() - 200    # all but the clamped anchor 1.0
    assert float(v.max()) <= 1 - 1e-6 and float(v.min()) >= 1e-6
    assert float((v - a)[a < 0.95].abs().max()) > 0.019               # the full range is used


def test_gaussian_jitter_bounds_and_scale():
    gen = torch.Generator().manual_seed(2)
    a = torch.full((20000,), 0.5, dtype=torch.float64)
    v = jitter(a, 0.02, "gaussian", gen)
    assert float((v - a).std()) == pytest.approx(0.02, rel=0.03)
    edge = jitter(torch.tensor([1.0, 0.009, 0.0] * 1000, dtype=torch.float64), 0.02, "gaussian", gen)
    assert float(edge.min()) >= 0.001 and float(edge.max()) <= 0.999
    assert (edge == 0.999).any() and (edge == 0.001).any()


def test_default_jitter_is_appendix_b_gaussian():
    gen = torch.Generator().manual_seed(3)
    s, idx = sample_anchor_sigmas(REPORT_ANCHORS, 10, generator=gen)
    assert idx.tolist() == list(range(10))
    assert float(s.max()) <= 0.999 and float(s.min()) >= 0.001
    assert float((s - torch.tensor(REPORT_ANCHORS, dtype=torch.float64)).abs().max()) < 0.1


def _sd15_sigmas():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    ac = torch.cumprod(1.0 - betas, 0)
    return ((1 - ac) / ac) ** 0.5


def test_eps_time_fraction_mapping():
    table = _sd15_sigmas()
    assert float(fraction_to_sigma(torch.tensor(1.0), table)) == pytest.approx(float(table[-1]))
    assert float(fraction_to_sigma(torch.tensor(0.0), table)) == pytest.approx(float(table[0]))
    # u = 0.5 -> t = 499.5: half way in log sigma between entries 499 and 500 (ComfyUI ModelSamplingDiscrete.sigma)
    mid = math.exp(0.5 * (math.log(table[499]) + math.log(table[500])))
    assert float(fraction_to_sigma(torch.tensor(0.5), table)) == pytest.approx(mid, rel=1e-12)
    s = torch.tensor([14.6146, 5.4784, 1.0, 0.2014, 0.0292], dtype=torch.float64)
    assert torch.allclose(fraction_to_sigma(sigma_to_fraction(s, table), table), s, rtol=1e-10)
    assert float(sigma_to_fraction(table[250], table)) == pytest.approx(250 / 999)


def test_eps_anchor_sampling_stays_near_anchors():
    table = _sd15_sigmas()
    karras = torch.tensor([14.6146, 9.1029, 5.4784, 3.1686, 1.7494, 0.9141, 0.4469, 0.2014, 0.0819, 0.0292],
                          dtype=torch.float64)
    gen = torch.Generator().manual_seed(4)
    s, idx = sample_anchor_sigmas(karras, 10, 0.02, "uniform", gen, sigma_table=table)
    du = (sigma_to_fraction(s, table) - sigma_to_fraction(karras, table)).abs()
    assert float(du.max()) <= 0.02 + 1e-9
    with pytest.raises(AnchorError, match="sigma table"):
        sample_anchor_sigmas(karras, 4)


# -- cosine LR ---------------------------------------------------------------------------------------------------
def test_cosine_lr_endpoints_and_midpoint():
    assert cosine_lr(0, 100) == pytest.approx(1e-4, rel=1e-12)
    assert cosine_lr(100, 100) == pytest.approx(1e-6, rel=1e-12)
    assert cosine_lr(50, 100) == pytest.approx((1e-4 + 1e-6) / 2, rel=1e-12)
    assert cosine_lr(25, 100) == pytest.approx(1e-6 + 0.5 * 99e-6 * (1 + math.sqrt(0.5)), rel=1e-12)
    assert cosine_lr(30, 30, 5e-4, 1e-5) == pytest.approx(1e-5)
