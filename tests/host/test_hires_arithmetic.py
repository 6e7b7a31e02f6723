"""A1111 HiRes-fix step and size arithmetic against values derived by hand from A1111 1.10 ``processing.py``
(``calculate_target_resolution``) and ``sd_samplers_common.setup_img2img_steps``; the window against ComfyUI's own
``BasicScheduler``."""
import pytest
import torch

from forgeline.samplers import (
    hires_pass_steps, hires_schedule_length, hires_sigma_start, hires_target_size,
)


@pytest.mark.parametrize("first,hires,expected", [(20, 0, 20), (20, 10, 10), (4, 7, 7), (1, 0, 1)])
def test_hires_steps_zero_means_first_pass(first, hires, expected):
    assert hires_pass_steps(first, hires) == expected


@pytest.mark.parametrize("steps,denoise,total", [
    (20, 0.5, 40),     # 20 / 0.5
    (10, 0.3, 33),     # 33.33… truncates
    (7, 0.7, 10),      # 7 / 0.7 = 10.000000000000002
    (14, 0.5, 28),     # comfyanonymous/ComfyUI_examples 2_pass_txt2img, second KSampler
    (20, 1.0, 20),     # int(20 / 0.999) = 20
    (999, 1.0, 1000),  # A1111 caps denoise at 0.999: int(999 / 0.999) = 1000 (ComfyUI: 999)
    (20, 0.0, 0),      # denoise 0: nothing to run
])
def test_schedule_length_is_a1111_setup_img2img_steps(steps, denoise, total):
    assert hires_schedule_length(steps, denoise) == total


@pytest.mark.parametrize("steps", [1, 4, 14, 20, 33])
@pytest.mark.parametrize("denoise", [0.05, 0.3, 0.45, 0.5, 0.7, 0.99])
def test_window_equals_comfy_basic_scheduler_below_0999(sd15_sampling, steps, denoise):
    """The hires window (A1111 ``setup_img2img_steps`` length, its last ``steps`` levels) equals ComfyUI's own
    ``BasicScheduler`` at that denoise (comfy_extras/nodes_custom_sampler.py), run on a real SD1.5 model."""
    import comfy.samplers
    from comfy_extras import nodes_custom_sampler as ncs

    basic = ncs.BasicScheduler.execute(sd15_sampling, "normal", steps, denoise)
    ref = basic[0] if isinstance(basic, tuple) else basic.result[0]
    total = hires_schedule_length(steps, denoise)
    assert total == int(steps / denoise)
    full = comfy.samplers.calculate_sigmas(sd15_sampling.get_model_object("model_sampling"), "normal", total)
    assert torch.equal(full[hires_sigma_start(total, steps):].cpu(), ref.cpu())


@pytest.fixture(scope="module")
def sd15_sampling():
    import comfy.sd
    from forgeline.scripts.comfy_server import MODELS_CACHE
    from forgeline.tests.fixtures.models import ensure_checkpoint

    path = ensure_checkpoint("sd15", MODELS_CACHE / "checkpoints")
    model, _, _, _ = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=False, output_clip=False)
    return model


@pytest.mark.parametrize("bad", [
    lambda: hires_pass_steps(0, 0), lambda: hires_pass_steps(20, -1), lambda: hires_schedule_length(20, 1.5),
    lambda: hires_schedule_length(20, float("nan")), lambda: hires_sigma_start(10, 11),
    lambda: hires_pass_steps(20, 2.5),
])
def test_bad_step_input_is_rejected(bad):
    with pytest.raises(ValueError):
        bad()


@pytest.mark.parametrize("w,h,kw,to,trunc,final", [
    (512, 512, dict(scale=2.0), (1024, 1024), (0, 0), (1024, 1024)),
    (512, 768, dict(scale=1.5), (768, 1152), (0, 0), (768, 1152)),
    (512, 512, dict(scale=1.3), (665, 665), (0, 0), (664, 664)),      # int(665.6) = 665, floored to 8 by the latent
    (520, 520, dict(scale=1.5), (780, 780), (0, 0), (776, 776)),      # ComfyUI LatentUpscaleBy: round(97.5) → 784
    (64, 64, dict(scale=1.5), (96, 96), (0, 0), (96, 96)),
    (512, 768, dict(resize_x=1000), (1000, 1500), (0, 0), (1000, 1496)),
    (512, 768, dict(resize_y=1000), (666, 1000), (0, 0), (664, 1000)),
    (512, 768, dict(resize_x=1000, resize_y=1000), (1000, 1500), (0, 62), (1000, 1000)),
    (512, 768, dict(resize_x=1024, resize_y=512), (1024, 1536), (0, 128), (1024, 512)),
    (512, 768, dict(resize_x=600, resize_y=1000), (666, 1000), (8, 0), (600, 1000)),
])
def test_target_size_is_a1111_calculate_target_resolution(w, h, kw, to, trunc, final):
    size = hires_target_size(w, h, **kw)
    assert (size.upscale_to_x, size.upscale_to_y) == to
    assert (size.truncate_x, size.truncate_y) == trunc
    assert (size.width, size.height) == final
    assert all(v % 8 == 0 for v in final)


def test_crop_splits_truncation_as_a1111_slice():
    size = hires_target_size(512, 768, resize_x=1000, resize_y=1000)  # truncate_y = 62 → 31 above, 31 below
    assert size.crop == (0, 31, 0, 31)
    size = hires_target_size(512, 768, resize_x=1016, resize_y=1000)   # to (1016, 1524): truncate_y = 65
    assert size.truncate_y == 65 and size.crop == (0, 32, 0, 33)
    assert size.latent_size == (127, 190) and size.height == 1000


@pytest.mark.parametrize("kw", [dict(scale=0), dict(scale=-1.0), dict(resize_x=-8)])
def test_bad_size_input_is_rejected(kw):
    with pytest.raises(ValueError):
        hires_target_size(512, 512, **kw)
