"""LoRA formats: parsing, detection, key mapping, ΔW and merge maths against independent float64 references.

References: kohya ``networks/lora.py`` ``merge_to`` / forward ``org(x) + up(down(x))·m·alpha/r``; LyCORIS
``lycoris/modules/{loha,lokr,ia3,full}.py`` formulas; DoRA output/input-axis normalisation by ‖W+ΔW‖ (LyCORIS
``locon.py``, PEFT ``dora.py``); PEFT scale 1 without config; mapping examples computed with ComfyUI 0.3.75
``comfy/lora.py`` ``model_lora_keys_unet``. The float64 references below are
written from those formulas directly (explicit loops / conv forwards / einsum index formulas), reading the tensors
straight from the file with ``safetensors``, not through the code under test.
"""
import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from forgeline.lora.formats import (adapter_update, LoraFileError, delta_weight, detect_format, dora_axis, load_lora, lora_factors,
                                    lora_key_map, parse_lora_tensors, split_lora_key)
from forgeline.tests.fixtures.lora_files import (tiny_sd15_targets, tiny_sdxl_targets, write_diffusers_lora, write_dora,
                                       write_full_diff, write_ia3, write_kohya_lora, write_loha, write_lokr,
                                       write_peft_lora)

D = "diffusion_model."
TO_Q = D + "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"
TO_OUT = D + "input_blocks.1.1.transformer_blocks.0.attn1.to_out.0.weight"
PROJ_IN = D + "input_blocks.1.1.proj_in.weight"
CONV1 = D + "input_blocks.1.0.in_layers.2.weight"
DOWNSAMPLE = D + "input_blocks.3.0.op.weight"
TE_Q = "clip_l.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight"
K_TO_Q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"
K_CONV1 = "lora_unet_down_blocks_0_resnets_0_conv1"


def merged_weight(weight, adapters_with_strengths, compute_dtype=torch.float32):
    """``round(W + Σ λ·U(W))`` summed in fp32 (the constant-patch rule of host/weight_adapter.py) with the product's
    ``adapter_update``; the tests compare it with float64 re-derivations of each format."""
    compute_dtype = torch.promote_types(weight.dtype, compute_dtype)
    acc = weight.to(compute_dtype).clone()
    for adapter, strength in adapters_with_strengths:
        if strength:
            acc.add_(adapter_update(adapter, weight.to(compute_dtype), compute_dtype), alpha=float(strength))
    return acc.to(weight.dtype)


def base_weights(targets, seed=123):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=g, dtype=torch.float64) * 0.2 for k, s in targets.items()}


def rel_err(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm())


def merged_for(path, targets, strength, dtype=torch.float32):
    """Our merged weights (computed in ``dtype``) for every matched target."""
    loaded = load_lora(path, targets)
    W = base_weights(targets)
    out = {}
    for key, adapters in loaded.by_target.items():
        out[key] = merged_weight(W[key].to(dtype), [(a, strength) for a in adapters], compute_dtype=dtype)
    return loaded, W, out


# ---------------------------------------------------------------------------------------------- kohya / LoCon

@pytest.mark.parametrize("alpha,expected_scale", [(None, 1.0), (2.0, 0.5), (8.0, 2.0), (False, 1.0)])
def test_kohya_linear_merge_matches_forward_reference(tmp_path, alpha, expected_scale):
    """Linear: W' x == W x + λ·(alpha/r)·up(down(x)) (kohya forward, line 121), in fp32 ≤ 1e-5 relative."""
    t = tiny_sd15_targets()
    p = write_kohya_lora(tmp_path, t, rank=4, alpha=alpha, seed=1)
    raw = {k: v.double() for k, v in load_file(str(p)).items()}
    loaded, W, merged = merged_for(p, t, 0.7)
    up, down = raw[f"{K_TO_Q}.lora_up.weight"], raw[f"{K_TO_Q}.lora_down.weight"]
    assert {a.scale for a in loaded.adapters} == {expected_scale}
    x = torch.randn(5, 8, dtype=torch.float64)
    ref = x @ W[TO_Q].T + 0.7 * expected_scale * ((x @ down.T) @ up.T)
    assert rel_err(x @ merged[TO_Q].double().T, ref) < 1e-5


def test_kohya_conv3x3_locon_merge_matches_conv_forward(tmp_path):
    """3×3 LoCon: conv(x, W') == conv(x, W) + λ·s·up(down(x)) with down a 3×3 conv and up 1×1 (kohya ``merge_to``)."""
    t = tiny_sd15_targets()
    p = write_kohya_lora(tmp_path, t, rank=4, alpha=2.0, seed=2)
    raw = {k: v.double() for k, v in load_file(str(p)).items()}
    loaded, W, merged = merged_for(p, t, 0.9)
    down, up = raw[f"{K_CONV1}.lora_down.weight"], raw[f"{K_CONV1}.lora_up.weight"]
    assert down.shape == (4, 6, 3, 3) and up.shape == (8, 4, 1, 1)
    x = torch.randn(2, 6, 7, 7, dtype=torch.float64)
    ref = F.conv2d(x, W[CONV1], padding=1) + 0.9 * 0.5 * F.conv2d(F.conv2d(x, down, padding=1), up)
    assert merged[CONV1].shape == (8, 6, 3, 3)
    assert rel_err(F.conv2d(x, merged[CONV1].double(), padding=1), ref) < 1e-5
    # kohya merge_to for 3×3: conv2d(down.permute(1,0,2,3), up).permute(1,0,2,3)
    kohya = F.conv2d(down.permute(1, 0, 2, 3), up).permute(1, 0, 2, 3) * 0.5
    ours = delta_weight(next(a for a in loaded.adapters if a.target == CONV1), shape=(8, 6, 3, 3), dtype=torch.float64)
    assert torch.allclose(ours, kohya, rtol=1e-12, atol=1e-14)


def test_kohya_conv1x1_proj_in(tmp_path):
    """1×1 conv (SD1.5 proj_in): ΔW = (up.squeeze @ down.squeeze)[..., None, None] · s (kohya merge_to)."""
    t = tiny_sd15_targets()
    p = write_kohya_lora(tmp_path, t, rank=3, alpha=1.5, seed=3)
    raw = {k: v.double() for k, v in load_file(str(p)).items()}
    name = "lora_unet_down_blocks_0_attentions_0_proj_in"
    up, down = raw[f"{name}.lora_up.weight"], raw[f"{name}.lora_down.weight"]
    assert down.shape == (3, 8, 1, 1)
    loaded, W, merged = merged_for(p, t, 1.0)
    ref = W[PROJ_IN] + (up[:, :, 0, 0] @ down[:, :, 0, 0])[:, :, None, None] * (1.5 / 3)
    assert rel_err(merged[PROJ_IN], ref) < 1e-5


def test_tucker_lora_mid_matches_three_conv_forward(tmp_path):
    """Tucker LoCon: up(mid(down(x))) with 1×1 down, 3×3 mid, 1×1 up equals conv(x, ΔW) (ComfyUI lora.py:179-192)."""
    t = tiny_sd15_targets()
    p = write_kohya_lora(tmp_path, t, rank=4, alpha=4.0, seed=4, conv_mode="tucker")
    raw = {k: v.double() for k, v in load_file(str(p)).items()}
    assert f"{K_CONV1}.lora_mid.weight" in raw
    down, mid, up = (raw[f"{K_CONV1}.lora_{n}.weight"] for n in ("down", "mid", "up"))
    loaded, W, merged = merged_for(p, t, 0.6)
    x = torch.randn(2, 6, 6, 6, dtype=torch.float64)
    lora_y = F.conv2d(F.conv2d(F.conv2d(x, down), mid, padding=1), up)
    ref = F.conv2d(x, W[CONV1], padding=1) + 0.6 * lora_y
    assert rel_err(F.conv2d(x, merged[CONV1].double(), padding=1), ref) < 1e-5


def test_lora_factors_reproduce_delta(tmp_path):
    """B @ A from lora_factors equals ΔW.flatten(1), Tucker folded into A (the fused addmm path)."""
    t = tiny_sd15_targets()
    p = write_kohya_lora(tmp_path, t, rank=4, alpha=2.0, seed=5, conv_mode="tucker")
    for a in load_lora(p, t).adapters:
        B, A = lora_factors(a, t[a.target], dtype=torch.float64)
        assert torch.allclose(B @ A, delta_weight(a, shape=t[a.target], dtype=torch.float64).flatten(1), atol=1e-12)


def test_merge_is_from_pristine_and_rounds_once(tmp_path):
    """fp16 weight: result == round_fp16(W + λΔW computed in fp32), and strength 0 returns W bit-exactly (ComfyUI
    ``patch_weight_to_device`` rule)."""
    t = tiny_sd15_targets()
    p = write_kohya_lora(tmp_path, t, rank=4, seed=6)
    a = next(a for a in load_lora(p, t).adapters if a.target == TO_Q)
    raw = {k: v.double() for k, v in load_file(str(p)).items()}
    W16 = base_weights(t)[TO_Q].to(torch.float16)
    ref = (W16.double() + 0.8 * raw[f"{K_TO_Q}.lora_up.weight"] @ raw[f"{K_TO_Q}.lora_down.weight"]).to(torch.float16)
    got = merged_weight(W16, [(a, 0.8)])
    assert got.dtype == torch.float16
    assert (got.float() - ref.float()).abs().max() <= 2 * torch.finfo(torch.float16).eps * ref.float().abs().max()
    assert torch.equal(merged_weight(W16, [(a, 0.0)]), W16)


def test_two_loras_sum_linearly(tmp_path):
    """LCM + style: θ = θ + λ1 τ1 + λ2 τ2 (Luo et al. 2023, LCM-LoRA technical report)."""
    t = tiny_sd15_targets()
    p1 = write_kohya_lora(tmp_path, t, rank=4, seed=7, name="a")
    p2 = write_kohya_lora(tmp_path, t, rank=2, alpha=1.0, seed=8, name="b")
    a1 = next(a for a in load_lora(p1, t).adapters if a.target == TO_Q)
    a2 = next(a for a in load_lora(p2, t).adapters if a.target == TO_Q)
    r1 = {k: v.double() for k, v in load_file(str(p1)).items()}
    r2 = {k: v.double() for k, v in load_file(str(p2)).items()}
    W = base_weights(t)[TO_Q]
    ref = (W + 1.0 * r1[f"{K_TO_Q}.lora_up.weight"] @ r1[f"{K_TO_Q}.lora_down.weight"]
           + 0.8 * 0.5 * r2[f"{K_TO_Q}.lora_up.weight"] @ r2[f"{K_TO_Q}.lora_down.weight"])
    assert rel_err(merged_weight(W.float(), [(a1, 1.0), (a2, 0.8)]), ref) < 1e-5


# ------------------------------------------------------------------------------------------ diffusers / PEFT

@pytest.mark.parametrize("writer,kwargs,label", [
    (write_diffusers_lora, {}, "diffusers"),
    (write_diffusers_lora, {"style": "diffusers_old"}, "diffusers-old"),
    (write_peft_lora, {"prefix": "unet."}, "peft"),
    (write_peft_lora, {"prefix": "base_model.model."}, "peft"),
    (write_peft_lora, {"prefix": ""}, "peft"),
])
def test_diffusers_and_peft_attention_keys_load(tmp_path, writer, kwargs, label):
    """Attention keys ComfyUI 0.3.75 drops (Comfy-Org/ComfyUI#9753) map to the right layer; scale 1 without alpha."""
    t = tiny_sd15_targets()
    p = writer(tmp_path, t, rank=4, seed=9, **kwargs)
    raw = {k: v.double() for k, v in load_file(str(p)).items()}
    up_key = next(k for k in raw if "attn1" in k and ("to_q" in k) and (".up." in k or "lora_B" in k))
    down_key = up_key.replace("lora_B", "lora_A").replace(".up.", ".down.")
    loaded, W, merged = merged_for(p, t, 0.5)
    assert label in loaded.report.formats
    assert TO_Q in merged and TO_OUT in merged
    assert all(a.scale == 1.0 for a in loaded.adapters)
    ref = W[TO_Q] + 0.5 * raw[up_key] @ raw[down_key]
    assert rel_err(merged[TO_Q], ref) < 1e-5
    assert not loaded.report.unmatched


def test_diffusers_alpha_is_used(tmp_path):
    t = tiny_sd15_targets()
    p = write_diffusers_lora(tmp_path, t, rank=4, alpha=1.0, seed=10)
    assert {a.scale for a in load_lora(p, t).adapters} == {0.25}


def test_text_encoder_names_per_family(tmp_path):
    """SD1 ``lora_te_`` and SDXL ``lora_te1_``/``lora_te2_`` + ``text_encoder_2.`` (ComfyUI model_lora_keys_clip)."""
    sd1 = lora_key_map(tiny_sd15_targets())
    assert sd1["lora_te_text_model_encoder_layers_0_self_attn_q_proj"] == TE_Q
    assert sd1["text_encoder.text_model.encoder.layers.0.self_attn.q_proj"] == TE_Q
    xl = lora_key_map(tiny_sdxl_targets())
    g = "clip_g.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight"
    assert xl["lora_te1_text_model_encoder_layers_0_self_attn_q_proj"] == TE_Q
    assert xl["lora_te2_text_model_encoder_layers_0_self_attn_q_proj"] == g
    assert xl["text_encoder_2.text_model.encoder.layers.0.self_attn.q_proj"] == g
    p = write_kohya_lora(tmp_path, tiny_sdxl_targets(), rank=2, seed=11)
    loaded = load_lora(p, tiny_sdxl_targets())
    assert g in loaded.by_target and TE_Q in loaded.by_target
    assert any(a.module.startswith("lora_unet_input_blocks_4_1_") for a in loaded.adapters) is False
    ldm = write_kohya_lora(tmp_path, tiny_sdxl_targets(), rank=2, seed=11, naming="kohya_ldm", name="ldm")
    assert any(a.module.startswith("lora_unet_input_blocks_4_1_") for a in load_lora(ldm, tiny_sdxl_targets()).adapters)


# -------------------------------------------------------------------------------------------------- keymap

def sd15_layout_keys():
    """Real SD1.5 keys needed for the ComfyUI ``model_lora_keys_unet`` mapping examples (nrb=2: downsampler at
    input_blocks.3)."""
    return [D + k for k in (
        "input_blocks.0.0.weight", "input_blocks.1.0.in_layers.2.weight", "input_blocks.3.0.op.weight",
        "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight",
        "input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight", "middle_block.1.proj_in.weight",
        "output_blocks.11.1.transformer_blocks.0.ff.net.2.weight", "output_blocks.5.2.conv.weight",
        "output_blocks.2.1.conv.weight", "output_blocks.7.0.skip_connection.weight", "time_embed.0.weight",
        "middle_block.2.emb_layers.1.weight", "out.2.weight",
        "input_blocks.4.1.transformer_blocks.0.attn1.to_out.0.weight")]


@pytest.mark.parametrize("alias,target", [
    ("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q",
     "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"),
    ("lora_unet_down_blocks_0_resnets_0_conv1", "input_blocks.1.0.in_layers.2.weight"),
    ("lora_unet_mid_block_attentions_0_proj_in", "middle_block.1.proj_in.weight"),
    ("lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_ff_net_2",
     "output_blocks.11.1.transformer_blocks.0.ff.net.2.weight"),
    ("lora_unet_up_blocks_1_upsamplers_0_conv", "output_blocks.5.2.conv.weight"),
    ("lora_unet_up_blocks_0_upsamplers_0_conv", "output_blocks.2.1.conv.weight"),
    ("unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor.to_q",
     "input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight"),
    ("lycoris_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q",
     "input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight"),
    ("lora_unet_time_embedding_linear_1", "time_embed.0.weight"),
    ("lora_unet_conv_in", "input_blocks.0.0.weight"),
    ("lora_unet_conv_out", "out.2.weight"),
    ("lora_unet_up_blocks_2_resnets_1_conv_shortcut", "output_blocks.7.0.skip_connection.weight"),
    ("lora_unet_mid_block_resnets_1_time_emb_proj", "middle_block.2.emb_layers.1.weight"),
    ("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q",
     "input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight"),
    # modern diffusers / PEFT spellings ComfyUI 0.3.75 lacks (#9753)
    ("unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q",
     "input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight"),
    ("down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_out.0",
     "input_blocks.4.1.transformer_blocks.0.attn1.to_out.0.weight"),
    ("unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor.to_out",
     "input_blocks.4.1.transformer_blocks.0.attn1.to_out.0.weight"),
])
def test_sd15_mapping_examples_from_notes(alias, target):
    assert lora_key_map(sd15_layout_keys())[alias] == D + target


# ----------------------------------------------------------------------------------------------- LyCORIS

def test_loha_matches_hadamard_reference(tmp_path):
    """ΔW = (w1a w1b) ⊙ (w2a w2b) · alpha / w1b.shape[0]; elementwise loop reference."""
    t = tiny_sd15_targets()
    p = write_loha(tmp_path, t, rank=3, alpha=2.0, seed=12)
    raw = {k: v.double() for k, v in load_file(str(p)).items()}
    loaded, W, merged = merged_for(p, t, 0.75)
    assert "lycoris-loha" in loaded.report.formats
    for key, name in ((TO_Q, K_TO_Q), (CONV1, K_CONV1)):
        w1a, w1b, w2a, w2b = (raw[f"{name}.hada_{n}"] for n in ("w1_a", "w1_b", "w2_a", "w2_b"))
        out, inn = w1a.shape[0], w1b.shape[1]
        ref = torch.empty(out, inn, dtype=torch.float64)
        for o in range(out):
            for i in range(inn):
                ref[o, i] = sum(w1a[o, r] * w1b[r, i] for r in range(3)) * sum(w2a[o, r] * w2b[r, i] for r in range(3))
        ref = W[key] + 0.75 * (2.0 / 3) * ref.reshape(t[key])
        assert rel_err(merged[key], ref) < 1e-5


@pytest.mark.parametrize("decompose,expected_scale", [(True, 1.0), (False, 1.0)])
def test_lokr_matches_kronecker_index_formula(tmp_path, decompose, expected_scale):
    """ΔW[i·b+j, p·d+q] = w1[i,p]·w2[j,q]; scale alpha/r when w2 is decomposed (alpha 2, r 2), 1 when both full."""
    t = tiny_sd15_targets()
    p = write_lokr(tmp_path, t, rank=2, alpha=2.0, seed=13, decompose_w2=decompose)
    raw = {k: v.double() for k, v in load_file(str(p)).items()}
    loaded, W, merged = merged_for(p, t, 1.0)
    a = next(a for a in loaded.adapters if a.target == TO_Q)
    assert a.scale == expected_scale
    w1 = raw[f"{K_TO_Q}.lokr_w1"]
    w2 = raw[f"{K_TO_Q}.lokr_w2"] if not decompose else raw[f"{K_TO_Q}.lokr_w2_a"] @ raw[f"{K_TO_Q}.lokr_w2_b"]
    (A, C), (B, Dd) = w1.shape, w2.shape
    ref = torch.einsum("ip,jq->ijpq", w1, w2).reshape(A * B, C * Dd)
    assert rel_err(merged[TO_Q], W[TO_Q] + expected_scale * ref) < 1e-5
    assert merged[CONV1].shape == (8, 6, 3, 3)


def test_lokr_alpha_scale_uses_decomposed_rank(tmp_path):
    t = tiny_sd15_targets()
    p = write_lokr(tmp_path, t, rank=2, alpha=1.0, seed=14)
    assert {a.scale for a in load_lora(p, t).adapters} == {0.5}


@pytest.mark.parametrize("on_input", [False, True])
def test_ia3_scales_output_or_input_channels(tmp_path, on_input):
    """(IA)³: W' = W·(1 + λ·w) on the output axis, or the input axis with on_input (LyCORIS ia3.py)."""
    t = tiny_sd15_targets()
    p = write_ia3(tmp_path, t, seed=15, on_input=on_input)
    raw = {k: v.double() for k, v in load_file(str(p)).items()}
    loaded, W, merged = merged_for(p, t, 0.5)
    w = raw[f"{K_TO_Q}.weight"]
    ref = W[TO_Q].clone()
    for o in range(8):
        for i in range(8):
            ref[o, i] *= 1 + 0.5 * (w[i] if on_input else w[o])
    assert rel_err(merged[TO_Q], ref) < 1e-5
    assert loaded.adapters[0].alpha is None


def test_full_diff_and_bias(tmp_path):
    t = tiny_sd15_targets()
    p = write_full_diff(tmp_path, t, seed=16)
    raw = {k: v.double() for k, v in load_file(str(p)).items()}
    loaded, W, merged = merged_for(p, t, 0.3)
    assert rel_err(merged[TO_Q], W[TO_Q] + 0.3 * raw[f"{K_TO_Q}.diff"]) < 1e-5
    name = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0"
    bias = TO_OUT[:-len("weight")] + "bias"
    assert rel_err(merged[bias], W[bias] + 0.3 * raw[f"{name}.diff_b"]) < 1e-5
    assert "full-diff" in loaded.report.formats


# ----------------------------------------------------------------------------------------------------- DoRA

def dora_reference(W, dW, m, axis, strength):
    """Row (axis 0) or column (axis 1) loop: W + λ·(m·(W+ΔW)/‖W+ΔW‖ − W)."""
    wc = W + dW
    out = W.clone()
    n = wc.shape[axis]
    for j in range(n):
        sl = wc.select(axis, j)
        target = m.reshape(-1)[j] * sl / sl.norm()
        out.select(axis, j).copy_(W.select(axis, j) + strength * (target - W.select(axis, j)))
    return out


@pytest.mark.parametrize("axis", [0, 1])
def test_dora_normalises_updated_weight_on_its_axis(tmp_path, axis):
    """DoRA: norm of W+ΔW (LyCORIS/PEFT), not ComfyUI's ‖W‖ (#15458); at λ=1 each row/column has norm m."""
    t = tiny_sd15_targets()
    p = write_dora(tmp_path, t, rank=4, alpha=2.0, seed=17, axis=axis)
    raw = {k: v.double() for k, v in load_file(str(p)).items()}
    loaded, W, merged = merged_for(p, t, 1.0)
    assert "dora" in loaded.report.formats
    m = raw[f"{K_TO_Q}.dora_scale"]
    dW = 0.5 * raw[f"{K_TO_Q}.lora_up.weight"] @ raw[f"{K_TO_Q}.lora_down.weight"]
    assert rel_err(merged[TO_Q], dora_reference(W[TO_Q], dW, m, axis, 1.0)) < 1e-5
    norms = merged[TO_Q].double().norm(dim=1 - axis)
    assert torch.allclose(norms, m.reshape(-1), rtol=1e-5)
    # ComfyUI 0.3.75's output-axis form divides by ‖W‖ instead: a different weight
    if axis == 0:
        buggy = (W[TO_Q] + dW) * (m / W[TO_Q].norm(dim=1, keepdim=True))
        assert rel_err(buggy, merged[TO_Q].double()) > 1e-3
    # conv weights: 3×3 with the magnitude on the same axis
    mc = raw[f"{K_CONV1}.dora_scale"]
    assert torch.allclose(merged[CONV1].double().transpose(0, axis).flatten(1).norm(dim=1), mc.reshape(-1), rtol=1e-5)


def test_dora_strength_interpolates_from_w(tmp_path):
    """λ=0 gives W, λ=0.4 gives W + 0.4·(W_dora − W) (ComfyUI/sd-webui semantics, #3298)."""
    t = tiny_sd15_targets()
    p = write_dora(tmp_path, t, rank=4, seed=18, axis=0)
    raw = {k: v.double() for k, v in load_file(str(p)).items()}
    loaded, W, merged = merged_for(p, t, 0.4)
    dW = raw[f"{K_TO_Q}.lora_up.weight"] @ raw[f"{K_TO_Q}.lora_down.weight"]
    m = raw[f"{K_TO_Q}.dora_scale"]
    assert rel_err(merged[TO_Q], dora_reference(W[TO_Q], dW, m, 0, 0.4)) < 1e-5
    a = next(a for a in loaded.adapters if a.target == TO_Q)
    assert torch.equal(merged_weight(W[TO_Q], [(a, 0.0)]), W[TO_Q])


def test_peft_magnitude_vector_is_output_axis_dora(tmp_path):
    t = tiny_sd15_targets()
    p = write_peft_lora(tmp_path, t, rank=4, seed=19, magnitude=True, prefix="base_model.model.")
    raw = {k: v.double() for k, v in load_file(str(p)).items()}
    loaded, W, merged = merged_for(p, t, 1.0)
    mod = "base_model.model.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"
    dW = raw[f"{mod}.lora_B.weight"] @ raw[f"{mod}.lora_A.weight"]
    ref = dora_reference(W[TO_Q], dW, raw[f"{mod}.lora_magnitude_vector"], 0, 1.0)
    assert rel_err(merged[TO_Q], ref) < 1e-5


def test_dora_axis_rules():
    assert dora_axis(torch.ones(8, 1), (8, 8)) == 0
    assert dora_axis(torch.ones(1, 8), (8, 8)) == 1
    assert dora_axis(torch.ones(1, 6, 1, 1), (8, 6, 3, 3)) == 1
    assert dora_axis(torch.ones(8), (8, 6)) == 0
    with pytest.raises(LoraFileError, match="fits neither"):
        dora_axis(torch.ones(5), (8, 6))


# ------------------------------------------------------------------------------------ detection and report

def test_split_lora_key_longest_suffix():
    assert split_lora_key("a.b.lora_up.weight") == ("a.b", "kohya", "lora", "up")
    assert split_lora_key("unet.x.processor.to_q_lora.up.weight")[0] == "unet.x.processor.to_q"
    assert split_lora_key("x.lora_magnitude_vector.weight")[3] == "magnitude"
    assert split_lora_key("x.hada_w1_a")[2] == "loha"
    assert split_lora_key("something_else") is None


def test_unknown_and_unsupported_keys_are_reported(tmp_path):
    t = tiny_sd15_targets()
    tensors = {f"{K_TO_Q}.lora_up.weight": torch.randn(8, 2), f"{K_TO_Q}.lora_down.weight": torch.randn(2, 8),
               f"{K_CONV1}.lora_up.weight": torch.randn(8, 2, 1, 1),  # no down: incomplete
               "lora_unet_mid_block_attentions_0_proj_in.a1.weight": torch.randn(2, 2),  # GLoRA
               "lora_unet_nonexistent_layer.lora_up.weight": torch.randn(8, 2),
               "lora_unet_nonexistent_layer.lora_down.weight": torch.randn(2, 8), "junk": torch.zeros(1)}
    save_file(tensors, str(tmp_path / "mixed.safetensors"))
    rep = load_lora(tmp_path / "mixed.safetensors", t).report
    assert list(rep.matched.values()) == [TO_Q]
    assert "incomplete lora" in rep.unmatched[f"{K_CONV1}.lora_up.weight"]
    assert "GLoRA" in rep.unmatched["lora_unet_mid_block_attentions_0_proj_in.a1.weight"]
    assert rep.unmatched["lora_unet_nonexistent_layer"] == "no matching layer in this model"
    assert "junk" in rep.unmatched
    assert any("not loaded" in w for w in rep.warnings)


def test_report_metadata_ranks_and_alpha(tmp_path):
    t = tiny_sd15_targets()
    p = write_kohya_lora(tmp_path, t, rank=4, alpha=2.0, seed=20)
    rep = load_lora(p, t).report
    assert rep.base_model == "sd_v1" and rep.metadata_family == "sd1" and rep.key_family == "sd1"
    assert rep.ranks == {4: 11} and rep.alphas == {2.0: 11}
    assert rep.warnings == []
    assert json.loads(load_lora(p, t).metadata["ss_tag_frequency"])["10_sks woman"]["sks woman"] == 20
    assert detect_format(load_lora(p, t).adapters) == ["kohya", "kohya-locon"]


def test_sdxl_lora_on_sd15_model_warns(tmp_path):
    """An SDXL LoRA (metadata sdxl, attn2.to_k input 2048, lora_te2_) on an SD1.5 model is flagged."""
    xl = tiny_sdxl_targets()
    p = write_kohya_lora(tmp_path, xl, rank=2, seed=21, naming="kohya")
    rep = load_lora(p, tiny_sd15_targets()).report
    assert rep.metadata_family == "sdxl" and rep.key_family == "sdxl" and rep.model_family == "sd1"
    assert any("targets SDXL" in w and "model is SD1.x" in w for w in rep.warnings)


def test_shape_mismatch_is_reported_not_applied(tmp_path):
    """Same names, other widths (an SD2-style 1024 context on an SD1 layer): skipped with a shape reason."""
    t = tiny_sd15_targets()
    wrong = dict(t)
    wrong[D + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"] = (8, 1024)
    p = write_kohya_lora(tmp_path, wrong, rank=2, seed=22, metadata={})
    loaded = load_lora(p, t)
    name = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"
    assert "shape" in loaded.report.unmatched[name]
    assert loaded.report.key_family == "sd2"
    assert any("targets SD2.x" in w for w in loaded.report.warnings)
    assert any("do not fit" in w for w in loaded.report.warnings)
    assert all(a.module != name for a in loaded.adapters)


def test_delta_shape_mismatch_error_names_module():
    a, _ = parse_lora_tensors({"m.lora_up.weight": torch.ones(4, 2), "m.lora_down.weight": torch.ones(2, 5)})
    with pytest.raises(LoraFileError, match="'m'.*different model"):
        delta_weight(a[0], shape=(4, 6))


def test_file_with_no_lora_tensors_is_refused(tmp_path):
    save_file({"model.diffusion_model.x.weight": torch.ones(2, 2)}, str(tmp_path / "ckpt.safetensors"))
    with pytest.raises(LoraFileError, match="no tensors in a known LoRA format"):
        load_lora(tmp_path / "ckpt.safetensors", tiny_sd15_targets())


def test_peft_wrapped_lycoris_lokr_maps(tmp_path):
    """LyCORIS through PEFT: ``base_model.model.<diffusers path>.lokr_w1`` (Comfy-Org/ComfyUI#9753)."""
    t = tiny_sd15_targets()
    p = write_lokr(tmp_path, t, rank=2, alpha=2.0, seed=23, select=("attn1.to_q",))
    raw = load_file(str(p))
    renamed = {k.replace(K_TO_Q, "base_model.model.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"): v
               for k, v in raw.items()}
    save_file(renamed, str(tmp_path / "peft_lokr.safetensors"))
    loaded = load_lora(tmp_path / "peft_lokr.safetensors", t)
    assert list(loaded.by_target) == [TO_Q] and not loaded.report.unmatched
    assert loaded.report.formats == ["lycoris-lokr(peft)"]


# Literal attn-processor names (diffusers ``LoRAAttnProcessor`` state dicts, e.g. train_text_to_image_lora.py output
# before diffusers 0.20), written by hand here rather than by a fixture writer that uses the key map under test.
@pytest.mark.parametrize("module,canonical", [
    ("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_out",
     "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0"),
    ("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_q",
     "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"),
    ("unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_out.0",
     "unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_out.0"),
])
def test_canonical_diffusers_module_names(module, canonical):
    from forgeline.lora.formats.diffusers import canonical_diffusers_module
    assert canonical_diffusers_module(module) == canonical


def test_old_attn_processor_file_targets_to_out(tmp_path):
    t = tiny_sd15_targets()
    out_features, in_features = t[TO_OUT][:2]
    g = torch.Generator().manual_seed(3)
    prefix = "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor"
    tensors = {f"{prefix}.to_out_lora.up.weight": torch.randn(out_features, 4, generator=g),
               f"{prefix}.to_out_lora.down.weight": torch.randn(4, in_features, generator=g),
               f"{prefix}.to_q_lora.up.weight": torch.randn(t[TO_Q][0], 4, generator=g),
               f"{prefix}.to_q_lora.down.weight": torch.randn(4, t[TO_Q][1], generator=g)}
    path = tmp_path / "old_processor.safetensors"
    save_file(tensors, str(path))
    loaded = load_lora(path, t)
    assert set(loaded.by_target) == {TO_OUT, TO_Q}, loaded.report.summary()
    assert not loaded.report.unmatched
