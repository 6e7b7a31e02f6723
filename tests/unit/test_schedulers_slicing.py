"""Denoise slicing rules vs the worked examples in docs/DERIVATIONS.md, 'Denoise slicing'."""
import pytest
import torch

from forgeline.schedulers import (a1111_img2img_sigmas, ays_denoise_slice, discard_penultimate_sigma,
                                  ksampler_denoise_sigmas)


def levels(n):
    return torch.arange(n, 0, -1, dtype=torch.float32)  # n, n-1, …, 1  (distinct, decreasing)


def test_ksampler_rule_truncates_steps_over_denoise():
    calls = []

    def calc(n):
        calls.append(n)
        return torch.cat([levels(n), torch.zeros(1)])

    got = ksampler_denoise_sigmas(calc, 10, 0.3)
    assert calls == [33]  # int(10/0.3) = 33
    assert got.shape == (11,) and float(got[-1]) == 0.0
    calls.clear()
    ksampler_denoise_sigmas(calc, 10, 1.0)
    ksampler_denoise_sigmas(calc, 10, None)
    assert calls == [10, 10]
    assert ksampler_denoise_sigmas(calc, 10, 0.0).numel() == 0


def test_ays_rule_rounds_half_to_even_and_zeroes_last():
    sig = torch.cat([levels(5), torch.zeros(1)])  # 5 steps
    got = ays_denoise_slice(sig, 5, 0.5)  # round(2.5) = 2 → 3 levels
    assert got.tolist() == [2.0, 1.0, 0.0]
    got = ays_denoise_slice(torch.tensor([5.0, 4.0, 3.0]), 2, 1.0)  # no slicing, last forced to 0
    assert got.tolist() == [5.0, 4.0, 0.0]


def test_a1111_img2img_rule():
    sig = torch.cat([levels(20), torch.zeros(1)])
    got = a1111_img2img_sigmas(sig, 20, 0.5)  # t_enc = 10 → sigmas[9:], 11 steps
    assert len(got) - 1 == 11 and float(got[0]) == float(sig[9])
    assert torch.equal(a1111_img2img_sigmas(sig, 20, 1.0), sig)  # min(1, 0.999)·20 → 19 → start 0
    with pytest.raises(ValueError, match="steps"):
        a1111_img2img_sigmas(sig, 10, 0.5)


def test_discard_penultimate():
    assert discard_penultimate_sigma(torch.tensor([3.0, 2.0, 1.0, 0.0])).tolist() == [3.0, 2.0, 0.0]
    with pytest.raises(ValueError, match="3 levels"):
        discard_penultimate_sigma(torch.tensor([1.0, 0.0]))
