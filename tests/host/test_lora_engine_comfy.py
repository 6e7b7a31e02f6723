"""LoRA inside the host ComfyUI (0.3.75 or 0.33.0) on the SD1.5 stand-in: constant patches vs a float64
re-derivation of each format's formula, also after the host's own adapter rebuild (0.33 ``prefetch_prepared_value``)
and in fp16 (0.33's ``lora_compute_dtype``); scheduled strength on the activations (low-rank) and through the
host's weight wrappers (dense): base weights
bit-identical after every run (also when sampling raises and when the weights are read-only file-backed memory, as
under dynamic VRAM), a 30-step ramp equal to from-pristine merges, a constant schedule equal to the static patch, and
per-step weights equal to loractl's (lagged) values."""
import math

import pytest
import torch

import comfy.lora
import comfy.sample
import comfy.sd
import comfy.utils

from forgeline.host import lora_apply as ll
from forgeline.host import lora_schedule
from forgeline.host import sampling_hooks as sc

FORMATS = ["kohya", "kohya_tucker", "diffusers", "diffusers_old", "peft", "peft_bare", "peft_base_model", "peft_dora",
           "loha", "lokr", "lokr_full", "ia3", "ia3_in", "dora", "dora_in", "diff"]


# -- float64 re-derivation of the published formulas (kohya networks/lora.py, LyCORIS modules, PEFT dora.py) ----
def _cp(t, wb, wa):
    return torch.einsum("ijhw,jr,ip->prhw", t, wb, wa)


def ref_update(adapter, w):
    """Strength-1 update U(W) in float64: W' = W + λ·U."""
    t = {k: v.double() for k, v in adapter.tensors.items()}
    shape = w.shape
    if adapter.kind == "ia3":
        axis = 1 if adapter.on_input else 0
        view = [1] * w.dim()
        view[axis] = -1
        return w * t["w"].reshape(view)
    if adapter.kind == "lora":
        up, down = t["up"].flatten(1), t["down"]
        rank = down.shape[0]
        if "mid" in t:
            delta = torch.einsum("oa,abhw,bi->oihw", up, t["mid"], down.flatten(1))
        else:
            delta = up @ down.flatten(1)
    elif adapter.kind == "loha":
        rank = t["w1b"].shape[0]
        delta = (t["w1a"] @ t["w1b"]) * (t["w2a"] @ t["w2b"])
    elif adapter.kind == "lokr":
        w1 = t["w1"] if "w1" in t else t["w1a"] @ t["w1b"]
        w2 = t["w2"] if "w2" in t else t["w2a"] @ t["w2b"]
        rank = t["w2b"].shape[0] if "w2b" in t else None
        if w2.dim() == 4:
            w1 = w1[:, :, None, None]
        delta = torch.kron(w1, w2)
    else:
        rank, delta = None, t["diff"]
    scale = adapter.alpha / rank if (adapter.alpha is not None and rank) else 1.0
    delta = delta.reshape(shape) * scale
    if adapter.dora_scale is None:
        return delta
    wc = w + delta
    m = adapter.dora_scale.double()
    if m.numel() == shape[0] and not (m.dim() > 1 and m.shape[0] == 1):
        norm = wc.reshape(shape[0], -1).norm(dim=1).reshape([-1] + [1] * (w.dim() - 1))
        mag = m.reshape(norm.shape)
    else:
        norm = wc.transpose(0, 1).reshape(shape[1], -1).norm(dim=1).reshape([1, -1] + [1] * (w.dim() - 2))
        mag = m.reshape(norm.shape)
    return wc * (mag / norm) - w


def _weights(patcher):
    return {k: v for k, v in patcher.model.state_dict().items()}


@pytest.mark.parametrize("fmt", FORMATS)
def test_static_merge_equals_float64_reference(sd15, fmt):
    model, clip = sd15
    m, c, applied = ll.apply_loras(model, clip, [ll.LoraRequest(f"forgeline_sd15_{fmt}", 0.7, 0.6)])
    loaded = ll.load_for(applied[0].path, ll.model_targets(model, clip))
    assert len(loaded.report.unmatched) == 0, loaded.report.summary()
    checked = 0
    for patcher, strength in ((m, 0.7), (c.patcher, 0.6)):
        weights = _weights(patcher)
        for key, patches in patcher.patches.items():
            w = weights[key]
            out = comfy.lora.calculate_weight(patches, w.to(torch.float32, copy=True), key)
            ref = w.double() + strength * sum(ref_update(a, w.double()) for a in loaded.by_target[key])
            scale = ref.abs().max().item()
            assert torch.allclose(out.double(), ref, rtol=1e-5, atol=1e-5 * scale), (fmt, key)
            assert not torch.equal(out.double(), w.double()), (fmt, key)   # the LoRA did something
            checked += 1
    assert checked == len(loaded.by_target)


def test_diffusers_and_peft_attention_keys_are_patched(sd15):
    """ComfyUI 0.3.75 drops these (#9753); ours maps every module to its attention weight."""
    model, clip = sd15
    for fmt in ("diffusers", "peft", "peft_bare", "peft_base_model"):
        m, _, _ = ll.apply_loras(model, None, [ll.LoraRequest(f"forgeline_sd15_{fmt}")])
        assert any(".attn1.to_q.weight" in k or ".attn1.to_out.0.weight" in k for k in m.patches), fmt


def _sample(m, clip, steps=4, sampler="euler", seed=3, cfg=5.0):
    cond = clip.encode_from_tokens_scheduled(clip.tokenize("a cat"))
    uncond = clip.encode_from_tokens_scheduled(clip.tokenize(""))
    latent = torch.zeros(1, 4, 8, 8)
    noise = comfy.sample.prepare_noise(latent, seed)
    return comfy.sample.sample(m, noise, steps, cfg, sampler, "karras", cond, uncond, latent, seed=seed)


def _scheduled(model, clip, schedule="0@0,1@1", mode="loractl", name="forgeline_sd15_style_r16"):
    m, c, _ = ll.apply_loras(model, clip, [ll.LoraRequest(name, 1.0, 1.0, schedule, "", mode)])
    return m, c


def _rebuilt_like_the_host(patch):
    """What ComfyUI 0.33's LowVramPatch.prepare hands calculate_weight: the adapter rebuilt through the host's own
    ``prefetch_prepared_value`` into a fresh buffer (on hosts without it, the same constructor contract)."""
    rebuild = getattr(comfy.lora, "prefetch_prepared_value", None)
    if rebuild is None:
        return type(patch)(patch.loaded_keys, patch.weights)
    counter = [0]
    rebuild(patch, counter, None, None, False)
    buffer = torch.empty(counter[0], dtype=torch.uint8)
    return rebuild(patch, [0], buffer, None, True)


def test_constant_patch_survives_the_hosts_rebuild_path(sd15):
    model, clip = sd15
    m, _, applied = ll.apply_loras(model, None, [ll.LoraRequest("forgeline_sd15_kohya", 0.7, 0.0)])
    loaded = ll.load_for(applied[0].path, ll.model_targets(model, None))
    weights = _weights(m)
    key = next(iter(m.patches))
    patch = m.patches[key][0][1]
    rebuilt = _rebuilt_like_the_host(patch)
    assert type(rebuilt) is type(patch)
    w = weights[key]
    out = rebuilt.calculate_weight(w.to(torch.float32, copy=True), key, 0.7, 1.0, None, lambda a: a)
    ref = w.double() + 0.7 * sum(ref_update(a, w.double()) for a in loaded.by_target[key])
    assert torch.allclose(out.double(), ref, rtol=1e-5, atol=1e-5 * ref.abs().max().item())


def test_fp16_compute_dtype_rounds_once(sd15):
    """0.33 passes the weight in fp16 on most GPUs; Forgeline sums in fp32 and rounds once (module docstring of
    host/weight_adapter.py): the result is the float64 reference rounded to fp16, within one fp16 ulp."""
    model, _ = sd15
    m, _, applied = ll.apply_loras(model, None, [ll.LoraRequest("forgeline_sd15_style_r16", 0.9, 0.0)])
    loaded = ll.load_for(applied[0].path, ll.model_targets(model, None))
    key = next(iter(m.patches))
    w16 = _weights(m)[key].half()
    out = m.patches[key][0][1].calculate_weight(w16.clone(), key, 0.9, 1.0, None, lambda a: a)
    ref = (w16.double() + 0.9 * sum(ref_update(a, w16.double()) for a in loaded.by_target[key]))
    assert out.dtype == torch.float16
    ulp = (ref.abs() * 2 ** -10).clamp_min(2 ** -24)
    assert ((out.double() - ref.half().double()).abs() <= ulp).all()


def _entries(m):
    return m.model_options["transformer_options"][lora_schedule.SCHEDULES]


@pytest.mark.parametrize("name,path", [("forgeline_sd15_style_r16", "activations"), ("forgeline_sd15_loha", "merge")])
def test_constant_schedule_equals_the_static_patch(sd15, name, path):
    """A schedule of constant keyframes must give the image ComfyUI's own static merge of the same LoRA gives. A
    low-rank LoRA runs on the activations (forward hooks, no weight wrapper), a LoHa through the weight wrappers."""
    model, clip = sd15
    m_sched, c = _scheduled(model, clip, "0.8@0,0.8@1", name=name)
    assert not any(k.startswith("diffusion_model.") for k in m_sched.patches)
    (entry,) = _entries(m_sched)
    if path == "activations":
        assert entry.engine.layers and not m_sched.weight_wrapper_patches
    else:
        assert m_sched.weight_wrapper_patches and not entry.engine.layers
    m_static, _, _ = ll.apply_loras(model, clip, [ll.LoraRequest(name, 0.8, 1.0)])
    a, b = _sample(m_sched, c, steps=4), _sample(m_static, c, steps=4)
    scale = b.abs().max().item()
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * scale)
    base = _sample(model, c, steps=4)
    assert not torch.allclose(a, base, atol=1e-3 * scale)      # the LoRA changes the image


def test_scheduled_hooks_exist_only_during_a_run(sd15):
    """The activation path registers its forward hooks for one sampler run and removes them after it, also when
    the run raises; the model used without the LoRA is then the plain model."""
    model, clip = sd15
    m, c = _scheduled(model, clip)
    (entry,) = _entries(m)
    modules = [comfy.utils.get_attr(model.model, name) for name in entry.engine.layers]
    seen = []
    sc.on_call(m, "zz_count", lambda ctx, mo: seen.append(sum(len(mod._forward_hooks) for mod in modules)))
    _sample(m, c, steps=3)
    assert seen and all(n == len(modules) for n in seen)
    assert all(not mod._forward_hooks for mod in modules)

    def boom(ctx, mo):
        raise RuntimeError("interrupted mid-run")

    sc.on_call(m, "zz_boom", boom)
    with pytest.raises(RuntimeError, match="interrupted"):
        _sample(m, c, steps=3)
    assert all(not mod._forward_hooks for mod in modules)


def test_weights_bit_identical_after_run_and_after_exception(sd15):
    model, clip = sd15
    before = {k: v.clone() for k, v in _weights(model).items()}
    m, c = _scheduled(model, clip)
    _sample(m, c, steps=3)
    after = _weights(model)
    assert all(torch.equal(before[k], after[k]) for k in before)

    calls = []

    def boom(ctx, mo):
        calls.append(ctx.call_index)
        if ctx.call_index == 2:
            raise RuntimeError("interrupted mid-run")

    sc.on_call(m, "zz_boom", boom)
    with pytest.raises(RuntimeError, match="interrupted"):
        _sample(m, c, steps=5)
    assert calls == [0, 1, 2]
    after = _weights(model)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_read_only_file_backed_weights_are_never_written(sd15, tmp_path):
    """Under dynamic VRAM the UNet weights are read-only views of the mmapped file. Put every weight the LoRA
    patches into a read-only memory map (a write would fault) and run a scheduled LoRA: it runs, the bytes stay, and
    the image equals the one from ordinary tensors."""
    import numpy as np

    model, clip = sd15
    m, c = _scheduled(model, clip)
    reference = _sample(m, c, steps=3)
    keys = [k for e in _entries(m) for use in e.engine.uses for k in use.adapters] + list(m.weight_wrapper_patches)
    assert keys
    originals = {k: comfy.utils.get_attr(model.model, k) for k in keys}
    maps = {}
    try:
        for i, key in enumerate(keys):
            w = originals[key].detach()
            path = tmp_path / f"w{i}.bin"
            w.numpy().tofile(path)
            ro = np.memmap(path, dtype=np.float32, mode="r", shape=tuple(w.shape))
            maps[key] = ro
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # torch warns that the array is not writable: that is the point
                tensor = torch.from_numpy(ro)
            comfy.utils.set_attr_param(model.model, key, tensor)
        got = _sample(m, c, steps=3)
        for key, ro in maps.items():
            assert np.array_equal(np.asarray(ro), originals[key].detach().numpy())
        assert torch.equal(got, reference)
    finally:
        for key, w in originals.items():
            comfy.utils.set_attr_param(model.model, key, w)


def _layer_io_per_step(m, clip, module, steps):
    """Sample ``m`` for ``steps`` Euler steps and return ``[(step, input, output)]`` (float64) of every forward of
    ``module``: the probe hook is registered at the first model call, after Forgeline's own hooks, so the output
    it sees includes the LoRA term."""
    seen, step, handles = [], [None], []

    def probe(mod, args, out):
        seen.append((step[0], args[0].detach().double(), out.detach().double()))

    def on_call(ctx, mo):
        step[0] = ctx.step
        if not handles:
            handles.append(module.register_forward_hook(probe))

    sc.on_call(m, "zz_probe", on_call)
    try:
        _sample(m, clip, steps=steps, sampler="euler")
    finally:
        for h in handles:
            h.remove()
    return seen


def test_30_step_ramp_equals_from_pristine_merges(sd15):
    """Activation path: at every step of a 30-step exact ramp, the layer's output equals the float64 product of its
    input with the from-pristine merge ``W0 + (i/29)·ΔW``."""
    model, clip = sd15
    key = "diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"
    w0 = _weights(model)[key].clone()
    m, c = _scheduled(model, clip, "0@0,1@1", mode="exact")
    adapter = ll.load_for(ll.resolve_lora("forgeline_sd15_style_r16"), ll.model_targets(model, clip)).by_target[key][0]
    delta = ref_update(adapter, w0.double())
    module = comfy.utils.get_attr(model.model, key.rpartition(".")[0])
    seen = _layer_io_per_step(m, c, module, 30)
    assert sorted({s for s, _, _ in seen}) == list(range(30))
    for i, x, y in seen:
        ref = torch.nn.functional.linear(x.double(), w0.double() + (i / 29) * delta)   # exact: step i at i/(N-1)
        assert torch.allclose(y.double(), ref, rtol=0, atol=2e-5 * ref.abs().max()), i
    last = seen[-1]
    assert not torch.allclose(last[2].double(), torch.nn.functional.linear(last[1].double(), w0.double()),
                              rtol=0, atol=1e-3 * last[2].abs().max())          # the LoRA moved the output
    assert torch.equal(_weights(model)[key], w0)


def test_stacked_scheduled_loras_each_follow_their_own_ramp(sd15):
    """Two scheduled LoRAs stacked (the second loader on the first one's model): each entry has its own engine, the
    first clone keeps only its own LoRA, and on a layer both patch the output at step i equals the float64 product
    with ``W0 + (i/7)·ΔW_a + (1 − i/7)·ΔW_b``."""
    model, clip = sd15
    first, _, _ = ll.apply_loras(model, None, [ll.LoraRequest("forgeline_sd15_style_r16", 1.0, 0.0, "0@0,1@1", "",
                                                              "exact")])
    both, _, _ = ll.apply_loras(first, None, [ll.LoraRequest("forgeline_sd15_lcm_lora", 1.0, 0.0, "1@0,0@1", "",
                                                             "exact")])
    assert len(_entries(first)) == 1 and len(_entries(both)) == 2
    a_keys = {k for u in _entries(both)[0].engine.uses for k in u.adapters}
    b_keys = {k for u in _entries(both)[1].engine.uses for k in u.adapters}
    key = sorted(k for k in a_keys & b_keys if k.endswith(".weight") and ".attn" in k)[0]
    targets = ll.model_targets(model, None)
    da = ref_update(ll.load_for(ll.resolve_lora("forgeline_sd15_style_r16"), targets).by_target[key][0],
                    _weights(model)[key].double())
    db = ref_update(ll.load_for(ll.resolve_lora("forgeline_sd15_lcm_lora"), targets).by_target[key][0],
                    _weights(model)[key].double())
    w0 = _weights(model)[key].double()
    module = comfy.utils.get_attr(model.model, key.rpartition(".")[0])
    seen = _layer_io_per_step(both, clip, module, 8)
    assert sorted({s for s, _, _ in seen}) == list(range(8))
    bias = module.bias.detach().double() if module.bias is not None else None
    for i, x, y in seen:
        ref = torch.nn.functional.linear(x, w0 + (i / 7) * da + (1 - i / 7) * db, bias)
        assert torch.allclose(y, ref, rtol=0, atol=2e-5 * ref.abs().max()), i


def test_30_step_ramp_of_a_dense_lora_equals_from_pristine_merges(sd15):
    """Merge path (LoHa has no low-rank form): the weight the wrapper hands the layer at step i equals
    ``W0 + (i/29)·ΔW`` within 4 ulp."""
    model, clip = sd15
    name = "forgeline_sd15_loha"
    m, c = _scheduled(model, clip, "0@0,1@1", mode="exact", name=name)
    key = next(iter(m.weight_wrapper_patches))
    w0 = _weights(model)[key].clone()
    adapter = ll.load_for(ll.resolve_lora(name), ll.model_targets(model, clip)).by_target[key][0]
    delta = ref_update(adapter, w0.double())
    wrapper = m.weight_wrapper_patches[key][0]
    seen = []
    # handed a scratch copy, as ComfyUI's cast_bias_weight hands every weight function (copy=weight_has_function)
    sc.on_call(m, "zz_probe", lambda ctx, mo: seen.append((ctx.step, wrapper(w0.clone()).clone())))
    _sample(m, c, steps=30, sampler="euler")
    assert [s for s, _ in seen] == list(range(30))
    for i, live in seen:
        ref = w0.double() + (i / 29) * delta
        assert torch.allclose(live.double(), ref, rtol=0, atol=4 * torch.finfo(torch.float32).eps * ref.abs().max())
    assert torch.equal(_weights(model)[key], w0)


@pytest.mark.parametrize("schedule,steps,mode,expected", [
    # loractl: the call at sampler step i reads sampling_step max(i-1, 0); x = s/(steps-2) (hand-derived)
    ("0@0,1@1", 6, "loractl", [0, 0, 0.25, 0.5, 0.75, 1.0]),
    ("1@0,0@0.5", 6, "loractl", [1, 1, 0.5, 0, 0, 0]),
    ("0@0,1@4", 6, "loractl", [0, 0, 0.25, 0.5, 0.75, 1.0]),     # absolute positions: x = sampling_step
    ("0.5", 4, "loractl", [0.5] * 4),                          # plain number: no schedule, static patch
    ("0@0,1@1", 6, "exact", [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
])
def test_per_step_weights_follow_loractl(sd15, schedule, steps, mode, expected):
    model, clip = sd15
    m, c = _scheduled(model, clip, schedule, mode=mode, name="forgeline_sd15_kohya")
    seen = []
    sc.on_call(m, "zz_probe", lambda ctx, mo: seen.append((ctx.extra.get("lora_weights") or [[None]])[-1][:1] or [None]))
    _sample(m, c, steps=steps, sampler="euler_ancestral")
    seen = [s[0] for s in seen]
    if "@" not in schedule:
        assert seen == [None] * steps and m.patches   # constant: ComfyUI patches, no wrappers
        return
    assert all(math.isclose(a, b, abs_tol=1e-12) for a, b in zip(seen, expected)) and len(seen) == steps
