"""Ancestral split (k-diffusion ``get_ancestral_step`` and ComfyUI ``sample_*_RF`` closed forms, Karras(10) numbers
from ComfyUI 0.3.75), to_d, CFG (the cond_scale = 1 + w identity of Ho & Salimans 2022)."""
import math

import pytest
import torch

from forgeline.samplers import get_ancestral_step, get_ancestral_step_rf, step_range, to_d


def test_ancestral_step_reference_numbers():
    # step 0 of Karras(10) at η = 1 (ComfyUI 0.3.75 get_ancestral_step, float32)
    down, up = get_ancestral_step(torch.tensor(14.61464), torch.tensor(9.10293), 1.0)
    assert float(down) == pytest.approx(5.66988, abs=2e-5) and float(up) == pytest.approx(7.12150, abs=2e-5)


@pytest.mark.parametrize("s, sn", [(14.6, 9.1), (1.0, 0.5), (0.2, 0.03)])
def test_ancestral_step_closed_forms(s, sn):
    down, up = get_ancestral_step(s, sn, 1.0)
    assert down == pytest.approx(sn * sn / s, rel=1e-12)
    assert up == pytest.approx(sn * math.sqrt(1 - sn * sn / (s * s)), rel=1e-12)
    down, up = get_ancestral_step(s, sn, 0.5)
    assert down ** 2 + up ** 2 == pytest.approx(sn ** 2, rel=1e-12)
    assert up == pytest.approx(0.5 * sn * math.sqrt(1 - sn * sn / (s * s)), rel=1e-12)
    assert get_ancestral_step(s, sn, 0.0) == (sn, 0.0)
    assert get_ancestral_step(s, 0.0, 1.0) == (0.0, 0.0)
    down, up = get_ancestral_step(s, sn, 100.0)  # clipped
    assert up == sn and down == 0.0


def test_flow_split():
    down, ratio, renoise = get_ancestral_step_rf(0.8, 0.5, 0.0)
    assert (down, ratio, renoise) == (0.5, 1.0, 0.0)
    down, ratio, renoise = get_ancestral_step_rf(0.8, 0.5, 1.0)
    assert down == pytest.approx(0.5 * 0.5 / 0.8)
    assert ratio == pytest.approx(0.5 / (1 - 0.3125))
    assert renoise == pytest.approx(math.sqrt(0.25 - 0.3125 ** 2 * 0.25 / 0.6875 ** 2))
    with pytest.raises(ValueError, match="eta"):
        get_ancestral_step_rf(0.8, 0.5, 10.0)


def test_to_d():
    x, den = torch.full((2, 3), 3.0), torch.ones(2, 3)
    assert torch.equal(to_d(x, torch.tensor([2.0, 4.0]), den), torch.tensor([[1.0] * 3, [0.5] * 3]))




def test_step_range_without_progress():
    assert list(step_range(3, disable=True)) == [0, 1, 2]
