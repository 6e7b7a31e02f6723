"""A1111 refiner "Switch at" step, against values derived by hand from ``sd_samplers_common.apply_refiner`` and a
float64 re-derivation of the SD1.5 σ table (scaled-linear β 0.00085…0.012, 1000 steps; ComfyUI
``comfy/model_sampling.py``)."""
import math

import pytest
import torch

from forgeline.samplers import refiner_switch_step_by_steps, refiner_switch_step_by_timestep


@pytest.mark.parametrize("steps,switch,k", [
    (25, 0.8, 20),   # the official SDXL example's 20/25 split (ComfyUI_examples sdxl_simple_example)
    (10, 1.0, 10),   # never reached: no refiner
    (10, 0.05, 1),   # call 0 has ratio 0
    (3, 0.34, 2),    # 1/3 < 0.34 <= 2/3
    (20, 0.5, 10),   # second-order: call 20 of 40 starts step 10
    (5, 0.5, 3),     # second-order: call 5 of 10 is step 2's second call -> next step boundary, 3
])
def test_switch_by_sampling_steps(steps, switch, k):
    assert refiner_switch_step_by_steps(steps, switch) == k


@pytest.mark.parametrize("steps", [1, 2, 3, 5, 7, 20, 25])
@pytest.mark.parametrize("switch", [0.05, 0.2, 0.3333, 0.5, 0.66, 0.8, 0.95, 1.0])
def test_second_order_counter_rounds_to_the_same_boundary(steps, switch):
    """A1111's second-order counter (2 calls per step, total 2·steps), its first switching call rounded up to a step
    boundary, gives the same k: the reason the rule needs no sampler-order flag."""
    calls = [c for c in range(2 * steps) if c / (2 * steps) >= switch]
    expected = min(-(-calls[0] // 2), steps) if calls else steps
    assert refiner_switch_step_by_steps(steps, switch) == expected


def test_switch_by_timestep_on_a_synthetic_table():
    table = torch.linspace(0.1, 10.0, 1000)
    run = torch.cat([table[[999, 800, 500, 199, 100, 0]], torch.zeros(1)])
    assert refiner_switch_step_by_timestep(run, table, 0.8) == 3    # (999 − 199)/1000 = 0.8
    assert refiner_switch_step_by_timestep(run, table, 0.81) == 4   # t = 100 → 0.899
    assert refiner_switch_step_by_timestep(run, table, 1.0) == 6    # (999 − 0)/1000 < 1: never


def _sd15_sigmas_f64():
    lo, hi = math.sqrt(0.00085), math.sqrt(0.012)
    betas = [(lo + i * (hi - lo) / 999) ** 2 for i in range(1000)]
    out, ac = [], 1.0
    for b in betas:
        ac *= 1.0 - b
        out.append(math.sqrt((1 - ac) / ac))
    return out


def test_switch_by_timestep_on_sd15_uniform_schedule():
    table = _sd15_sigmas_f64()
    # a uniform-timestep schedule (A1111 "Automatic" / ComfyUI normal style) taken at exact table levels
    ts = [999 - i * 111 for i in range(10)]                              # 999, 888, …, 0
    run = torch.tensor([table[t] for t in ts] + [0.0], dtype=torch.float64)
    tab = torch.tensor(table, dtype=torch.float64)
    for switch in (0.1, 0.5, 0.8, 0.9):
        expected = next(i for i, t in enumerate(ts) if (999 - t) / 1000 >= switch)
        assert refiner_switch_step_by_timestep(run, tab, switch) == expected
    assert refiner_switch_step_by_timestep(run, tab, 0.8) == 8  # t = 111 → 0.888; t = 222 → 0.777


@pytest.mark.parametrize("switch", [0.0, -0.1, 1.01, float("nan")])
def test_switch_outside_unit_interval_is_rejected(switch):
    with pytest.raises(ValueError, match="switch_at"):
        refiner_switch_step_by_steps(10, switch)
    with pytest.raises(ValueError, match="switch_at"):
        refiner_switch_step_by_timestep(torch.tensor([1.0, 0.0]), torch.linspace(0.1, 1, 10), switch)
