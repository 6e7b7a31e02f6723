"""LoRA pairs: scheduled strength vs the same LoRA static and vs ComfyUI's hooks doing the same ramp; LCM-LoRA
4-step vs 25-step Euler a. ``extra`` adds the in-process cost of one per-step merge of every scheduled layer
(``lora.ScheduledLayer`` through its weight wrapper) and of an unchanged step (cache hit), against ComfyUI's
``calculate_weight`` path for the same LoRA, and the server's peak RSS (``VmHWM``)."""
from __future__ import annotations

import time

from harness import WorkflowPair

from forgeline.tests.e2e.graphs import txt2img
from forgeline.tests.e2e.graphs_lora import hooks_txt2img, lcm_txt2img, lora_txt2img

STYLE = "forgeline_sd15_style_r16.safetensors"
STEPS = 20


def _peak_rss_mb(server):
    try:
        with open(f"/proc/{server.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (OSError, AttributeError):
        return None
    return None


def _merge_costs():
    """In-process: one full per-step merge of the scheduled weight wrappers (every layer of the rank-16 style LoRA,
    ``lora.ScheduledLayer``) vs ComfyUI's generic patch path for the same LoRA."""
    from comfy_host import add_to_sys_path

    add_to_sys_path()
    from comfy.cli_args import args

    args.cpu = True
    import torch
    import comfy.lora
    import comfy.sd
    import folder_paths
    from forgeline.host import lora_apply as ll
    from forgeline.scripts.comfy_server import MODELS_CACHE
    from forgeline.tests.fixtures.fixture_loras import ensure_loras

    folder_paths.add_model_folder_path("loras", str(ensure_loras(MODELS_CACHE)))
    path = MODELS_CACHE / "checkpoints" / "forgeline_random_sd15_standin.safetensors"
    model, clip, _, _ = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=False, output_clip=True)
    m, _, _ = ll.apply_loras(model, None, [ll.LoraRequest(STYLE)])
    sd = model.model.state_dict()
    t = time.perf_counter()
    for key, patches in m.patches.items():
        comfy.lora.calculate_weight(patches, sd[key].to(torch.float32, copy=True), key)
    comfy_s = time.perf_counter() - t
    scheduled, _, _ = ll.apply_loras(model, None, [ll.LoraRequest(STYLE, schedule="0@0,1@1")])
    wrappers = [fns[0] for fns in scheduled.weight_wrapper_patches.values()]
    copies = {w.layer.key: sd[w.layer.key].clone() for w in wrappers}     # what cast_bias_weight hands over
    t = time.perf_counter()
    for w in wrappers:
        w.entry.scale = 0.75
        w(copies[w.layer.key])
    merge_s = time.perf_counter() - t
    t = time.perf_counter()
    for w in wrappers:
        w(copies[w.layer.key])
    cached_s = time.perf_counter() - t
    elements = sum(sd[w.layer.key].numel() for w in wrappers)
    return {"layers": len(wrappers), "weight_elements": elements, "per_step_merge_s": round(merge_s, 4),
            "unchanged_step_s": round(cached_s, 6), "comfy_calculate_weight_s": round(comfy_s, 4)}


def _extra(client, server):
    out = {"server_peak_rss_mb": _peak_rss_mb(server)}
    try:
        out.update(_merge_costs())
    except Exception as e:  # the pair's timing stands without the in-process figures
        out["merge_costs_error"] = f"{type(e).__name__}: {e}"
    return out


PAIRS = [
    WorkflowPair(
        id="lora_scheduled_vs_static",
        description=f"rank-16 attention+ff LoRA, strength ramp 0→1 changing every step ({STEPS} steps Euler a, "
                    "64×64) vs the same LoRA at constant strength",
        pack=lambda i: lora_txt2img(STYLE, schedule="0@0,1@1", seed=2000 + i, steps=STEPS, prefix="bench_lora"),
        baseline=lambda i: lora_txt2img(STYLE, schedule="", seed=2000 + i, steps=STEPS, prefix="bench_lora"),
        runs=5, goal=1.03, extra=_extra,
        pack_label="ForgelineLoraLoader schedule 0@0,1@1", baseline_label="ForgelineLoraLoader constant",
    ),
    WorkflowPair(
        id="lora_scheduled_vs_hooks",
        description=f"the same per-step ramp: Forgeline scheduled LoRA vs ComfyUI hooks (CreateHookLora + "
                    f"CreateHookKeyframesInterpolated, {STEPS} keyframes + SetHookKeyframes + SetClipHooks)",
        pack=lambda i: lora_txt2img(STYLE, schedule="0@0,1@1", seed=3000 + i, steps=STEPS, prefix="bench_lora"),
        baseline=lambda i: hooks_txt2img(STYLE, seed=3000 + i, steps=STEPS, prefix="bench_lora"),
        runs=5,
        pack_label="ForgelineLoraLoader schedule", baseline_label="ComfyUI hooks keyframes",
    ),
    WorkflowPair(
        id="lcm4_vs_euler25",
        description="LCM-LoRA + style merged once, 4 steps lcm cfg 1 vs plain 25-step Euler a cfg 7 (whole workflow)",
        pack=lambda i: lcm_txt2img(seed=4000 + i, prefix="bench_lcm"),
        baseline=lambda i: txt2img(seed=4000 + i, steps=25, cfg=7.0, sampler="euler_ancestral", prefix="bench_lcm"),
        runs=5,
        pack_label="ForgelineLCMLoraMerge 4 steps", baseline_label="KSampler Euler a 25 steps",
    ),
]
