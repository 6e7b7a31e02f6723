"""infotext.graph: settings read from executed API prompts (stock and Forgeline graphs), written with A1111's
attribute names; expected values are the widget values of the hand-built graphs below."""
from forgeline.infotext.create import create_infotext
from forgeline.infotext.graph import read_prompt_settings


def stock_graph():
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15/model.safetensors"}},
        "10": {"class_type": "LoraLoader", "inputs": {"model": ["4", 0], "clip": ["4", 1],
                                                      "lora_name": "styles/my_style.safetensors",
                                                      "strength_model": 0.8, "strength_clip": 0.8}},
        "11": {"class_type": "CLIPSetLastLayer", "inputs": {"clip": ["10", 1], "stop_at_clip_layer": -2}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["11", 0]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly", "clip": ["11", 0]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 768, "batch_size": 2}},
        "3": {"class_type": "KSampler", "inputs": {"model": ["10", 0], "positive": ["6", 0], "negative": ["7", 0],
                                                   "latent_image": ["5", 0], "seed": 42, "steps": 20, "cfg": 7.5,
                                                   "sampler_name": "dpmpp_2m", "scheduler": "karras",
                                                   "denoise": 1.0}},
        "12": {"class_type": "VAELoader", "inputs": {"vae_name": "vae-ft-mse.safetensors"}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["12", 0]}},
        "9": {"class_type": "ForgelineSaveImageA1111", "inputs": {"images": ["8", 0]}},
    }


def test_stock_graph():
    run = read_prompt_settings(stock_graph(), "9")
    s = run.settings
    assert s["prompt"] == "a cat <lora:my_style:0.8>" and s["negative_prompt"] == "ugly"
    assert (s["steps"], s["cfg_scale"], s["seed"], s["width"], s["height"]) == (20, 7.5, 42, 512, 768)
    assert (s["sampler_name"], s["scheduler"], s["clip_skip"]) == ("DPM++ 2M", "Karras", 2)
    assert s["randn_source"] == "ComfyUI" and run.batch_size == 2
    assert run.checkpoint == "sd15/model.safetensors" and s["model_name"] == "model"
    assert run.vae == "vae-ft-mse.safetensors" and s["vae_name"] == "vae-ft-mse.safetensors"
    assert [(u.name, u.file) for u in run.loras] == [("my_style", "styles/my_style.safetensors")]


def test_stock_two_pass_is_hires():
    g = stock_graph()
    g["13"] = {"class_type": "LatentUpscaleBy", "inputs": {"samples": ["3", 0], "upscale_method": "nearest-exact",
                                                           "scale_by": 1.5}}
    g["14"] = {"class_type": "KSampler", "inputs": {**g["3"]["inputs"], "latent_image": ["13", 0], "denoise": 0.5,
                                                    "steps": 10}}
    g["8"]["inputs"]["samples"] = ["14", 0]
    s = read_prompt_settings(g, "9").settings
    assert s["enable_hr"] and s["denoising_strength"] == 0.5 and s["hr_scale"] == 1.5
    assert s["hr_upscaler"] == "Latent (nearest-exact)" and s["hr_second_pass_steps"] == 10


def forgeline_graph():
    return {
        "ck": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "base.safetensors"}},
        "lt": {"class_type": "ForgelineApplyPromptLoras", "inputs": {"model": ["ck", 0], "clip": ["ck", 1],
                                                                     "text": ["txt", 0]}},
        "txt": {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "a (cat:1.2) <lora:detail:0.5>"}},
        "pos": {"class_type": "ForgelinePromptEncode", "inputs": {"clip": ["lt", 1], "text": ["txt", 0],
                                                                  "clip_skip": 2, "emphasis": "No norm"}},
        "neg": {"class_type": "ForgelinePromptEncode", "inputs": {"clip": ["lt", 1], "text": "", "negative": True,
                                                                  "clip_skip": 2, "emphasis": "No norm"}},
        "lat": {"class_type": "ForgelineEmptyLatent", "inputs": {"width": 640, "height": 448, "batch_size": 1}},
        "ks": {"class_type": "ForgelineKSampler", "inputs": {
            "model": ["lt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["lat", 0],
            "seed": 7, "steps": 12, "cfg": 6.0, "sampler_name": "forgeline_euler_a", "scheduler": "normal",
            "denoise": 1.0, "eta": 1.0, "s_noise": 1.0, "noise_source": "a1111_gpu", "ensd": 31337,
            "variation_seed": 99, "variation_strength": 0.2, "resize_seed_from_width": 0,
            "resize_seed_from_height": 0}},
        "hr": {"class_type": "ForgelineHiResFix", "inputs": {
            "model": ["lt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent": ["ks", 0], "seed": 7,
            "steps": 12, "cfg": 6.0, "sampler_name": "forgeline_euler_a", "scheduler": "normal",
            "upscaler": "Latent", "upscale_by": 2.0, "resize_width": 0, "resize_height": 0, "hires_steps": 6,
            "denoise": 0.55, "hires_sampler": "(same as first pass)", "hires_scheduler": "forgeline_karras",
            "hires_cfg": 0.0, "eta": 1.0, "s_noise": 1.0, "noise_source": "a1111_gpu", "ensd": 31337}},
        "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["hr", 0], "vae": ["ck", 2]}},
        "save": {"class_type": "ForgelineSaveImageA1111", "inputs": {"images": ["dec", 0]}},
    }


def test_forgeline_graph_with_hires_and_variation():
    run = read_prompt_settings(forgeline_graph(), "save")
    s = run.settings
    assert s["prompt"] == "a (cat:1.2) <lora:detail:0.5>"                  # tag already there: not repeated
    assert (s["sampler_name"], s["scheduler"], s["clip_skip"], s["emphasis"]) == ("Euler a", "Automatic", 2,
                                                                                  "No norm")
    assert (s["subseed"], s["subseed_strength"], s["eta_noise_seed_delta"], s["randn_source"]) == (99, 0.2, 31337,
                                                                                                   "GPU")
    assert s["enable_hr"] and s["hr_scale"] == 2.0 and s["hr_second_pass_steps"] == 6
    assert s["hr_scheduler"] == "Karras" and "hr_sampler_name" not in s
    assert [(u.name, u.from_tag) for u in run.loras] == [("detail", True)]
    text = create_infotext(s)
    assert "Variation seed: 99, Variation seed strength: 0.2" in text and "ENSD: 31337" in text
    assert "Hires schedule type: Karras, Hires upscale: 2.0, Hires steps: 6, Hires upscaler: Latent" in text


def test_resize_seed_from_on_the_ksampler_is_written():
    # A1111 processing.py create_infotext: "Seed resize from": f"{w}x{h}" when both are > 0, after the variation seed
    g = forgeline_graph()
    g["ks"]["inputs"].update(resize_seed_from_width=320, resize_seed_from_height=256)
    s = read_prompt_settings(g, "save").settings
    assert (s["seed_resize_from_w"], s["seed_resize_from_h"]) == (320, 256)
    assert "Variation seed strength: 0.2, Seed resize from: 320x256, " in create_infotext(s)
    g["ks"]["inputs"].update(resize_seed_from_width=320, resize_seed_from_height=0)
    assert "Seed resize from" not in create_infotext(read_prompt_settings(g, "save").settings)


def test_missing_save_node_is_an_error():
    import pytest
    with pytest.raises(ValueError, match="save node"):
        read_prompt_settings(stock_graph(), "nope")
