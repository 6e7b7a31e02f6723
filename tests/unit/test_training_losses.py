"""AC-RF loss terms (technical report v1.1 §4.1-§4.3, §4A.2-§4A.4) against hand-derived values."""
import math

import pytest
import torch

from forgeline.training import (LossWeights, acrf_loss, charbonnier, cosine_loss, fft_l1, frequency_loss, mode_loss,
                                split_frequencies, ssim, standard_loss, style_loss, unified_loss)
from forgeline.training.losses import mean_std_l1


def checkerboard(h=8, w=8):
    i = torch.arange(h)[:, None]
    j = torch.arange(w)[None, :]
    return ((i + j) % 2 * 2 - 1).double()[None, None]       # +-1, period 2


def test_charbonnier_hand_value():
    pred = torch.tensor([[3.0, 0.0]], dtype=torch.float64)
    target = torch.zeros(1, 2, dtype=torch.float64)
    # element-wise sqrt(d^2 + 1e-6) - sqrt(1e-6): (sqrt(9.000001) - 0.001 + 0) / 2
    assert float(charbonnier(pred, target)) == pytest.approx((math.sqrt(9.000001) - 0.001) / 2, rel=1e-12)
    assert float(charbonnier(target, target)) == 0.0


def test_cosine_loss_hand_value():
    a = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    assert float(cosine_loss(a, b)) == pytest.approx(1 - 1 / math.sqrt(2), rel=1e-12)
    assert float(cosine_loss(a, -a)) == pytest.approx(2.0)


def test_fft_l1_hand_values():
    z = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    impulse = z.clone()
    impulse[..., 0, 0] = 1.0
    # orthonormal FFT of a unit impulse on 4x4: 1/sqrt(16) = 0.25 in every bin
    assert float(fft_l1(impulse, z)) == pytest.approx(0.25, rel=1e-6)
    # constant c: DC bin = 16c/4 = 4c, others 0 -> mean 4c/16 = c/4
    assert float(fft_l1(z + 2.0, z)) == pytest.approx(0.5, rel=1e-6)


def test_standard_composite_hand_value():
    pred = torch.full((1, 1, 4, 4), 2.0, dtype=torch.float64)
    target = torch.ones(1, 1, 4, 4, dtype=torch.float64)
    char = math.sqrt(1 + 1e-6) - 1e-3
    # lambda 1.0 / 0.1 / 0.1: cos(2*1, 1) = 1 -> 0; FFT-L1 of a constant 1 on 4x4 = 1/4
    assert float(standard_loss(pred, target)) == pytest.approx(char + 0.1 * 0 + 0.1 * 0.25, rel=1e-6)
    w = LossWeights(charbonnier=0.0, cosine=1.0, fft=0.0)
    a = torch.tensor([[[[1.0, 0.0]]]], dtype=torch.float64)
    assert float(standard_loss(a, torch.tensor([[[[0.0, 1.0]]]], dtype=torch.float64), w)) == pytest.approx(1.0)


def test_split_frequencies():
    const = torch.full((1, 1, 8, 8), 3.0, dtype=torch.float64)
    low, high = split_frequencies(const)
    assert torch.allclose(low, const) and torch.allclose(high, torch.zeros_like(const))
    cb = checkerboard()
    low, high = split_frequencies(cb)                   # 4x4 average of a period-2 checkerboard is 0
    assert torch.allclose(low, torch.zeros_like(cb)) and torch.allclose(high, cb)
    with pytest.raises(ValueError, match="pool factor"):
        split_frequencies(torch.zeros(1, 1, 2, 2))


def test_frequency_loss_hand_value():
    x0 = torch.ones(1, 1, 8, 8, dtype=torch.float64)
    x0_hat = x0 + checkerboard()
    # MSE = 1; high-pass L1 = |cb| = 1; low parts both 1 -> 1 - cos = 0:  1 + alpha_hf * 1 + beta_lf * 0
    assert float(frequency_loss(x0_hat, x0)) == pytest.approx(2.0, rel=1e-9)
    assert float(frequency_loss(x0_hat, x0, LossWeights(alpha_hf=0.5))) == pytest.approx(1.5, rel=1e-9)
    # 2*x0: MSE 1, no high frequencies, low parts parallel -> 1
    assert float(frequency_loss(2 * x0, x0)) == pytest.approx(1.0, rel=1e-9)


def test_ssim_hand_values():
    a = torch.full((1, 1, 5, 5), 0.6, dtype=torch.float64)
    b = torch.full((1, 1, 5, 5), 0.2, dtype=torch.float64)
    c1 = 0.01 ** 2
    # window 1: mu = value, var = cov = 0 -> (2ab + C1) / (a^2 + b^2 + C1)
    assert float(ssim(a, b, window=1)) == pytest.approx((2 * 0.12 + c1) / (0.36 + 0.04 + c1), rel=1e-9)
    x = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.allclose(ssim(x, x), torch.ones(2, dtype=torch.float64))


def test_mean_std_l1_hand_value():
    pred = torch.tensor([0.0, 2.0, 0.0, 2.0], dtype=torch.float64).reshape(1, 1, 2, 2)   # mean 1, sd 1
    target = torch.ones(1, 1, 2, 2, dtype=torch.float64)                                # mean 1, sd 0
    assert float(mean_std_l1(pred, target)) == pytest.approx(1.0, rel=1e-6)
    assert float(mean_std_l1(target + 0.5, target)) == pytest.approx(0.5, rel=1e-6)


def test_style_terms_hand_values():
    x0 = torch.ones(1, 4, 8, 8, dtype=torch.float64)
    shift = x0.clone()
    shift[:, 0] += 0.5
    assert float(style_loss(shift, x0, LossWeights(struct=0, light=1, color=0, tex=0))) == pytest.approx(0.5)
    shift_ab = x0.clone()
    shift_ab[:, 1:4] += 0.3
    assert float(style_loss(shift_ab, x0, LossWeights(struct=0, light=0, color=1, tex=0))) == pytest.approx(0.3)
    tex = x0.clone()
    tex[:, :1] += checkerboard()
    assert float(style_loss(tex, x0, LossWeights(struct=0, light=0, color=0, tex=1))) == pytest.approx(1.0)
    assert float(style_loss(x0, x0)) == pytest.approx(0.0, abs=1e-9)


def test_unified_is_half_freq_plus_style_hand_value():
    x0 = torch.ones(1, 4, 8, 8, dtype=torch.float64)
    x0_hat = x0.clone()
    x0_hat[:, :1] += checkerboard()
    w = LossWeights(struct=0.0)
    # freq: MSE 1/4 (one channel of 4), high L1 1/4, low cos 0 -> 0.5
    # style: light = |mu diff| 0 + |sd 1 - 0| = 1 -> 0.5; color 0; tex = 1 -> 0.5;  total 1.0
    assert float(frequency_loss(x0_hat, x0, w)) == pytest.approx(0.5, rel=1e-9)
    assert float(style_loss(x0_hat, x0, w)) == pytest.approx(1.0, rel=1e-9)
    assert float(unified_loss(x0_hat, x0, w)) == pytest.approx(0.75, rel=1e-9)
    assert float(mode_loss("unified", None, None, x0_hat, x0, w)) == pytest.approx(0.75, rel=1e-9)
    with pytest.raises(ValueError, match="loss_mode"):
        mode_loss("nope", x0, x0, x0, x0)


def test_acrf_loss_weights_each_sample():
    pred = torch.zeros(2, 1, 4, 4)
    target = torch.zeros(2, 1, 4, 4)
    target[1] = 1.0
    x0 = torch.ones(2, 1, 4, 4)
    # sample 0: identical -> 0 (cos of zero vectors gives 1 - 0 = 1 * 0.1); sample 1: char sqrt(1+1e-6)-1e-3,
    # 1 - cos(0, 1) = 1, FFT 1/4
    w = LossWeights(cosine=0.0)
    loss = acrf_loss("standard", pred, target, x0, x0, torch.tensor([1.0, 0.5]), w)
    assert float(loss) == pytest.approx(0.5 * (0.5 * (math.sqrt(1 + 1e-6) - 1e-3 + 0.1 * 0.25)), rel=1e-5)
