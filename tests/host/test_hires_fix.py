"""HiRes Fix (A1111) against the native ComfyUI graph it replaces, run in-process on ComfyUI 0.3.75:
``LatentUpscaleBy``/``LatentUpscale`` (or ``VAEDecode → ImageScale(lanczos) → VAEEncode``) then ``KSampler`` with the
first pass's seed, the hires steps and the denoise (comfyanonymous/ComfyUI_examples ``2_pass_txt2img``; A1111
``sample_hr_pass`` reuses the first pass's seeds and runs ``hr_second_pass_steps`` over ``int(steps/denoise)`` levels).
Antialiased latent modes are
checked against PIL's resampling filters (PyTorch's antialiased kernels follow PIL)."""
import numpy as np
import pytest
import torch
from PIL import Image

import comfy.sd
import nodes as comfy_nodes

from forgeline.nodes import hires_fix as hf
from forgeline.host import sampling_hooks as sampling_context, upscale

SEED, STEPS, CFG = 5, 3, 6.0


@pytest.fixture(scope="module")
def sd15():
    from forgeline.scripts.comfy_server import MODELS_CACHE
    from forgeline.tests.fixtures.models import ensure_checkpoint

    path = ensure_checkpoint("sd15", MODELS_CACHE / "checkpoints")
    model, clip, vae, _ = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=True, output_clip=True)
    cond = clip.encode_from_tokens_scheduled(clip.tokenize("a red cube"))
    uncond = clip.encode_from_tokens_scheduled(clip.tokenize(""))
    first = comfy_nodes.common_ksampler(model, SEED, STEPS, CFG, "euler_ancestral", "normal", cond, uncond,
                                        {"samples": torch.zeros(1, 4, 8, 8)})[0]
    return model, vae, cond, uncond, first


def _native_pass(model, cond, uncond, latent, steps, denoise, sampler="euler_ancestral", scheduler="normal"):
    return comfy_nodes.common_ksampler(model, SEED, steps, CFG, sampler, scheduler, cond, uncond, latent,
                                       denoise=denoise)[0]["samples"]


def _ours(model, cond, uncond, first, **kw):
    args = dict(seed=SEED, steps=STEPS, cfg=CFG, sampler_name="euler_ancestral", scheduler="normal",
                noise_source="comfy")
    args.update(kw)
    return hf.hires_fix(model, cond, uncond, first, **args)["samples"]


@pytest.mark.parametrize("a1111_mode,comfy_mode,hires_steps,denoise", [
    ("Latent", "bilinear", 2, 0.5),
    ("Latent (nearest-exact)", "nearest-exact", 0, 0.45),   # hires steps 0 → the first pass's 3
    ("Latent (bicubic)", "bicubic", 4, 0.7),
])
def test_latent_hires_equals_native_upscale_plus_ksampler(sd15, a1111_mode, comfy_mode, hires_steps, denoise):
    model, _vae, cond, uncond, first = sd15
    up = comfy_nodes.LatentUpscaleBy().upscale(first, comfy_mode, 1.5)[0]
    ref = _native_pass(model, cond, uncond, up, hires_steps or STEPS, denoise)
    out = _ours(model, cond, uncond, first, upscaler=a1111_mode, upscale_by=1.5, hires_steps=hires_steps,
                denoise=denoise)
    assert out.shape == (1, 4, 12, 12)
    assert torch.equal(out, ref)


def test_hires_overrides_equal_native_with_those_settings(sd15):
    model, _vae, cond, uncond, first = sd15
    up = comfy_nodes.LatentUpscaleBy().upscale(first, "bilinear", 2.0)[0]
    ref = comfy_nodes.common_ksampler(model, SEED, 2, 3.0, "euler", "karras", uncond, cond, up, denoise=0.6)[0]
    out = _ours(model, cond, uncond, first, upscaler="Latent", upscale_by=2.0, hires_steps=2, denoise=0.6,
                hires_sampler="euler", hires_scheduler="karras", hires_cfg=3.0, hires_positive=uncond,
                hires_negative=cond)
    assert torch.equal(out, ref["samples"])


@torch.no_grad()
def test_pixel_lanczos_equals_native_decode_scale_encode(sd15):
    model, vae, cond, uncond, first = sd15
    image = comfy_nodes.VAEDecode().decode(vae, first)[0]
    image = comfy_nodes.ImageScale().upscale(image, "lanczos", 96, 96, "disabled")[0]
    up = comfy_nodes.VAEEncode().encode(vae, image)[0]
    ref = _native_pass(model, cond, uncond, up, STEPS, 0.5)
    out = _ours(model, cond, uncond, first, upscaler="Lanczos", upscale_by=1.5, denoise=0.5, vae=vae)
    assert torch.equal(out, ref)


class _DoubleNearest:
    """A stand-in UPSCALE_MODEL (×2 nearest), shaped like a spandrel ImageModelDescriptor."""
    scale = 2

    def __init__(self):
        import comfy.model_patcher
        self.model = torch.nn.Upsample(scale_factor=2, mode="nearest")
        # what ComfyUI 0.33's UpscaleModelLoader attaches (0.3.75 ignores it): a real patcher around the module
        self.patcher = comfy.model_patcher.ModelPatcher(self.model, load_device=torch.device("cpu"),
                                                        offload_device=torch.device("cpu"))

    def to(self, device):
        return self

    def __call__(self, x):
        return self.model(x)


@torch.no_grad()
def test_model_upscaler_runs_model_then_lanczos_to_target(sd15):
    model, vae, cond, uncond, first = sd15
    image = comfy_nodes.VAEDecode().decode(vae, first)[0]
    doubled = torch.nn.functional.interpolate(image.movedim(-1, 1), scale_factor=2, mode="nearest").movedim(1, -1)
    image = comfy_nodes.ImageScale().upscale(doubled.clamp(0, 1), "lanczos", 96, 96, "disabled")[0]
    up = comfy_nodes.VAEEncode().encode(vae, image)[0]
    ref = _native_pass(model, cond, uncond, up, STEPS, 0.5)
    out = _ours(model, cond, uncond, first, upscaler="Upscale model", upscale_by=1.5, denoise=0.5, vae=vae,
                upscale_model=_DoubleNearest())
    assert torch.equal(out, ref)


def test_resize_to_box_crops_like_a1111(sd15):
    model, _vae, cond, uncond, first = sd15
    # 64×64 → "resize to" 96×64: cover 96×96, truncate_y = (96 − 64)//8 = 4 latent rows, 2 above and 2 below.
    out = _ours(model, cond, uncond, first, upscaler="Latent", resize_width=96, resize_height=64, denoise=0.0)
    ref = comfy_nodes.LatentUpscale().upscale(first, "bilinear", 96, 96, "disabled")[0]["samples"][:, :, 2:10, :]
    assert out.shape == (1, 4, 8, 12)
    assert torch.equal(out, ref)


def test_hires_pass_is_marked_for_schedules(sd15):
    model, _vae, cond, uncond, first = sd15
    m = model.clone()
    seen = []
    sampling_context.on_call(m, "probe", lambda ctx, mo: seen.append(ctx))
    _ours(m, cond, uncond, first, upscaler="Latent", upscale_by=1.5, hires_steps=2, denoise=0.5)
    assert seen and all(ctx is seen[0] for ctx in seen)
    assert seen[0].extra["pass"] == "hires"
    assert seen[0].extra["first_pass_steps"] == STEPS and seen[0].extra["hires_steps"] == 2
    assert seen[0].steps == 2


@pytest.mark.parametrize("mode,resample", [("Latent (antialiased)", Image.Resampling.BILINEAR),
                                           ("Latent (bicubic antialiased)", Image.Resampling.BICUBIC)])
def test_antialiased_latent_modes_follow_pil_filters(mode, resample):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, 5, 7, generator=g)
    out = upscale.upscale_latent(x, 13, 9, mode)
    for c in range(2):
        pil = Image.fromarray(x[0, c].numpy().astype(np.float32), mode="F").resize((13, 9), resample=resample)
        assert np.allclose(out[0, c].numpy(), np.asarray(pil), atol=1e-4)


def test_bad_inputs_name_the_input(sd15):
    model, _vae, cond, uncond, first = sd15
    with pytest.raises(ValueError, match="vae"):
        _ours(model, cond, uncond, first, upscaler="Lanczos")
    with pytest.raises(ValueError, match="upscale_model"):
        _ours(model, cond, uncond, first, upscaler="Upscale model", vae=_vae)
    with pytest.raises(ValueError, match="upscale_by"):
        _ours(model, cond, uncond, {"samples": torch.zeros(1, 4, 512, 512)}, upscaler="Latent", upscale_by=8.0)
    assert "upscale_by" in hf.ForgelineHiResFix.validate_inputs(upscale_by=9.0)
    assert "resize_width" in hf.ForgelineHiResFix.validate_inputs(resize_width=8)
    assert "denoise" in hf.ForgelineHiResFix.validate_inputs(denoise=1.5)
    assert "upscaler" in hf.ForgelineHiResFix.validate_inputs(upscaler="ESRGAN_4x")
    assert hf.ForgelineHiResFix.validate_inputs(upscale_by=2.0, resize_width=0, denoise=0.5) is True
