"""infotext.reproduce: the Forgeline graph built from an infotext carries every reproducible setting.

Checked by reading the built graph back with ``infotext.graph`` and writing it with ``create_infotext``: the text
must be the original infotext (A1111 1.10.1's writer is the reference for both), and missing resources are named
with their hashes."""
import pytest

from forgeline.infotext.create import create_infotext
from forgeline.infotext.graph import read_prompt_settings
from forgeline.infotext.reproduce import MissingResources, build_graph, graph_from_infotext

LOCAL = {("checkpoint", "0123456789"): "sd15/model.safetensors", ("lora", "aaaaaaaaaaaa"): "styles/local_style.pt",
         ("checkpoint", "7440042bbd"): "refiner.safetensors", ("vae", "abcdef0123"): "vae.safetensors"}


def resolve(kind, name, digest):
    return LOCAL.get((kind, digest))


BASE = {"prompt": "a cat <lora:style:0.8>", "negative_prompt": "ugly", "steps": 12, "sampler_name": "Euler a",
        "scheduler": "Karras", "cfg_scale": 6.0, "seed": 77, "width": 512, "height": 640, "model_name": "model",
        "model_hash": "0123456789", "lora_hashes": {"style": "aaaaaaaaaaaa"}, "clip_skip": 2,
        "eta_noise_seed_delta": 31337, "randn_source": "CPU", "version": "Forgeline"}


def _reread(graph, original):
    run = read_prompt_settings(graph, "save")
    s = dict(run.settings)
    s["model_hash"] = original["model_hash"]
    s["lora_hashes"] = original.get("lora_hashes")
    s["version"] = original["version"]
    if "refiner_checkpoint" in s:
        s["refiner_hash"] = original.get("refiner_hash")
    for key in ("prompt", "hr_prompt"):
        if key in s:
            s[key] = s[key].replace("<lora:styles/local_style:", "<lora:style:")
    s["model_name"] = original["model_name"]
    return s


@pytest.mark.parametrize("extra", [
    {},
    {"sampler_name": "DPM++ 2M", "scheduler": "Automatic"},
    {"enable_hr": True, "denoising_strength": 0.5, "hr_scale": 1.5, "hr_upscaler": "Latent (nearest-exact)",
     "hr_second_pass_steps": 6, "hr_sampler_name": "DPM++ 2S a", "hr_prompt": "a cat, sharp <lora:style:0.8>"},
    {"refiner_checkpoint": "refiner", "refiner_hash": "7440042bbd", "refiner_switch_at": 0.75},
])
def test_graph_carries_the_infotext(extra):
    settings = {**BASE, **extra}
    text = create_infotext(settings)
    graph, warnings = graph_from_infotext(text, resolve)
    assert warnings == []
    assert graph["ckpt"]["inputs"]["ckpt_name"] == "sd15/model.safetensors"
    assert graph["loras"]["inputs"]["text"] == "a cat <lora:styles/local_style:0.8>"
    assert create_infotext(_reread(graph, settings)) == text


def test_variation_seed_goes_to_the_new_inputs():
    graph, _ = build_graph({**BASE, "subseed": 5, "subseed_strength": 0.3, "seed_resize_from_w": 640,
                            "seed_resize_from_h": 512}, resolve)
    ins = graph["sample"]["inputs"]
    assert (ins["variation_seed"], ins["variation_strength"]) == (5, 0.3)
    assert (ins["resize_seed_from_width"], ins["resize_seed_from_height"]) == (640, 512)
    assert ins["sampler_name"] == "forgeline_euler_a" and ins["scheduler"] == "forgeline_karras"
    assert ins["noise_source"] == "a1111_cpu" and ins["ensd"] == 31337


def test_missing_resources_named_with_hashes():
    text = create_infotext({**BASE, "model_hash": "ffffffffff", "lora_hashes": {"style": "bbbbbbbbbbbb"}})
    with pytest.raises(MissingResources) as exc:
        graph_from_infotext(text, resolve)
    message = str(exc.value)
    assert "checkpoint 'model' (hash ffffffffff)" in message and "lora 'style' (hash bbbbbbbbbbbb)" in message


def test_unreproducible_sampler_is_named():
    with pytest.raises(MissingResources, match="Restart"):
        build_graph({**BASE, "sampler_name": "Restart"}, resolve)


def test_ignored_fields_warned():
    text = create_infotext(BASE) + ", Face restoration: CodeFormer"
    _, warnings = graph_from_infotext(text, resolve)
    assert warnings == ["ignored infotext fields: Face restoration"]
