"""`infotext_save`: Save Image (A1111 infotext) vs ComfyUI's SaveImage on the same txt2img graph (SD1.5 stand-in,
a LoRA loaded, 64x64, 8 steps). The warm-up run hashes the checkpoint and the LoRA once; the timed runs use the
cache, so the ratio is the per-save cost (graph walk, infotext, one more PNG text chunk). ``extra`` measures the
first-save hashing cost in-process: AutoV2 (whole file) and the LoRA tensor-data hash, seconds per GiB, on the
628 MB stand-in checkpoint (read from the page cache after the first pass; the figure is CPU-bound SHA-256)."""
from __future__ import annotations

import time

from harness import WorkflowPair

from forgeline.tests.e2e.graphs import SD15, txt2img

LORA = "forgeline_sd15_kohya.safetensors"
STEPS = 8


def _graph(i, save_class):
    g = txt2img(seed=4000 + i, steps=STEPS, sampler="euler_ancestral", scheduler="karras", prefix="bench_infotext")
    g["lora"] = {"class_type": "LoraLoader", "inputs": {"model": ["ckpt", 0], "clip": ["ckpt", 1],
                                                        "lora_name": LORA, "strength_model": 0.7,
                                                        "strength_clip": 0.7}}
    g["sample"]["inputs"]["model"] = ["lora", 0]
    g["pos"]["inputs"]["clip"] = ["lora", 1]
    g["neg"]["inputs"]["clip"] = ["lora", 1]
    if save_class == "ForgelineSaveImageA1111":
        g["save"] = {"class_type": "ForgelineSaveImageA1111", "inputs": {
            "images": ["decode", 0], "filename_prefix": "bench_infotext", "format": "png", "quality": 95,
            "sampler_names": "A1111 (Sampler + Schedule type)", "hashes": True}}
    return g


def _hash_cost(client=None, server=None):
    from forgeline.infotext import hashes
    from forgeline.scripts.comfy_server import MODELS_CACHE

    path = MODELS_CACHE / "checkpoints" / SD15
    size = path.stat().st_size
    hashes.sha256_file(path)                       # page cache warm, as for a model ComfyUI just loaded
    t = time.perf_counter()
    hashes.sha256_file(path)
    full = time.perf_counter() - t
    t = time.perf_counter()
    hashes.addnet_hash_safetensors(path)
    addnet = time.perf_counter() - t
    cache = hashes.HashCache()
    hashes.autov2(path, cache=cache)
    t = time.perf_counter()
    hashes.autov2(path, cache=cache)
    cached = time.perf_counter() - t
    gib = size / 2 ** 30
    return {"file_bytes": size, "autov2_s_per_gib": round(full / gib, 3),
            "tensor_data_hash_s_per_gib": round(addnet / gib, 3), "cached_lookup_s": round(cached, 6)}


PAIRS = [
    WorkflowPair(
        id="infotext_save",
        description=f"txt2img + LoRA ({STEPS} steps Euler a Karras, 64x64) saved by Save Image (A1111 infotext), "
                    "hashes cached, vs the stock SaveImage",
        pack=lambda i: _graph(i, "ForgelineSaveImageA1111"),
        baseline=lambda i: _graph(i, "SaveImage"),
        runs=7, goal=1.05, extra=_hash_cost,
        pack_label="Save Image (A1111 infotext)", baseline_label="SaveImage",
    ),
]
