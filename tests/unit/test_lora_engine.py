"""Scheduled merge engine, cost model and LCM merge.

References: float64 re-derivations written here (``W0 + Σ s_i·up_i@down_i·alpha_i/r_i``, the DoRA and LoHa formulas
of notes lora.md §1.4-§1.5, the LCM-LoRA report's ``θ + λ1·τ_style + λ2·τ_LCM``) and the [computed] SD1.5 traffic
table of notes §4.6 (192 layers, 267 M weights, 92/192 bypass at B = 2, 1.07 / 2.19 / 0.55 GB)."""
import pytest
import torch

from forgeline.lora import (DenseDelta, LowRank, ScheduledLoraMerge, bypass_bytes, choose_path, lcm_merge,
                            lcm_merge_weight, merge_bytes)
from forgeline.lora.formats.adapter import Adapter

G = torch.Generator().manual_seed(0)


def rnd(*shape, scale=1.0):
    return torch.randn(*shape, generator=G, dtype=torch.float64) * scale


def make_model():
    return {"lin1": rnd(64, 48, scale=0.02).float(), "lin2": rnd(40, 48, scale=0.02).float(),
            "conv": rnd(32, 16, 3, 3, scale=0.02).float(), "untouched": rnd(8, 8).float()}


def factors(out, inp, rank, kernel=None):
    up = rnd(out, rank, scale=0.05)
    down = rnd(rank, inp, *(kernel or ()), scale=0.05)
    return up, down


def delta64(up, down, alpha):
    return up.flatten(1) @ down.flatten(1) * (alpha / down.shape[0])


@pytest.fixture
def setup():
    weights = make_model()
    pristine = {k: v.clone() for k, v in weights.items()}
    fa = {"lin1": factors(64, 48, 4), "conv": factors(32, 16, 4, (3, 3))}
    fb = {"lin2": factors(40, 48, 2)}
    fc = {"lin1": factors(64, 48, 3)}
    engine = ScheduledLoraMerge(weights, force_path="merge")
    engine.add_lora("A", {k: LowRank(u.float(), d.float(), alpha=2.0) for k, (u, d) in fa.items()}, strength=0.0)
    engine.add_lora("B", {k: LowRank(u.float(), d.float(), alpha=1.0) for k, (u, d) in fb.items()}, strength=1.0)
    engine.add_lora("C", {k: LowRank(u.float(), d.float(), alpha=3.0) for k, (u, d) in fc.items()}, strength=0.8,
                    scheduled=False)
    return weights, pristine, engine, fa, fb, fc


def reference(pristine, fa, fb, fc, sa, sb):
    ref = {k: v.double().clone() for k, v in pristine.items()}
    for k, (u, d) in fa.items():
        ref[k] += (sa * delta64(u, d, 2.0)).reshape(ref[k].shape)
    for k, (u, d) in fb.items():
        ref[k] += (sb * delta64(u, d, 1.0)).reshape(ref[k].shape)
    for k, (u, d) in fc.items():
        ref[k] += (0.8 * delta64(u, d, 3.0)).reshape(ref[k].shape)
    return ref


def rel_err(a, b):
    return ((a.double() - b).abs().max() / b.abs().max()).item()


def test_30_step_ramp_matches_from_pristine_float64_merges(setup):
    weights, pristine, engine, fa, fb, fc = setup
    for step in range(30):
        sa, sb = step / 29, 1.0 - 0.5 * step / 29
        engine.set_scales({"A": sa, "B": sb})
        ref = reference(pristine, fa, fb, fc, sa, sb)
        for key in ("lin1", "lin2", "conv"):
            assert rel_err(weights[key], ref[key]) <= 1e-5, (step, key)
        assert torch.equal(weights["untouched"], pristine["untouched"])


def test_restore_is_bit_identical(setup):
    weights, pristine, engine, *_ = setup
    storage = {k: v.data_ptr() for k, v in weights.items()}
    for s in (0.3, 0.9, 0.1):
        engine.set_scales({"A": s, "B": 1 - s})
    assert not torch.equal(weights["lin1"], pristine["lin1"])
    engine.restore()
    for key in weights:
        assert torch.equal(weights[key], pristine[key])
        assert weights[key].data_ptr() == storage[key]      # written in place, same storage


def test_only_layers_whose_scale_changed_are_re_merged(setup):
    weights, pristine, engine, *_ = setup
    assert sorted(engine.set_scales()) == ["conv", "lin1", "lin2"]     # first application merges every layer
    assert engine.gemm_count == 3
    assert engine.set_scales({"B": 0.5}) == ["lin2"] and engine.gemm_count == 4
    assert engine.set_scales({"B": 0.5}) == [] and engine.gemm_count == 4
    assert sorted(engine.set_scales({"A": 0.7})) == ["conv", "lin1"] and engine.gemm_count == 6


def test_block_weight_zero_layer_is_never_re_merged():
    weights = make_model()
    engine = ScheduledLoraMerge(weights, force_path="merge")
    up, down = factors(64, 48, 4)
    up2, down2 = factors(40, 48, 4)
    engine.add_lora("A", {"lin1": LowRank(up.float(), down.float()), "lin2": LowRank(up2.float(), down2.float())},
                    block_multipliers={"lin1": 0.0, "lin2": 0.5})
    engine.set_scales()
    assert engine.set_scales({"A": 0.25}) == ["lin2"]


def test_constant_lora_cannot_be_rescheduled(setup):
    *_, engine, _, _, _ = setup
    with pytest.raises(ValueError, match="constant"):
        engine.set_scales({"C": 0.1})
    with pytest.raises(ValueError, match="unknown LoRA"):
        engine.set_scales({"nope": 0.1})


def test_forward_time_path_equals_merged_path():
    merged_w, bypass_w = make_model(), make_model()
    for k in bypass_w:
        bypass_w[k].copy_(merged_w[k])
    pristine = {k: v.clone() for k, v in bypass_w.items()}
    fa = {"lin1": factors(64, 48, 4), "conv": factors(32, 16, 4, (3, 3))}
    fd = rnd(40, 48, scale=0.01).float()
    engines = {}
    for path, w in (("merge", merged_w), ("bypass", bypass_w)):
        e = ScheduledLoraMerge(w, force_path=path)
        e.add_lora("A", {k: LowRank(u.float(), d.float(), alpha=2.0) for k, (u, d) in fa.items()}, strength=0.6)
        e.add_lora("D", {"lin2": DenseDelta(fd)}, strength=0.4)
        e.set_scales()
        engines[path] = e
    assert engines["bypass"].path("lin1") == "bypass" and engines["bypass"].path("lin2") == "merge"  # dense → merge
    assert torch.equal(bypass_w["lin1"], pristine["lin1"]) and torch.equal(bypass_w["conv"], pristine["conv"])
    x = torch.randn(2, 7, 48, generator=G)
    xc = torch.randn(2, 16, 9, 9, generator=G)
    for key, inp, kw in (("lin1", x, {}), ("lin2", x, {}), ("conv", xc, {"padding": 1})):
        a = engines["merge"].apply(key, inp, **kw)
        b = engines["bypass"].apply(key, inp, **kw)
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), key
    assert engines["merge"].forward_delta("lin1", x) is None


def test_quantised_weights_always_take_the_forward_path():
    weights = {"q": torch.zeros(8, 4, dtype=torch.int8), "f": torch.zeros(8, 4)}
    engine = ScheduledLoraMerge(weights, quantized_keys={"f"})
    up, down = torch.ones(8, 2), torch.ones(2, 4)
    engine.add_lora("A", {"q": LowRank(up, down), "f": LowRank(up, down)}, strength=0.5)
    assert engine.set_scales() == [] and engine.path("q") == "bypass" and engine.path("f") == "bypass"
    assert not weights["q"].any() and not weights["f"].any()
    delta = engine.forward_delta("f", torch.ones(3, 4))
    assert torch.allclose(delta, torch.full((3, 8), 0.5 * 2 * 4.0))    # 0.5 · Σ_r Σ_i 1·1


def test_loader_adapters_dora_and_loha_merge_from_pristine():
    weights = make_model()
    pristine = {k: v.clone() for k, v in weights.items()}
    up, down = factors(64, 48, 4)
    magnitude = pristine["lin1"].double().norm(dim=1) * 1.1
    dora = Adapter(module="m1", kind="lora", tensors={"up": up.float(), "down": down.float()}, alpha=2.0,
                   dora_scale=magnitude.float().reshape(64, 1))
    w1a, w1b, w2a, w2b = rnd(40, 2, scale=0.1), rnd(2, 48, scale=0.1), rnd(40, 2, scale=0.1), rnd(2, 48, scale=0.1)
    loha = Adapter(module="m2", kind="loha", tensors={"w1a": w1a.float(), "w1b": w1b.float(), "w2a": w2a.float(),
                                                        "w2b": w2b.float()}, alpha=1.0)
    up2, down2 = factors(40, 48, 4)
    plain = Adapter(module="m3", kind="lora", tensors={"up": up2.float(), "down": down2.float()}, alpha=4.0)
    engine = ScheduledLoraMerge(weights, force_path="merge")
    engine.add_lora("dora", {"lin1": dora})
    engine.add_lora("loha", {"lin2": loha})
    engine.add_lora("plain", {"lin2": plain})
    for lam in (0.0, 0.35, 1.0):
        before = engine.gemm_count
        engine.set_scales({"dora": lam, "loha": 1 - lam, "plain": lam})
        assert engine.gemm_count - before == 1          # lin2: one GEMM for the plain LoRA; lin1 DoRA is dense
        w0 = pristine["lin1"].double()
        wc = w0 + delta64(up, down, 2.0)
        w_dora = wc * (magnitude / wc.norm(dim=1)).reshape(64, 1)
        assert rel_err(weights["lin1"], w0 + lam * (w_dora - w0)) <= 1e-5
        loha_delta = (w1a @ w1b) * (w2a @ w2b) * (1.0 / 2)   # alpha / w1b.shape[0]
        ref2 = pristine["lin2"].double() + (1 - lam) * loha_delta + lam * delta64(up2, down2, 4.0)
        assert rel_err(weights["lin2"], ref2) <= 1e-5


def test_fp16_weights_round_once_from_pristine():
    w = {"lin": rnd(64, 48, scale=0.02).half()}
    w0 = w["lin"].clone()
    up, down = factors(64, 48, 4)
    engine = ScheduledLoraMerge(w, force_path="merge")
    engine.add_lora("A", {"lin": LowRank(up.float(), down.float())})
    for s in [i / 29 for i in range(30)]:
        engine.set_scales({"A": s})
    ref = (w0.double() + delta64(up, down, 4.0)).half()     # alpha None → scale 1 = alpha 4 / rank 4
    ulp = (ref.double().abs() * 2 ** -10).clamp_min(2 ** -24)
    assert ((w["lin"].double() - ref.double()).abs() <= ulp).all()


# -- cost model vs notes §4.6 --------------------------------------------------------------------------------------------
def sd15_attention_layers():
    """(out, in, tokens) of the 192 attention-target layers of SD1.5 at 512²: 16 spatial transformers
    (5 at 320 ch / 64², 5 at 640 / 32², 5 at 1280 / 16², 1 at 1280 / 8²), 12 layers each; cross-attn K/V see 77
    text tokens of width 768; GEGLU ff.net.0.proj is [8c, c], ff.net.2 is [c, 4c]."""
    layers = []
    for channels, tokens, count in ((320, 4096, 5), (640, 1024, 5), (1280, 256, 5), (1280, 64, 1)):
        c = channels
        for _ in range(count):
            layers += [(c, c, tokens)] * 2                      # proj_in, proj_out
            layers += [(c, c, tokens)] * 4                      # attn1 q, k, v, out
            layers += [(c, c, tokens), (c, 768, 77), (c, 768, 77), (c, c, tokens)]   # attn2 q, k, v, out
            layers += [(8 * c, c, tokens), (c, 4 * c, tokens)]  # ff
    return layers


@pytest.mark.parametrize("batch, n_bypass, all_merge, all_bypass, hybrid", [
    (1, 92, 1.07, 1.10, 0.38), (2, 92, 1.07, 2.19, 0.55), (8, 10, 1.07, 8.78, 1.00)])
def test_cost_model_reproduces_notes_sd15_table(batch, n_bypass, all_merge, all_bypass, hybrid):
    layers = sd15_attention_layers()
    assert len(layers) == 192 and round(sum(d * k for d, k, _ in layers) / 1e6) == 267
    paths = [choose_path(d, k, t, batch, steps=30) for d, k, t in layers]
    assert paths.count("bypass") == n_bypass
    cost = {"merge": lambda d, k, t: merge_bytes(d, k), "bypass": lambda d, k, t: bypass_bytes(d, k, t, batch)}
    assert round(sum(merge_bytes(d, k) for d, k, _ in layers) / 1e9, 2) == all_merge
    assert round(sum(bypass_bytes(d, k, t, batch) for d, k, t in layers) / 1e9, 2) == all_bypass
    assert round(sum(cost[p](*layer) for p, layer in zip(paths, layers)) / 1e9, 2) == hybrid


def test_cost_model_piecewise_constant_schedules_merge_everywhere():
    layers = sd15_attention_layers()
    assert all(choose_path(d, k, t, 2, steps=30, changes=2) == "merge" for d, k, t in layers)
    assert choose_path(320, 320, 4096, quantized=True) == "bypass" and choose_path(320, 320, None) == "merge"


# -- LCM merge ------------------------------------------------------------------------------------------------------------
def test_lcm_merge_equals_formula_in_float64_and_is_pure():
    weights = {"a": rnd(16, 8).float(), "b": rnd(4, 4).float(), "c": rnd(2, 2).float()}
    before = {k: v.clone() for k, v in weights.items()}
    tau_style = rnd(16, 8, scale=0.1).float()
    up, down = factors(16, 8, 2)
    merged = lcm_merge(weights, style={"a": tau_style}, lcm={"a": LowRank(up, down, alpha=2.0),
                                                             "b": rnd(4, 4).float()})
    ref_a = before["a"].double() + 0.8 * tau_style.double() + 1.0 * delta64(up, down, 2.0)
    assert rel_err(merged["a"], ref_a) <= 1e-6
    assert sorted(merged) == ["a", "b"]
    for k in weights:
        assert torch.equal(weights[k], before[k])


def test_lcm_merge_weight_custom_lambdas_and_single_rounding():
    w = rnd(32, 32, scale=0.02).half()
    style, lcm = rnd(32, 32, scale=0.003), rnd(32, 32, scale=0.003)
    out = lcm_merge_weight(w, style.float(), lcm.float(), style_strength=0.5, lcm_strength=0.9)
    ref = w.double() + 0.5 * style + 0.9 * lcm
    ulp = (ref.abs() * 2 ** -10).clamp_min(2 ** -24)
    assert out.dtype == torch.float16 and ((out.double() - ref.half().double()).abs() <= ulp).all()
    with pytest.raises(ValueError, match="shape"):
        lcm_merge_weight(w, rnd(3, 3).float())
