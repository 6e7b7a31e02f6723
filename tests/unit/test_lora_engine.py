"""Scheduled LoRA as a weight function (``lora.ScheduledLayer``).

References: float64 re-derivations written here — ``W + Σ s_i·up_i@down_i·alpha_i/r_i`` (kohya ``networks/lora.py``
``LoRAModule``: ``scale = alpha / lora_dim``), DoRA ``W_dora = m·(W+ΔW)/‖W+ΔW‖`` on the output axis (PEFT / Liu et al.
2024, blended ``W + λ(W_dora − W)``) and LoHa ``ΔW = (w1a@w1b)⊙(w2a@w2b)·alpha/r`` (LyCORIS ``loha.py``)."""
import torch

from forgeline.lora import ScheduledLayer
from forgeline.lora.formats.adapter import Adapter

G = torch.Generator().manual_seed(0)


def rnd(*shape, scale=1.0):
    return torch.randn(*shape, generator=G, dtype=torch.float64) * scale


def lora(up, down, alpha):
    return Adapter(module="m", kind="lora", tensors={"up": up.float(), "down": down.float()}, alpha=alpha)


def delta64(up, down, alpha):
    return up.flatten(1) @ down.flatten(1) * (alpha / down.shape[0])


def rel_err(a, b):
    return ((a.double() - b).abs().max() / b.abs().max()).item()


def test_30_step_ramp_equals_float64_merges_and_never_writes_the_weight():
    w = rnd(64, 48, scale=0.02).float()
    before = w.clone()
    up_a, down_a = rnd(64, 4, scale=0.05), rnd(4, 48, scale=0.05)
    up_b, down_b = rnd(64, 2, scale=0.05), rnd(2, 48, scale=0.05)
    layer = ScheduledLayer("lin", w.shape)
    layer.add("A", lora(up_a, down_a, 2.0))
    layer.add("B", lora(up_b, down_b, 1.0), ratio=0.5)
    for i in range(30):
        sa, sb = i / 29, 1 - i / 29
        got = layer.merged(w, {"A": sa, "B": sb})
        ref = w.double() + sa * delta64(up_a, down_a, 2.0) + 0.5 * sb * delta64(up_b, down_b, 1.0)
        assert rel_err(got, ref) <= 2e-7
    assert torch.equal(w, before)


def test_unchanged_strength_and_weight_reuse_the_merge_and_a_new_weight_recomputes():
    w = rnd(16, 8).float()
    layer = ScheduledLayer("lin", w.shape)
    layer.add("A", lora(rnd(16, 2), rnd(2, 8), 2.0))
    first = layer.merged(w, {"A": 0.5})
    assert layer.merged(w, {"A": 0.5}) is first and layer.merges == 1
    layer.merged(w, {"A": 0.6})
    assert layer.merges == 2
    other = w.clone()
    layer.merged(other, {"A": 0.6})
    assert layer.merges == 3
    w.add_(1.0)                                 # an in-place change bumps the version counter
    layer.merged(w, {"A": 0.6})
    assert layer.merges == 4
    assert layer.merged(w, {"A": 0.0}) is w     # strength 0: the host's weight as is


def test_conv_lora_folds_over_the_kernel():
    w = rnd(8, 4, 3, 3, scale=0.1).float()
    up, down = rnd(8, 2, 1, 1, scale=0.1), rnd(2, 4, 3, 3, scale=0.1)
    layer = ScheduledLayer("conv", w.shape)
    layer.add("A", Adapter(module="c", kind="lora", tensors={"up": up.float(), "down": down.float()}, alpha=1.0))
    got = layer.merged(w, {"A": 0.7})
    ref = w.double() + 0.7 * delta64(up, down, 1.0).reshape(8, 4, 3, 3)
    assert got.shape == w.shape and rel_err(got, ref) <= 2e-7


def test_dora_and_loha_blend_from_the_given_weight():
    w = rnd(40, 48, scale=0.02).float()
    up, down = rnd(40, 4, scale=0.05), rnd(4, 48, scale=0.05)
    magnitude = w.double().norm(dim=1) * 1.1
    dora = Adapter(module="m1", kind="lora", tensors={"up": up.float(), "down": down.float()}, alpha=2.0,
                   dora_scale=magnitude.float().reshape(40, 1))
    w1a, w1b, w2a, w2b = rnd(40, 2, scale=0.1), rnd(2, 48, scale=0.1), rnd(40, 2, scale=0.1), rnd(2, 48, scale=0.1)
    loha = Adapter(module="m2", kind="loha", tensors={"w1a": w1a.float(), "w1b": w1b.float(), "w2a": w2a.float(),
                                                       "w2b": w2b.float()}, alpha=1.0)
    layer = ScheduledLayer("lin", w.shape)
    layer.add("dora", dora)
    layer.add("loha", loha)
    for lam in (0.0, 0.35, 1.0):
        got = layer.merged(w, {"dora": lam, "loha": 1 - lam})
        w0 = w.double()
        wc = w0 + delta64(up, down, 2.0)
        w_dora = wc * (magnitude / wc.norm(dim=1)).reshape(40, 1)
        loha_delta = (w1a @ w1b) * (w2a @ w2b) * (1.0 / 2)
        assert rel_err(got, w0 + lam * (w_dora - w0) + (1 - lam) * loha_delta) <= 1e-5


def test_fp16_weight_rounds_once():
    w = rnd(64, 48, scale=0.02).half()
    up, down = rnd(64, 4, scale=0.05), rnd(4, 48, scale=0.05)
    layer = ScheduledLayer("lin", w.shape)
    layer.add("A", lora(up, down, 4.0))
    got = layer.merged(w, {"A": 1.0})
    ref = (w.double() + delta64(up, down, 4.0)).half()
    assert got.dtype == torch.float16
    ulp = (ref.double().abs() * 2 ** -10).clamp_min(2 ** -24)
    assert ((got.double() - ref.double()).abs() <= ulp).all()


def test_inference_mode_weights_have_no_version_and_still_merge():
    """ComfyUI loads weights under torch.inference_mode: such tensors have no version counter."""
    with torch.inference_mode():
        w = rnd(16, 8).float()
    up, down = rnd(16, 2), rnd(2, 8)
    layer = ScheduledLayer("lin", w.shape)
    layer.add("A", lora(up, down, 2.0))
    got = layer.merged(w, {"A": 0.5})
    assert rel_err(got, w.double() + 0.5 * delta64(up, down, 2.0)) <= 2e-7
    assert layer.merged(w, {"A": 0.5}) is got


def test_owned_scratch_copy_is_merged_in_place_with_the_same_values():
    """``owned=True`` (the host's scratch copy): the result lives in the handed tensor's memory, equal to the float64 merge and
    bit-equal to the copying path; the dense delta (DoRA/LoHa) is taken from W before the in-place update."""
    w = rnd(32, 24, scale=0.02).float()
    up, down = rnd(32, 3, scale=0.05), rnd(3, 24, scale=0.05)
    w1a, w1b, w2a, w2b = rnd(32, 2, scale=0.1), rnd(2, 24, scale=0.1), rnd(32, 2, scale=0.1), rnd(2, 24, scale=0.1)
    loha = Adapter(module="m", kind="loha", tensors={"w1a": w1a.float(), "w1b": w1b.float(), "w2a": w2a.float(),
                                                    "w2b": w2b.float()}, alpha=2.0)
    copying, owning = ScheduledLayer("lin", w.shape), ScheduledLayer("lin", w.shape)
    for layer in (copying, owning):
        layer.add("A", lora(up, down, 3.0))
        layer.add("H", loha)
    scratch = w.clone()
    got = owning.merged(scratch, {"A": 0.7, "H": 0.4}, owned=True)
    assert got.data_ptr() == scratch.data_ptr()          # merged into the scratch copy, no new buffer
    assert torch.equal(got, copying.merged(w, {"A": 0.7, "H": 0.4}))
    ref = w.double() + 0.7 * delta64(up, down, 3.0) + 0.4 * ((w1a @ w1b) * (w2a @ w2b)) * (2.0 / 2)
    assert rel_err(got, ref) <= 2e-7
