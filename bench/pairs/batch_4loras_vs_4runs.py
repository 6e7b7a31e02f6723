"""Four prompts with four LoRA sets: one Batch prompts (A1111) batch vs four native ComfyUI pipelines.

Pack: ONE graph, Batch prompts (A1111) -> Empty Latent (batch 4, from the node's batch_size) -> KSampler ->
decode/save; line 1 has no LoRA, lines 2-4 one LoRA each (kohya attention/conv LoRA, rank-16 style LoRA on every
attention + ff layer, LCM-LoRA-shaped rank-8 LoRA on every conv + linear layer), applied per image on the
activations. Baseline: the native way, CheckpointLoader -> LoraLoader -> two CLIPTextEncode -> KSampler (batch 1)
-> decode/save, once per line; the four pipelines sit in one queued graph, so ComfyUI runs them one after another
exactly as four queued jobs would, minus the per-job queue overhead (and each LoraLoader keeps its file loaded
across runs), i.e. this favours the baseline. Goal: ratio <= 0.6.
"""
from __future__ import annotations

from harness import WorkflowPair

from forgeline.tests.e2e.graphs import SD15

STEPS = 6
LINES = [
    ("a red house on a hill", None, 0.0),
    ("a cat", "forgeline_sd15_kohya.safetensors", 0.8),
    ("a portrait", "forgeline_sd15_style_r16.safetensors", 1.0),
    ("a forest", "forgeline_sd15_lcm_lora.safetensors", 0.6),
]


def _tag(lora, strength):
    return f" <lora:{lora.rsplit('.', 1)[0]}:{strength}>" if lora else ""


def batch_graph(seed, steps=STEPS, lines=LINES, prefix="bench_batch"):
    prompts = "\n".join(text + _tag(lora, s) for text, lora, s in lines)
    return {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": SD15}},
        "bp": {"class_type": "ForgelineBatchPrompts", "inputs": {
            "model": ["ckpt", 0], "clip": ["ckpt", 1], "prompts": prompts, "negative": "", "emphasis": "Original",
            "clip_skip": 1, "steps": steps, "mode": "loractl"}},
        "latent": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": ["bp", 3]}},
        "sample": {"class_type": "KSampler", "inputs": {
            "model": ["bp", 0], "positive": ["bp", 1], "negative": ["bp", 2], "latent_image": ["latent", 0],
            "seed": seed, "steps": steps, "cfg": 7.0, "sampler_name": "euler_ancestral", "scheduler": "karras",
            "denoise": 1.0}},
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": ["sample", 0], "vae": ["ckpt", 2]}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["decode", 0], "filename_prefix": prefix}},
    }


def native_branch(graph, j, text, lora, strength, seed, steps=STEPS, prefix="bench_batch_native"):
    """CLIPTextEncode + LoraLoader + KSampler (batch 1) for one line, added to ``graph`` under suffix ``j``."""
    model, clip = ["ckpt", 0], ["ckpt", 1]
    if lora:
        graph[f"lora{j}"] = {"class_type": "LoraLoader", "inputs": {
            "model": model, "clip": clip, "lora_name": lora, "strength_model": strength, "strength_clip": strength}}
        model, clip = [f"lora{j}", 0], [f"lora{j}", 1]
    graph[f"pos{j}"] = {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": clip}}
    graph[f"neg{j}"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": clip}}
    graph[f"latent{j}"] = {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}}
    graph[f"sample{j}"] = {"class_type": "KSampler", "inputs": {
        "model": model, "positive": [f"pos{j}", 0], "negative": [f"neg{j}", 0], "latent_image": [f"latent{j}", 0],
        "seed": seed, "steps": steps, "cfg": 7.0, "sampler_name": "euler_ancestral", "scheduler": "karras",
        "denoise": 1.0}}
    graph[f"decode{j}"] = {"class_type": "VAEDecode", "inputs": {"samples": [f"sample{j}", 0], "vae": ["ckpt", 2]}}
    graph[f"save{j}"] = {"class_type": "SaveImage", "inputs": {"images": [f"decode{j}", 0], "filename_prefix": prefix}}
    return graph


def native_graph(seed, steps=STEPS, lines=LINES):
    graph = {"ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": SD15}}}
    for j, (text, lora, strength) in enumerate(lines):
        native_branch(graph, j, text, lora, strength, seed + j, steps)
    return graph


PAIRS = [
    WorkflowPair(
        id="batch_4loras_vs_4runs",
        description=f"4 prompts with 4 LoRA sets (none, kohya, rank-16 style, LCM-shaped rank 8), {STEPS} steps "
                    "Euler a 64x64: one Batch prompts (A1111) batch vs 4 native LoraLoader + KSampler pipelines",
        pack=lambda i: batch_graph(10_000 + 8 * i),
        baseline=lambda i: native_graph(10_000 + 8 * i),
        runs=2, goal=0.6,
        pack_label="Batch prompts (A1111), one batch of 4", baseline_label="4x (LoraLoader + CLIPTextEncode + KSampler)",
    ),
]
