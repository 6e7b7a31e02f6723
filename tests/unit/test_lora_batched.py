"""Per-image LoRA (lora/batched.py) against per-row float64 reference maths written out by hand here:
linear ``y_n = W x_n + s·(alpha/r)·up(down x_n)`` by einsum, LoCon as a conv with the merged kernel
``W + s·(alpha/r)·up·down`` (kohya's equivalence), LoHa as ``W + s·(alpha/r)·(w1a w1b)⊙(w2a w2b)``; rows of
images without a LoRA stay bit-identical to the base output; cfg rows map to images by ``n mod B``; loractl
step tables equal ``np.interp`` at loractl's positions."""
import pytest
import torch
import torch.nn.functional as F

from forgeline.lora.batched import BatchedLora, row_images, step_table, table_value
from forgeline.lora.formats.adapter import Adapter
from forgeline.lora.loractl import parse_keyframes

D = torch.float64


def _lora(target, out, inp, rank, alpha, kernel=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    down_shape = (rank, inp) if kernel is None else (rank, inp, kernel, kernel)
    up_shape = (out, rank) if kernel is None else (out, rank, 1, 1)
    a = Adapter(target[: -len(".weight")], "lora", {"up": torch.randn(up_shape, generator=g, dtype=D),
                                                    "down": torch.randn(down_shape, generator=g, dtype=D)},
                alpha=alpha)
    a.target = target
    return a


def _engine(images, shapes, weights=None):
    return BatchedLora(images, shapes, weight_of=(lambda k: weights[k]) if weights else None, compute_dtype=D)


def _const(v):
    return {"first": v, "hires": v}


def test_row_images_cfg_chunks():
    assert row_images(8, 2).tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert row_images(3, 1).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="latent batch size must equal the number of prompt lines"):
        row_images(6, 2, images=4)
    with pytest.raises(ValueError, match="not 2 whole-batch chunks"):
        row_images(5, 2)


def test_linear_mixed_rows_equal_per_row_reference():
    key = "m.lin.weight"
    out, inp, T = 6, 5, 7
    g = torch.Generator().manual_seed(1)
    w = torch.randn(out, inp, generator=g, dtype=D)
    a = _lora(key, out, inp, rank=3, alpha=1.5, seed=2)
    b = _lora(key, out, inp, rank=2, alpha=None, seed=3)
    eng = _engine(4, {key: (out, inp)})
    eng.add(0, "A", {key: [a]}, _const(0.8))
    eng.add(2, "A", {key: [a]}, _const(0.5))        # same adapter, another strength: one gathered use
    eng.add(3, "A", {key: [a]}, _const(0.3))        # images 2-3: one contiguous run
    eng.add(2, "B", {key: [b]}, _const(-1.25))
    # image 1: no LoRA
    eng.build()
    eng.begin_run(4)
    assert row_images(8, 2, images=4).tolist() == [0, 1, 2, 3, 0, 1, 2, 3]   # cond rows 0..3, uncond 4..7
    x = torch.randn(8, T, inp, generator=g, dtype=D)
    base = torch.einsum("oi,nti->nto", w, x)
    eng.begin_call(2, {"loractl": 0, "exact": 0})
    y = eng.apply("m.lin", x, base.clone())
    eng.end_call()

    def term(ad, s, xn):
        scale = (ad.alpha / ad.tensors["down"].shape[0]) if ad.alpha is not None else 1.0
        return s * scale * torch.einsum("or,ri,ti->to", ad.tensors["up"], ad.tensors["down"], xn)

    for n in range(8):
        img = n % 4
        ref = base[n].clone()
        if img == 0:
            ref += term(a, 0.8, x[n])
        if img == 2:
            ref += term(a, 0.5, x[n]) + term(b, -1.25, x[n])
        if img == 3:
            ref += term(a, 0.3, x[n])
        if img == 1:
            assert torch.equal(y[n], base[n]), "a row without LoRA must be untouched"
        else:
            assert torch.allclose(y[n], ref, rtol=1e-12, atol=1e-12), n
            assert not torch.allclose(y[n], base[n])


def test_use_on_every_image_takes_the_whole_batch():
    key = "m.lin.weight"
    a = _lora(key, 3, 4, rank=2, alpha=2.0, seed=21)
    eng = _engine(2, {key: (3, 4)})
    eng.add(0, "A", {key: [a]}, _const(1.0))
    eng.add(1, "A", {key: [a]}, _const(-0.5))
    eng.begin_run(1)
    x = torch.randn(4, 5, 4, dtype=D)
    eng.begin_call(2, {"loractl": 0, "exact": 0})
    y = eng.apply("m.lin", x, torch.zeros(4, 5, 3, dtype=D))
    for n, s in enumerate([1.0, -0.5, 1.0, -0.5]):
        ref = s * 1.0 * torch.einsum("or,ri,ti->to", a.tensors["up"], a.tensors["down"], x[n])
        assert torch.allclose(y[n], ref, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="not 2 chunk"):
        eng.apply("m.lin", x[:3], torch.zeros(3, 5, 3, dtype=D))


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 1), (1, 0)])
def test_locon_conv_rows_equal_merged_kernel_reference(stride, padding):
    key = "m.conv.weight"
    out, cin, k = 4, 3, 3
    g = torch.Generator().manual_seed(5)
    w = torch.randn(out, cin, k, k, generator=g, dtype=D)
    a = _lora(key, out, cin, rank=2, alpha=4.0, kernel=k, seed=6)
    eng = _engine(2, {key: (out, cin, k, k)})
    eng.add(1, "A", {key: [a]}, _const(0.7))
    eng.begin_run(1)
    x = torch.randn(4, cin, 9, 9, generator=g, dtype=D)
    base = F.conv2d(x, w, None, stride, padding)
    eng.begin_call(2, {"loractl": 0, "exact": 0})
    y = eng.apply("m.conv", x, base.clone(), stride=stride, padding=padding)
    # merged kernel W + s·(alpha/r)·up·down (up 1x1): Δ[o,i,h,w] = Σ_r up[o,r]·down[r,i,h,w]
    delta = torch.einsum("or,rihw->oihw", a.tensors["up"][:, :, 0, 0], a.tensors["down"]) * (4.0 / 2)
    ref = F.conv2d(x, w + 0.7 * delta, None, stride, padding)
    for n in range(4):
        if n % 2 == 0:
            assert torch.equal(y[n], base[n])
        else:
            assert torch.allclose(y[n], ref[n], rtol=1e-11, atol=1e-11)


def test_loha_dense_fallback_and_bias_delta():
    key, bkey = "m.lin.weight", "m.lin.bias"
    out, inp = 4, 6
    g = torch.Generator().manual_seed(9)
    w = torch.randn(out, inp, generator=g, dtype=D)
    t = {n: torch.randn(s, generator=g, dtype=D) for n, s in
         (("w1a", (out, 2)), ("w1b", (2, inp)), ("w2a", (out, 2)), ("w2b", (2, inp)))}
    loha = Adapter("m.lin", "loha", t, alpha=1.0)
    diff_b = Adapter("m.lin", "diff", {"diff": torch.randn(out, generator=g, dtype=D)}, param="bias")
    eng = _engine(2, {key: (out, inp), bkey: (out,)}, weights={key: w})
    eng.add(0, "H", {key: [loha], bkey: [diff_b]}, _const(0.6))
    eng.begin_run(1)
    x = torch.randn(2, 3, inp, generator=g, dtype=D)
    base = torch.einsum("oi,nti->nto", w, x)
    eng.begin_call(1, {"loractl": 0, "exact": 0})
    y = eng.apply("m.lin", x, base.clone())
    hada = (t["w1a"] @ t["w1b"]) * (t["w2a"] @ t["w2b"]) * (1.0 / 2)
    ref0 = torch.einsum("oi,ti->to", w + 0.6 * hada, x[0]) + 0.6 * diff_b.tensors["diff"]
    assert torch.allclose(y[0], ref0, rtol=1e-12, atol=1e-12)
    assert torch.equal(y[1], base[1])


def test_scheduled_strength_follows_loractl_table():
    key = "m.lin.weight"
    a = _lora(key, 3, 3, rank=1, alpha=1.0, seed=11)
    eng = _engine(2, {key: (3, 3)})
    ramp = parse_keyframes("0@0,1@1")
    eng.add(0, "A", {key: [a]}, _const(ramp), strength=2.0)
    eng.add(1, "A", {key: [a]}, _const(0.5))
    eng.begin_run(5)
    # loractl fraction mode: x = sampling_step / (steps - 2), np.interp on [0, 1] -> 0, 1/3, 2/3, 1, 1
    for step, expected in enumerate([0.0, 1 / 3, 2 / 3, 1.0, 1.0]):
        got = eng.strengths_at({"loractl": step, "exact": step})[0]
        assert got[0] == pytest.approx(2.0 * expected, abs=1e-12)
        assert got[1] == 0.5
    x = torch.randn(2, 2, 3, dtype=D)
    base = torch.zeros(2, 2, 3, dtype=D)
    eng.begin_call(1, {"loractl": 0, "exact": 0})
    y = eng.apply("m.lin", x, base.clone())
    assert torch.equal(y[0], base[0]), "strength 0 at step 0 leaves the row untouched"
    assert step_table(ramp, 1.0, 5, "exact") == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert table_value([1, 2, 3], 7) == 3.0 and table_value(0.25, 3) == 0.25


def test_refuses_norm_weights_and_unknown_keys():
    eng = _engine(1, {"m.norm.weight": (4,)})
    bad = Adapter("m.norm", "diff", {"diff": torch.zeros(4)})
    with pytest.raises(ValueError, match="not a Linear or Conv2d"):
        eng.add(0, "N", {"m.norm.weight": [bad]}, _const(1.0))
    with pytest.raises(ValueError, match="does not have"):
        eng.add(0, "N", {"m.other.weight": [bad]}, _const(1.0))
    with pytest.raises(ValueError, match="outside the batch"):
        eng.add(3, "N", {}, _const(1.0))


def test_factors_are_built_once_per_adapter_and_stay_exact():
    """A second engine over the same adapter object (a queued job reusing a cached LoRA file) gets the factors
    the first one built, and still the hand reference; another adapter object (equal content) gets its own."""
    key = "m.lin.weight"
    out, inp = 4, 3
    a = _lora(key, out, inp, rank=2, alpha=1.0, seed=5)
    g = torch.Generator().manual_seed(6)
    x = torch.randn(2, inp, generator=g, dtype=D)
    engines = []
    for strength in (0.5, -2.0):
        eng = _engine(1, {key: (out, inp)})
        eng.add(0, "A", {key: [a]}, _const(strength))
        eng.begin_run(1)
        eng.begin_call(2, {"loractl": 0, "exact": 0})
        y = eng.apply("m.lin", x, torch.zeros(2, out, dtype=D))
        eng.end_call()
        ref = strength * 0.5 * torch.einsum("or,ri,ni->no", a.tensors["up"], a.tensors["down"], x)
        assert torch.allclose(y, ref, rtol=1e-12, atol=1e-12)
        engines.append(eng)
    first, second = (e.layers["m.lin"]["weight"][0].tensors for e in engines)
    assert first[0] is second[0] and first[1] is second[1]
    other = _lora(key, out, inp, rank=2, alpha=1.0, seed=5)        # equal content, another object
    eng = _engine(1, {key: (out, inp)})
    eng.add(0, "A", {key: [other]}, _const(1.0))
    eng.build()
    assert eng.layers["m.lin"]["weight"][0].tensors[0] is not first[0]


def _every_row(shapes):
    return BatchedLora(1, shapes, compute_dtype=D, every_row=True)


def test_every_row_mode_applies_to_any_row_count_at_the_steps_strength():
    """Every-row mode (scheduled strength for a whole batch): each of any number of rows gets
    ``W x + s(t)·(alpha/r)·up(down x)`` (linear, einsum reference) and a LoCon conv equals the merged-kernel conv,
    with ``s(t)`` read from the exact-mode ramp table at the call's step."""
    lin, conv, bias = "m.lin.weight", "m.conv.weight", "m.conv.bias"
    g = torch.Generator().manual_seed(21)
    w = torch.randn(5, 4, generator=g, dtype=D)
    wc = torch.randn(3, 2, 3, 3, generator=g, dtype=D)
    a = _lora(lin, 5, 4, rank=2, alpha=1.0, seed=22)
    c = _lora(conv, 3, 2, rank=2, alpha=2.0, kernel=3, seed=23)
    db = Adapter("m.conv", "diff", {"diff": torch.randn(3, generator=g, dtype=D)}, param="bias")
    eng = _every_row({lin: (5, 4), conv: (3, 2, 3, 3), bias: (3,)})
    ramp = parse_keyframes("0@0,1@1")
    eng.add(0, "R", {lin: [a], conv: [c], bias: [db]}, _const(ramp), strength=0.8, mode="exact")
    eng.begin_run(5)
    for rows, step in ((6, 1), (3, 3), (2, 4)):
        s = 0.8 * step / 4                       # exact mode: x = i / (steps - 1)
        eng.begin_call(1, {"loractl": step, "exact": step})
        x = torch.randn(rows, 7, 4, generator=g, dtype=D)
        y = eng.apply("m.lin", x, torch.einsum("oi,nti->nto", w, x))
        ref = torch.einsum("oi,nti->nto", w, x) + s * torch.einsum("or,ri,nti->nto", a.tensors["up"],
                                                                    a.tensors["down"], x) * (1.0 / 2)
        assert torch.allclose(y, ref, rtol=1e-12, atol=1e-12), (rows, step)
        xc = torch.randn(rows, 2, 6, 6, generator=g, dtype=D)
        yc = eng.apply("m.conv", xc, F.conv2d(xc, wc, None, 1, 1), padding=1)
        delta = torch.einsum("or,rihw->oihw", c.tensors["up"][:, :, 0, 0], c.tensors["down"]) * (2.0 / 2)
        refc = F.conv2d(xc, wc + s * delta, s * db.tensors["diff"], 1, 1)
        assert torch.allclose(yc, refc, rtol=1e-11, atol=1e-11), (rows, step)
        eng.end_call()
    eng.begin_call(1, {"loractl": 0, "exact": 0})          # strength 0: the output is not touched
    x = torch.randn(2, 7, 4, generator=g, dtype=D)
    base = torch.einsum("oi,nti->nto", w, x)
    assert torch.equal(eng.apply("m.lin", x, base.clone()), base)
    with pytest.raises(ValueError, match="images must be 1"):
        BatchedLora(2, {lin: (5, 4)}, every_row=True)


def test_every_row_input_token_reuses_the_strength_one_term():
    """With an input token (cross-attention K/V on an unchanged text conditioning) the strength-1 term is computed
    once and scaled per step: results equal the reference at each strength; the token, not ``x``, decides reuse
    (the caller's contract), a new token recomputes, and a new run forgets every kept term."""
    key = "m.k.weight"
    g = torch.Generator().manual_seed(31)
    w = torch.randn(4, 6, generator=g, dtype=D)
    a = _lora(key, 4, 6, rank=3, alpha=1.5, seed=32)
    eng = _every_row({key: (4, 6)})
    eng.add(0, "K", {key: [a]}, _const(parse_keyframes("0@0,1@1")), mode="exact")
    eng.begin_run(3)
    ctx = torch.randn(2, 5, 6, generator=g, dtype=D)

    def ref(x, s):
        return torch.einsum("oi,nti->nto", w, x) + s * 0.5 * torch.einsum("or,ri,nti->nto", a.tensors["up"],
                                                                          a.tensors["down"], x)

    for step in (1, 2):
        eng.begin_call(1, {"loractl": step, "exact": step})
        y = eng.apply("m.k", ctx, torch.einsum("oi,nti->nto", w, ctx), input_token=7)
        assert torch.allclose(y, ref(ctx, step / 2), rtol=1e-12, atol=1e-12)
    other = torch.randn(2, 5, 6, generator=g, dtype=D)
    stale = eng.apply("m.k", other, torch.einsum("oi,nti->nto", w, other), input_token=7)
    assert not torch.allclose(stale, ref(other, 1.0)), "same token: the kept term is reused"
    fresh = eng.apply("m.k", other, torch.einsum("oi,nti->nto", w, other), input_token=8)
    assert torch.allclose(fresh, ref(other, 1.0), rtol=1e-12, atol=1e-12)
    eng.begin_run(3)
    eng.begin_call(1, {"loractl": 2, "exact": 2})
    again = eng.apply("m.k", ctx, torch.einsum("oi,nti->nto", w, ctx), input_token=8)
    assert torch.allclose(again, ref(ctx, 1.0), rtol=1e-12, atol=1e-12)
