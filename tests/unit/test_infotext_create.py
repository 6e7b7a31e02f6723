"""infotext.create against A1111 1.10.1 ``modules/processing.py: create_infotext``.

Each expected string is written out by hand from A1111's code: the ``generation_params`` literal order, the None
filter, ``infotext_utils.quote``, ``StableDiffusionProcessingTxt2Img.init`` (Hires keys in insertion order),
``sd_samplers_kdiffusion.get_sigmas`` (Schedule type written as the resolved label) and
``sd_samplers_common.is_sampler_using_eta_noise_seed_delta`` (ENSD).
"""
import pytest

from forgeline.infotext.create import create_infotext, quote


def test_quote_rule():
    # infotext_utils.quote: json.dumps(ensure_ascii=False) only for values with "," "\n" or ":".
    assert quote("plain") == "plain"
    assert quote("a, b") == '"a, b"'
    assert quote("a: b") == '"a: b"'
    assert quote('x\n"y"') == '"x\\n\\"y\\""'
    assert quote("é, ü") == '"é, ü"'
    assert quote(7) == 7


def test_minimal_euler_a_keeps_automatic():
    # Euler a has no default scheduler: get_sigmas does not overwrite, the literal "Automatic" stays.
    s = {"prompt": "a cat", "steps": 20, "sampler_name": "Euler a", "cfg_scale": 7, "seed": 1, "width": 512,
         "height": 768}
    assert create_infotext(s) == ("a cat\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, "
                                  "Seed: 1, Size: 512x768")


def test_dpmpp_2m_automatic_written_as_karras_and_negative_line():
    # get_sigmas: Automatic -> options['scheduler'] = karras, label "Karras" overwrites Schedule type in place.
    s = {"prompt": "p", "negative_prompt": "bad, ugly", "steps": 25, "sampler_name": "DPM++ 2M",
         "scheduler": "Automatic", "cfg_scale": 6.5, "seed": 42, "model_name": "sd15", "model_hash": "0123456789"}
    assert create_infotext(s) == ("p\nNegative prompt: bad, ugly\nSteps: 25, Sampler: DPM++ 2M, Schedule type: "
                                  "Karras, CFG scale: 6.5, Seed: 42, Size: 512x512, Model hash: 0123456789, "
                                  "Model: sd15")


def test_empty_negative_has_no_line_and_whole_text_is_stripped():
    # f"{prompt}{negative_text}\n{params}".strip(): no "Negative prompt:" line for "", outer whitespace removed.
    s = {"prompt": "  p\n", "negative_prompt": "", "steps": 1, "sampler_name": "Euler", "seed": 0}
    assert create_infotext(s) == "p\n\nSteps: 1, Sampler: Euler, Schedule type: Automatic, CFG scale: 7.0, " \
                                 "Seed: 0, Size: 512x512"


def test_optional_keys_in_literal_order():
    # VAE hash/VAE, Variation seed(+strength), Seed resize from, Clip skip (>1), ENSD (Euler a uses it, eta 1),
    # RNG (!= GPU), then extra params (Emphasis after Lora hashes), Version last.
    s = {"prompt": "(p)", "steps": 20, "sampler_name": "Euler a", "cfg_scale": 7, "seed": 10, "subseed": 99,
         "subseed_strength": 0.3, "seed_resize_from_w": 640, "seed_resize_from_h": 448, "vae_name": "v.safetensors",
         "vae_hash": "abcdef0123", "clip_skip": 2, "eta_noise_seed_delta": 31337, "randn_source": "CPU",
         "emphasis": "No norm", "lora_hashes": {"my,lo:ra": "0123456789ab"}, "version": "v1.10.1"}
    assert create_infotext(s) == (
        "(p)\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 10, Size: 512x512, "
        "VAE hash: abcdef0123, VAE: v.safetensors, Variation seed: 99, Variation seed strength: 0.3, "
        "Seed resize from: 640x448, Clip skip: 2, ENSD: 31337, RNG: CPU, Lora hashes: \"mylora: 0123456789ab\", "
        "Emphasis: No norm, Version: v1.10.1")


def test_ensd_needs_a_sampler_that_uses_it_and_nonzero_eta():
    base = {"prompt": "p", "steps": 20, "seed": 1, "eta_noise_seed_delta": 31337}
    assert "ENSD" not in create_infotext({**base, "sampler_name": "DPM++ 2M"})     # uses_ensd False
    assert "ENSD" not in create_infotext({**base, "sampler_name": "Euler a", "eta": 0})  # eta == 0
    text = create_infotext({**base, "sampler_name": "Euler a", "eta": 0.5})
    assert "ENSD: 31337" in text and text.endswith("Eta: 0.5")                     # Eta != 1.0 (initialize)


@pytest.mark.parametrize("index, seed, subseed", [(0, 100, None), (2, 102, None)])
def test_batch_seed_plus_index(index, seed, subseed):
    # process_images_inner: all_seeds = seed + x when subseed_strength == 0.
    text = create_infotext({"prompt": "p", "sampler_name": "Euler", "seed": 100, "steps": 4}, index=index)
    assert f"Seed: {seed}," in text


def test_batch_with_variation_keeps_seed_and_moves_subseed():
    # all_seeds = seed (strength != 0), all_subseeds = subseed + x.
    text = create_infotext({"prompt": "p", "sampler_name": "Euler", "seed": 100, "subseed": 7,
                            "subseed_strength": 0.5, "steps": 4}, index=3)
    assert "Seed: 100," in text and "Variation seed: 10," in text


def test_hires_keys_in_init_order():
    # StableDiffusionProcessingTxt2Img.init: Denoising strength (early literal slot), Hires sampler, Hires prompt,
    # Hires schedule type (placeholder, filled by the hires get_sigmas), Hires upscale, Hires steps, Hires upscaler.
    s = {"prompt": "p", "steps": 20, "sampler_name": "DPM++ 2M", "cfg_scale": 7, "seed": 5, "enable_hr": True,
         "denoising_strength": 0.45, "hr_scale": 2, "hr_upscaler": "Latent", "hr_second_pass_steps": 10,
         "hr_sampler_name": "DPM++ 2M SDE", "hr_prompt": "p, detailed"}
    assert create_infotext(s) == (
        "p\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 5, Size: 512x512, "
        "Denoising strength: 0.45, Hires sampler: DPM++ 2M SDE, Hires prompt: \"p, detailed\", "
        "Hires schedule type: Exponential, Hires upscale: 2, Hires steps: 10, Hires upscaler: Latent")


def test_hires_resize_and_same_schedule_not_repeated():
    # calculate_target_resolution: resize_x/y != 0 -> "Hires resize: WxH"; same resolved label -> no Hires schedule.
    s = {"prompt": "p", "steps": 20, "sampler_name": "Euler a", "cfg_scale": 7, "seed": 5, "enable_hr": True,
         "hr_resize_x": 1024, "hr_resize_y": 0, "hr_upscaler": "R-ESRGAN 4x+"}
    assert create_infotext(s) == (
        "p\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 5, Size: 512x512, "
        "Denoising strength: 0.75, Hires resize: 1024x0, Hires upscaler: R-ESRGAN 4x+")


def test_refiner_after_schedule_keys():
    # sd_samplers_common.apply_refiner: Refiner = short_title "name [hash]", Refiner switch at.
    s = {"prompt": "p", "steps": 30, "sampler_name": "Euler a", "cfg_scale": 7, "seed": 5,
         "refiner_checkpoint": "sdxl_refiner", "refiner_hash": "7440042bbd", "refiner_switch_at": 0.8}
    assert create_infotext(s).endswith("Refiner: sdxl_refiner [7440042bbd], Refiner switch at: 0.8")


def test_explicit_scheduler_label_for_sampler_without_default():
    s = {"prompt": "p", "steps": 20, "sampler_name": "Euler a", "scheduler": "Karras", "cfg_scale": 7, "seed": 1}
    assert "Sampler: Euler a, Schedule type: Karras, CFG scale" in create_infotext(s)


def test_unknown_setting_is_an_error():
    with pytest.raises(ValueError, match="cfg"):
        create_infotext({"cfg": 7})
