"""Save Image (A1111 infotext) on a real ComfyUI server: the saved files' A1111 ``parameters`` parse back (with
A1111's parser rules, ``infotext.parse``) into the settings that ran, for a Forgeline graph and a stock graph; the
hashes equal hashes computed here independently with hashlib over the model files (AutoV2 = whole file; LoRA =
bytes after the 8 + N safetensors header)."""
import hashlib
import io
import json
import struct
from pathlib import Path

import pytest
from PIL import Image

from forgeline.infotext.parse import parse_generation_parameters, parse_name_hashes
from forgeline.infotext.png import decode_user_comment, read_png_text

from .graphs import SD15, txt2img

MODELS = Path(__file__).resolve().parents[2] / ".cache" / "models"
LORA = "forgeline_sd15_kohya.safetensors"
WORKFLOW = {"last_node_id": 1, "nodes": [], "links": [], "version": 0.4}


def autov2(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def tensor_data_hash(path):
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    return hashlib.sha256(data[8 + n:]).hexdigest()[:12]


def forgeline_graph(fmt="png", prompt="a photo of a cat", batch=2):
    return {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": SD15}},
        "lora": {"class_type": "ForgelineLoraLoader", "inputs": {
            "model": ["ckpt", 0], "clip": ["ckpt", 1], "lora_name": LORA, "strength_model": 0.7,
            "strength_clip": 0.7, "schedule": "", "block_weights": "", "mode": "loractl"}},
        "pos": {"class_type": "ForgelinePromptEncode", "inputs": {
            "clip": ["lora", 1], "text": prompt, "negative": False, "emphasis": "Original",
            "comma_padding_backtrack": 20, "clip_skip": 2, "steps": 3, "hires_steps": 0, "width": 64, "height": 64,
            "crop_w": 0, "crop_h": 0, "target_width": 64, "target_height": 64}},
        "neg": {"class_type": "ForgelinePromptEncode", "inputs": {
            "clip": ["lora", 1], "text": "blurry, ugly", "negative": True, "emphasis": "Original",
            "comma_padding_backtrack": 20, "clip_skip": 2, "steps": 3, "hires_steps": 0, "width": 64, "height": 64,
            "crop_w": 0, "crop_h": 0, "target_width": 64, "target_height": 64}},
        "latent": {"class_type": "ForgelineEmptyLatent", "inputs": {"width": 64, "height": 64, "batch_size": batch}},
        "sample": {"class_type": "ForgelineKSampler", "inputs": {
            "model": ["lora", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["latent", 0],
            "seed": 5, "steps": 3, "cfg": 6.5, "sampler_name": "forgeline_euler_a", "scheduler": "forgeline_karras",
            "denoise": 1.0, "eta": 1.0, "s_noise": 1.0, "noise_source": "a1111_gpu", "ensd": 31337,
            "img2img_steps": "a1111"}},
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": ["sample", 0], "vae": ["ckpt", 2]}},
        "save": {"class_type": "ForgelineSaveImageA1111", "inputs": {
            "images": ["decode", 0], "filename_prefix": "e2e_infotext", "format": fmt, "quality": 90,
            "sampler_names": "A1111 (Sampler + Schedule type)", "hashes": True}},
    }


def _files(client, result):
    assert result.status == "success", result.error
    return [client.view(img) for img in result.images()]


def test_forgeline_graph_png_parameters_parse_back(client):
    result = client.run(forgeline_graph(), extra_data={"extra_pnginfo": {"workflow": WORKFLOW}})
    files = _files(client, result)
    assert len(files) == 2
    for index, data in enumerate(files):
        chunks = read_png_text(data)
        assert json.loads(chunks["workflow"]) == WORKFLOW and json.loads(chunks["prompt"])["save"]
        p = parse_generation_parameters(chunks["parameters"])
        assert p["Prompt"] == f"a photo of a cat <lora:{LORA[:-12]}:0.7>"
        assert p["Negative prompt"] == "blurry, ugly"
        assert (p["Steps"], p["Sampler"], p["Schedule type"], p["CFG scale"]) == ("3", "Euler a", "Karras", "6.5")
        assert p["Seed"] == str(5 + index)                     # A1111: seed + i for image i of the batch
        assert (p["Size-1"], p["Size-2"], p["Clip skip"], p["ENSD"]) == ("64", "64", "2", "31337")
        assert p["Model"] == SD15[:-12] and p["Model hash"] == autov2(MODELS / "checkpoints" / SD15)
        assert parse_name_hashes(p["Lora hashes"]) == {LORA[:-12]: tensor_data_hash(MODELS / "loras" / LORA)}
        assert p["RNG"] == "GPU" and p["Version"] == "Forgeline"


def test_non_latin1_prompt_goes_to_itxt(client):
    result = client.run(forgeline_graph(prompt="一只猫 cat", batch=1))
    data = _files(client, result)[0]
    assert b"iTXtparameters" in data and b"tEXtparameters" not in data
    assert parse_generation_parameters(read_png_text(data)["parameters"])["Prompt"].startswith("一只猫 cat")


def test_stock_graph_jpeg_user_comment(client):
    graph = txt2img(seed=11, steps=3, cfg=7.0, sampler="dpmpp_2m", scheduler="karras", positive="a dog",
                    negative="cat")
    graph["save"] = {"class_type": "ForgelineSaveImageA1111", "inputs": {
        "images": ["decode", 0], "filename_prefix": "e2e_infotext_stock", "format": "jpeg", "quality": 90,
        "sampler_names": "A1111 (Sampler + Schedule type)", "hashes": True}}
    result = client.run(graph, extra_data={"extra_pnginfo": {"workflow": WORKFLOW}})
    data = _files(client, result)[0]
    exif = Image.open(io.BytesIO(data)).getexif()
    raw = exif.get_ifd(0x8769)[0x9286]
    assert raw.startswith(b"UNICODE\x00")                     # piexif "unicode": UTF-16BE after the prefix
    p = parse_generation_parameters(decode_user_comment(raw))
    assert (p["Prompt"], p["Negative prompt"], p["Seed"], p["Steps"]) == ("a dog", "cat", "11", "3")
    assert (p["Sampler"], p["Schedule type"], p["CFG scale"]) == ("DPM++ 2M", "Karras", "7.0")
    assert p["Model hash"] == autov2(MODELS / "checkpoints" / SD15) and p["RNG"] == "ComfyUI"
    assert json.loads(exif[0x010F].split(":", 1)[1]) == WORKFLOW


def test_civitai_naming_and_webp(client):
    graph = txt2img(seed=3, steps=3, sampler="dpmpp_2m", scheduler="karras")
    graph["save"] = {"class_type": "ForgelineSaveImageA1111", "inputs": {
        "images": ["decode", 0], "filename_prefix": "e2e_infotext_civitai", "format": "webp", "quality": 80,
        "sampler_names": "Civitai (legacy combined name)", "hashes": False}}
    data = _files(client, client.run(graph))[0]
    raw = Image.open(io.BytesIO(data)).getexif().get_ifd(0x8769)[0x9286]
    p = parse_generation_parameters(decode_user_comment(raw))
    assert p["Sampler"] == "DPM++ 2M Karras" and p["Schedule type"] == "Automatic" and "Model hash" not in p


@pytest.mark.parametrize("fmt", ["bmp"])
def test_bad_format_is_named(client, fmt):
    from comfy_client import ComfyError
    graph = forgeline_graph()
    graph["save"]["inputs"]["format"] = fmt
    with pytest.raises(ComfyError) as exc:
        client.submit(graph)
    assert "format" in str(exc.value)


# ----------------------------------------------------------------------------------------- reproduce an image

CLIENT = Path(__file__).resolve().parents[2] / "scripts" / "forgeline_client.py"


def _pixels(data):
    return Image.open(io.BytesIO(data)).convert("RGB").tobytes()


@pytest.fixture(scope="module")
def original(client):
    """Two Forgeline runs of one image each (seeds 5 and 6): their PNGs with parameters."""
    first = _files(client, client.run(forgeline_graph(batch=1)))
    g = forgeline_graph(batch=1)
    g["sample"]["inputs"]["seed"] = 6
    return first + _files(client, client.run(g))


def test_batch_image_reproduced_alone(client):
    """Image 1 of a batch of two (seed 5 + 1) against its reproduction as a single image with seed 6: A1111 noise
    is per image, so only float rounding of batched vs single convolutions on CPU may differ (at most 1 level)."""
    import numpy as np
    import requests
    data = _files(client, client.run(forgeline_graph(batch=2)))[1]
    text = read_png_text(data)["parameters"]
    graph = requests.post(client.base_url + "/forgeline/a1111_graph", json={"text": text}, timeout=600).json()
    again = _files(client, client.run(graph["graph"]))[0]
    a = np.asarray(Image.open(io.BytesIO(again)).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)
    assert np.abs(a - b).max() <= 1 and "Seed: 6," in text


def test_a1111_graph_route_reproduces_the_image(client, original):
    import requests
    for data in original:
        text = read_png_text(data)["parameters"]
        r = requests.post(client.base_url + "/forgeline/a1111_graph", json={"text": text}, timeout=600)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["warnings"] == []
        graph = body["graph"]
        assert graph["ckpt"]["inputs"]["ckpt_name"] == SD15
        assert f"<lora:{LORA[:-12]}:0.7>" in graph["loras"]["inputs"]["text"]
        again = _files(client, client.run(graph))[0]
        assert _pixels(again) == _pixels(data)           # same stand-in model and seed: the same image
        # and the reproduction's own infotext is the original's
        assert read_png_text(again)["parameters"] == text


def test_resize_seed_from_round_trip(client):
    """KSampler (A1111)'s resize_seed_from inputs change the image (A1111's centred paste of the 96x32 noise into
    the 64x64 latent, unit-tested in tests/unit/test_noise_sources.py), are written as A1111's "Seed resize from",
    and the graph rebuilt from that infotext gives the same image."""
    import requests
    g = forgeline_graph(batch=1)
    g["sample"]["inputs"].update(resize_seed_from_width=96, resize_seed_from_height=32)
    made = _files(client, client.run(g))[0]
    text = read_png_text(made)["parameters"]
    p = parse_generation_parameters(text)
    assert "Seed resize from: 96x32," in text and (p["Seed resize from-1"], p["Seed resize from-2"]) == ("96", "32")
    plain = _files(client, client.run(forgeline_graph(batch=1)))[0]
    assert _pixels(made) != _pixels(plain)
    body = requests.post(client.base_url + "/forgeline/a1111_graph", json={"text": text}, timeout=600).json()
    ins = body["graph"]["sample"]["inputs"]
    assert (ins["resize_seed_from_width"], ins["resize_seed_from_height"]) == (96, 32)
    again = _files(client, client.run(body["graph"]))[0]
    assert _pixels(again) == _pixels(made) and read_png_text(again)["parameters"] == text


def test_missing_resources_named_by_route(client):
    import requests
    text = ("a cat <lora:nothere:1>\nSteps: 3, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 1, "
            "Size: 64x64, Model hash: ffffffffff, Model: nomodel, Lora hashes: \"nothere: 123456789abc\"")
    r = requests.post(client.base_url + "/forgeline/a1111_graph", json={"text": text}, timeout=600)
    assert r.status_code == 400
    body = r.json()
    assert {"kind": "checkpoint", "name": "nomodel", "hash": "ffffffffff"} in body["missing"]
    assert {"kind": "lora", "name": "nothere", "hash": "123456789abc"} in body["missing"]
    r = requests.post(client.base_url + "/forgeline/resolve_hashes", json={"items": [
        {"kind": "lora", "name": "x", "hash": tensor_data_hash(MODELS / "loras" / LORA)},
        {"kind": "checkpoint", "name": None, "hash": autov2(MODELS / "checkpoints" / SD15)}]}, timeout=600)
    assert [i["file"] for i in r.json()["items"]] == [LORA, SD15]
    assert client.get("/system_stats").status_code == 200


def test_client_from_a1111(comfy_server, original, tmp_path):
    import subprocess
    import sys
    png = tmp_path / "a1111.png"
    png.write_bytes(original[0])
    proc = subprocess.run([sys.executable, str(CLIENT), "--from-a1111", str(png), "--server", comfy_server.url,
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    made = [p for p in (tmp_path / "out").glob("*.png")]
    assert len(made) == 1 and _pixels(made[0].read_bytes()) == _pixels(original[0])
    bad = "a cat\nSteps: 3, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 64x64, Model hash: 0000000000, Model: gone"
    proc = subprocess.run([sys.executable, str(CLIENT), "--from-a1111", bad, "--server", comfy_server.url],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and "missing checkpoint: 'gone' (hash 0000000000)" in proc.stderr
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    proc = subprocess.run([sys.executable, str(CLIENT), "--from-a1111", str(tmp_path / "plain.png"),
                           "--server", comfy_server.url], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and "no A1111 parameters" in proc.stderr


def test_a1111_parameters_node_drives_a_graph(client, comfy_server, original):
    """A1111 Parameters reads the PNG from the input folder; its outputs wired into a Forgeline graph give the same
    image."""
    (comfy_server.base / "input" / "a1111_params.png").write_bytes(original[1])
    g = forgeline_graph(batch=1)
    g["params"] = {"class_type": "ForgelineA1111Parameters", "inputs": {"text": "", "image": "a1111_params.png"}}
    g["ckpt"]["inputs"]["ckpt_name"] = ["params", 2]
    del g["lora"]
    g["tags"] = {"class_type": "ForgelineApplyPromptLoras", "inputs": {
        "model": ["ckpt", 0], "clip": ["ckpt", 1], "text": ["params", 0], "mode": "loractl"}}
    for key, src in (("pos", 0), ("neg", 1)):
        g[key]["inputs"].update({"clip": ["tags", 1], "text": ["params", src], "clip_skip": ["params", 14]})
    g["sample"]["inputs"].update({"model": ["tags", 0], "seed": ["params", 3], "steps": ["params", 8],
                                  "cfg": ["params", 9], "sampler_name": ["params", 10], "scheduler": ["params", 11],
                                  "noise_source": ["params", 16], "ensd": ["params", 17]})
    again = _files(client, client.run(g))[0]
    assert _pixels(again) == _pixels(original[1])


def test_a1111_parameters_node_png_without_parameters(client, comfy_server):
    Image.new("RGB", (8, 8)).save(comfy_server.base / "input" / "plain.png")
    g = {"params": {"class_type": "ForgelineA1111Parameters", "inputs": {"text": "", "image": "plain.png"}},
         "show": {"class_type": "PreviewAny", "inputs": {"source": ["params", 0]}}}
    result = client.run(g)
    assert result.status != "success"
    assert "no A1111 'parameters' text" in str(result.error)
