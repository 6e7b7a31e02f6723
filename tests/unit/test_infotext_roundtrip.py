"""parse(create(s)) == s for every setting Forgeline can reproduce.

``create_infotext`` writes A1111's text, A1111's ``parse_generation_parameters`` reads it, and
``settings_from_parameters`` maps the keys back as A1111's paste does; the result must equal ``s`` with A1111's
defaults filled in (schedulers compared as the label A1111 resolves them to)."""
import pytest

from forgeline.infotext.create import create_infotext
from forgeline.infotext.fields import settings_from_parameters
from forgeline.infotext.parse import parse_generation_parameters

BASE = {"prompt": "masterpiece, (cat:1.2), <lora:style:0.8>", "negative_prompt": "bad hands, [blurry]",
        "steps": 28, "sampler_name": "Euler a", "scheduler": "Automatic", "cfg_scale": 6.5, "seed": 1234567890,
        "width": 512, "height": 768, "clip_skip": 1, "randn_source": "GPU", "emphasis": "Original"}

CASES = {
    "plain": {},
    "dpmpp_2m_karras": {"sampler_name": "DPM++ 2M", "scheduler": "Karras"},
    "multiline": {"prompt": "line one\nline two: with colon, comma", "negative_prompt": "n1\nn2"},
    "no_negative": {"negative_prompt": ""},
    "model": {"model_name": "sd15 pruned", "model_hash": "0123456789", "vae_name": "vae-ft-mse.safetensors",
              "vae_hash": "abcdef0123"},
    "variation": {"subseed": 42, "subseed_strength": 0.25, "seed_resize_from_w": 640, "seed_resize_from_h": 512},
    "clip_ensd_rng": {"clip_skip": 2, "eta_noise_seed_delta": 31337, "randn_source": "NV"},
    "eta_noise": {"sampler_name": "DPM++ 2S a", "scheduler": "Karras", "eta": 0.7, "s_noise": 0.9},
    "emphasis": {"emphasis": "No norm"},
    "hires_scale": {"enable_hr": True, "denoising_strength": 0.45, "hr_scale": 1.5, "hr_upscaler": "Latent",
                    "hr_second_pass_steps": 12},
    "hires_resize": {"enable_hr": True, "denoising_strength": 0.6, "hr_resize_x": 1024, "hr_resize_y": 1536,
                     "hr_upscaler": "Lanczos", "hr_sampler_name": "DPM++ 2M", "hr_scheduler": "Exponential",
                     "hr_prompt": "detailed, sharp", "hr_negative_prompt": "soft", "hr_cfg": 5.0},
    "refiner": {"refiner_checkpoint": "sdxl_refiner", "refiner_hash": "7440042bbd", "refiner_switch_at": 0.8},
    "loras": {"lora_hashes": {"style": "0123456789ab", "detail": "ba9876543210"},
              "ti_hashes": {"easynegative": "c74b4e810b03"}},
    "version": {"version": "v1.10.1"},
    "old_timelines": {"old_prompt_editing_timelines": True, "prompt": "a [cat:dog:0.5]"},
}


def _expected(case):
    s = {**BASE, **case}
    if s.get("scheduler") == "Automatic" and s["sampler_name"] == "DPM++ 2S a":
        s["scheduler"] = "Karras"
    return s


@pytest.mark.parametrize("name", sorted(CASES))
def test_roundtrip(name):
    s = _expected(CASES[name])
    text = create_infotext(s)
    settings, ignored = settings_from_parameters(parse_generation_parameters(text))
    assert ignored == []
    if "emphasis" not in settings:                     # no weights used: the parser adds no Emphasis key
        settings["emphasis"] = "Original"
    assert settings == s


def test_roundtrip_each_image_of_a_batch():
    s = {**BASE, "seed": 10}
    for index in range(4):
        settings, _ = settings_from_parameters(parse_generation_parameters(create_infotext(s, index=index)))
        assert settings["seed"] == 10 + index


def test_garbled_infotext_names_what_is_ignored():
    text = ("a cat\nSteps: 20, Sampler: Undefined, CFG scale: x7, Seed: 1, Size: 512x512, Face restoration: "
            "CodeFormer, ADetailer model: face_yolov8n.pt")
    settings, ignored = settings_from_parameters(parse_generation_parameters(text))
    assert settings["sampler_name"] == "DPM++ 2M" and "cfg_scale" not in settings
    assert any(i.startswith("Sampler") for i in ignored) and any(i.startswith("CFG scale") for i in ignored)
    assert "Face restoration" in ignored and "ADetailer model" in ignored
