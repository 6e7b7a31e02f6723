"""Our pure key map and merge maths against ComfyUI 0.3.75 itself (in-process, CPU, models on ``meta``).

- Key map: for SD1.5 and SDXL (full-size configs from ComfyUI's ``model_detection``) and the project's stand-in
  fixture configs, every alias ComfyUI's ``model_lora_keys_unet`` / ``model_lora_keys_clip`` maps to an existing
  key maps to the same key in ours; ours additionally answers the modern diffusers/PEFT attention names ComfyUI
  drops (Comfy-Org/ComfyUI#9753). Sizes of ComfyUI's maps were counted by running ComfyUI 0.3.75's
  ``model_lora_keys_unet`` on meta-device SD1.5 / SDXL UNets.
- Maths: ComfyUI's ``load_lora`` + ``calculate_weight`` is the reference merge for LoRA/LoCon/Tucker, LoHa, LoKr
  and diff; for output-axis DoRA ComfyUI divides by ‖W‖ (``comfy/weight_adapter/base.py`` ``weight_decompose``, #15458)
  and we deliberately differ.
"""
import pytest
import torch

import comfy.lora
import comfy.model_detection
import comfy.sd1_clip
import comfy.sdxl_clip
import comfy.utils

from forgeline.host.weight_adapter import ForgelinePatch
from forgeline.lora.formats import clip_lora_key_map, load_lora, lora_key_map, unet_lora_key_map

from forgeline.tests.fixtures import lora_files
from forgeline.tests.fixtures.models import SD15_UNET, SDXL_UNET


def merged_weight(weight, items):
    """The product's constant merge: one ForgelinePatch per key, strength 1 (ratios carry the per-LoRA strength)."""
    return ForgelinePatch.from_adapters(items).calculate_weight(weight.clone(), "key", 1.0, 1.0, None, lambda a: a)

_BASE = {"use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True,
         "legacy": False, "in_channels": 4, "model_channels": 320, "use_temporal_attention": False,
         "use_temporal_resblock": False}
FULL_SD15 = dict(_BASE, adm_in_channels=None, num_res_blocks=[2, 2, 2, 2], transformer_depth=[1, 1, 1, 1, 1, 1, 0, 0],
                 channel_mult=[1, 2, 4, 4], transformer_depth_middle=1, use_linear_in_transformer=False,
                 context_dim=768, num_heads=8, transformer_depth_output=[1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0])
FULL_SDXL = dict(_BASE, num_classes="sequential", adm_in_channels=2816, num_res_blocks=[2, 2, 2],
                 transformer_depth=[0, 0, 2, 2, 10, 10], channel_mult=[1, 2, 4], transformer_depth_middle=10,
                 use_linear_in_transformer=True, context_dim=2048, num_head_channels=64,
                 transformer_depth_output=[0, 0, 0, 2, 2, 2, 10, 10, 10])
CONFIGS = {"sd15": (FULL_SD15, 2697), "sdxl": (FULL_SDXL, 6970), "fixture_sd15": (SD15_UNET, None),
           "fixture_sdxl": (SDXL_UNET, None)}


def meta_unet(unet_config):
    mc = comfy.model_detection.model_config_from_unet_config(dict(unet_config))
    with torch.device("meta"):
        return mc.get_model({}, device="meta")


def meta_clip(family):
    cls = comfy.sdxl_clip.SDXLClipModel if "xl" in family else comfy.sd1_clip.SD1ClipModel
    with torch.device("meta"):
        return cls(device="meta", dtype=torch.float32)


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def model(request):
    cfg, expected = CONFIGS[request.param]
    return request.param, meta_unet(cfg), expected


def test_unet_map_agrees_with_comfy_and_adds_peft_names(model):
    name, unet, expected_size = model
    sd = unet.state_dict()
    theirs = comfy.lora.model_lora_keys_unet(unet, {})
    if expected_size:
        assert len(theirs) == expected_size  # counted with ComfyUI 0.3.75
    ours = unet_lora_key_map(sd.keys())
    live = {alias: key for alias, key in theirs.items() if isinstance(key, str) and key in sd}
    assert len(live) > 0.9 * len(theirs)
    wrong = {a: (k, ours.get(a)) for a, k in live.items() if ours.get(a) != k}
    assert not wrong, list(wrong.items())[:5]
    # every attention projection is also reachable under the modern diffusers / PEFT names ComfyUI lacks
    diffusers = comfy.utils.unet_to_diffusers(unet.model_config.unet_config)
    added = 0
    for dkey, ldm in diffusers.items():
        if ".to_" in dkey and dkey.endswith(".weight") and f"diffusion_model.{ldm}" in sd:
            path = dkey[: -len(".weight")]
            for alias in (path, "unet." + path):
                assert alias not in theirs
                assert ours[alias] == f"diffusion_model.{ldm}"
                added += 1
    assert added > 0


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_clip_map_agrees_with_comfy(family):
    clip = meta_clip(family)
    keys = list(clip.state_dict().keys())
    theirs = comfy.lora.model_lora_keys_clip(clip, {})
    ours = clip_lora_key_map(keys)
    wrong = {a: (k, ours.get(a)) for a, k in theirs.items() if k in keys and ours.get(a) != k}
    assert not wrong, list(wrong.items())[:5]
    if family == "sdxl":
        assert ours["lora_te2_text_model_encoder_layers_31_self_attn_out_proj"].startswith("clip_g.")
        assert ours["lora_te1_text_model_encoder_layers_11_mlp_fc2"].startswith("clip_l.")
    else:
        assert ours["lora_te_text_model_encoder_layers_0_self_attn_q_proj"].startswith("clip_l.")


# --------------------------------------------------------------------------------------- merge vs ComfyUI

def _targets(family):
    unet = meta_unet(SD15_UNET if family == "sd15" else SDXL_UNET)
    shapes = {k: tuple(v.shape) for k, v in unet.state_dict().items()}
    shapes.update({k: tuple(v.shape) for k, v in meta_clip(family).state_dict().items()})
    picks = ("attn1.to_q.weight", "attn2.to_k.weight", "proj_in.weight", "in_layers.2.weight", "0.op.weight",
             "self_attn.q_proj.weight")
    chosen = {}
    for k in sorted(shapes):
        for p in picks:
            if k.endswith(p) and not any(c.endswith(p) and c.split(".")[0] == k.split(".")[0] for c in chosen):
                if ("layers.0." in k or not k.startswith("clip")):
                    chosen[k] = shapes[k]
    return chosen, shapes


def _comfy_merge(path, key_map, weights):
    sd = comfy.utils.load_torch_file(str(path), safe_load=True)
    patches = comfy.lora.load_lora(sd, key_map, log_missing=False)
    out = {}
    for key, patch in patches.items():
        if key in weights:
            w = weights[key].clone().float()
            out[key] = comfy.lora.calculate_weight([(0.7, patch, 1.0, None, None)], w, key)
    return out


WRITERS = {
    "kohya": lambda d, t: lora_files.write_kohya_lora(d, t, rank=4, alpha=2.0, seed=1, name="k"),
    "tucker": lambda d, t: lora_files.write_kohya_lora(d, t, rank=4, alpha=3.0, seed=2, conv_mode="tucker", name="t"),
    "loha": lambda d, t: lora_files.write_loha(d, t, rank=3, alpha=2.0, seed=3),
    "lokr": lambda d, t: lora_files.write_lokr(d, t, rank=2, alpha=1.0, seed=4),
    "lokr_full": lambda d, t: lora_files.write_lokr(d, t, seed=5, decompose_w2=False, name="lf"),
    "diff": lambda d, t: lora_files.write_full_diff(d, t, seed=6),
    "dora_in": lambda d, t: lora_files.write_dora(d, t, rank=4, seed=7, axis=1),
    "diffusers_old": lambda d, t: lora_files.write_diffusers_lora(d, t, rank=4, seed=8, style="diffusers_old"),
}


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_merged_weight_equals_comfy_calculate_weight(tmp_path, family, fmt):
    targets, all_shapes = _targets(family)
    path = WRITERS[fmt](tmp_path, targets)
    g = torch.Generator().manual_seed(0)
    weights = {k: torch.randn(s, generator=g) * 0.1 for k, s in targets.items()}
    key_map = lora_key_map(all_shapes)
    theirs = _comfy_merge(path, key_map, weights)
    loaded = load_lora(path, all_shapes)
    assert not loaded.report.unmatched
    assert set(loaded.by_target) == set(theirs) and theirs
    for key, adapters in loaded.by_target.items():
        ours = merged_weight(weights[key], [(a, 0.7) for a in adapters])
        err = float((ours - theirs[key]).norm() / theirs[key].norm())
        assert err < 1e-5, (key, err)


def test_output_axis_dora_differs_from_comfy_by_the_norm_bug(tmp_path):
    """ComfyUI 0.3.75 normalises output-axis DoRA by ‖W‖; ours by ‖W+ΔW‖, so at strength 1 our rows have norm m."""
    targets, all_shapes = _targets("sd15")
    key = next(k for k in targets if k.endswith("attn1.to_q.weight"))
    path = lora_files.write_dora(tmp_path, {key: targets[key]}, family="sd1", rank=4, alpha=4.0, seed=9, axis=0)
    W = torch.randn(targets[key], generator=torch.Generator().manual_seed(1)) * 0.1
    sd = comfy.utils.load_torch_file(str(path), safe_load=True)
    patches = comfy.lora.load_lora(sd, lora_key_map(all_shapes), log_missing=False)
    theirs = comfy.lora.calculate_weight([(1.0, patches[key], 1.0, None, None)], W.clone(), key)
    a = load_lora(path, all_shapes).by_target[key]
    ours = merged_weight(W, [(x, 1.0) for x in a])
    m = next(v for k, v in sd.items() if k.endswith("dora_scale")).reshape(-1)
    assert torch.allclose(ours.norm(dim=1), m, rtol=1e-5)
    assert not torch.allclose(theirs.norm(dim=1), m, rtol=1e-3)


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_fixture_files_for_the_standin_models_load_completely(tmp_path, family):
    """Every fixture format written for the real stand-in model's keys loads with nothing left over, and ComfyUI
    itself loads the kohya file with no missing key."""
    _, all_shapes = _targets(family)
    paths = lora_files.write_all(tmp_path, all_shapes)
    for fmt, path in paths.items():
        loaded = load_lora(path, all_shapes)
        assert loaded.adapters and not loaded.report.unmatched, (fmt, list(loaded.report.unmatched.items())[:3])
        assert not loaded.report.warnings, (fmt, loaded.report.warnings)
        assert path.stat().st_size < 8_000_000
    sd = comfy.utils.load_torch_file(str(paths["kohya"]), safe_load=True)
    key_map = comfy.lora.model_lora_keys_unet(meta_unet(SD15_UNET if family == "sd15" else SDXL_UNET), {})
    key_map = comfy.lora.model_lora_keys_clip(meta_clip(family), key_map)
    patches = comfy.lora.load_lora(sd, key_map, log_missing=False)
    assert len(patches) == len(load_lora(paths["kohya"], all_shapes).adapters)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fixture_names_are_the_ones_comfy_resolves(name):
    """The fixture writers name modules by their own rules (tests/fixtures/lora_files.py, not lora/keymap.py); every
    kohya, kohya-LDM and diffusers name they give a UNet or CLIP weight must be one ComfyUI's own
    ``model_lora_keys_unet`` / ``model_lora_keys_clip`` resolves to that weight (diffusers names checked against
    ``unet_to_diffusers``, which ComfyUI maps only in the processor spelling). The fixtures' names equal the ones
    this pack's key map prefers (checked once when they were written: 0 of 1769 differ), so no fixture changed."""
    cfg, _ = CONFIGS[name]
    unet = meta_unet(cfg)
    family = "sdxl" if "xl" in name else "sd15"
    clip = meta_clip(family)
    shapes = {k: tuple(v.shape) for k, v in unet.state_dict().items()}
    shapes.update({k: tuple(v.shape) for k, v in clip.state_dict().items()})
    theirs = comfy.lora.model_lora_keys_unet(unet, {})
    theirs = comfy.lora.model_lora_keys_clip(clip, theirs)
    diffusers = {f"unet.{d[:-len('.weight')]}": f"diffusion_model.{ldm}"
                 for d, ldm in comfy.utils.unet_to_diffusers(unet.model_config.unet_config).items()}
    has_diffusers_name = set(diffusers.values())
    names = lora_files._Names(shapes, "sdxl" if family == "sdxl" else "sd1")
    checked, wrong = 0, []
    for key, shape in shapes.items():
        if not key.endswith(".weight") or len(shape) not in (2, 4):
            continue
        if not key.startswith("diffusion_model.") and ".encoder.layers." not in key:
            continue  # ComfyUI names only the encoder layers' projections of a CLIP
        for style in ("kohya", "kohya_ldm", "diffusers"):
            alias = names.get(key, style)
            if alias is None:
                if style == "diffusers" and key in has_diffusers_name:
                    wrong.append((key, style, None, "ComfyUI has a diffusers name"))
                continue
            if style == "diffusers" and key.startswith("diffusion_model."):
                found = diffusers.get(alias)
            else:
                found = theirs.get(alias)
            checked += 1
            if found != key:
                wrong.append((key, style, alias, found))
    assert checked > 200 and not wrong, (checked, wrong[:5])
