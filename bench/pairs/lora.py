"""LoRA pairs: scheduled strength vs the same LoRA static and vs ComfyUI's hooks doing the same ramp; LCM-LoRA
4-step vs 25-step Euler a. ``extra`` adds how many layers the scheduled LoRA runs on the activations (forward
hooks) and through weight wrappers (``host/lora_schedule.py``), and the server's peak RSS (``VmHWM``)."""
from __future__ import annotations

import statistics

from harness import WorkflowPair, server_seconds

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


def _paths():
    """In-process: how many of the bench LoRA's scheduled layers run on the activations (forward hooks) and how
    many keys through ComfyUI weight wrappers (``host/lora_schedule.py``), beside its constant patch count."""
    from comfy_host import add_to_sys_path

    add_to_sys_path()
    from comfy.cli_args import args

    args.cpu = True
    import comfy.sd
    import folder_paths
    from forgeline.host import lora_apply as ll
    from forgeline.host import lora_schedule
    from forgeline.scripts.comfy_server import MODELS_CACHE
    from forgeline.tests.fixtures.fixture_loras import ensure_loras

    folder_paths.add_model_folder_path("loras", str(ensure_loras(MODELS_CACHE)))
    path = MODELS_CACHE / "checkpoints" / "forgeline_random_sd15_standin.safetensors"
    model, _, _, _ = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=False, output_clip=False)
    scheduled, _, _ = ll.apply_loras(model, None, [ll.LoraRequest(STYLE, schedule="0@0,1@1")])
    (entry,) = scheduled.model_options["transformer_options"][lora_schedule.SCHEDULES]
    return {"hooked_layers": len(entry.engine.layers), "weight_wrapper_keys": len(scheduled.weight_wrapper_patches),
            "constant_patched_keys": len(ll.apply_loras(model, None, [ll.LoraRequest(STYLE)])[0].patches)}


def _consecutive(client, pack, baseline, runs=6):
    """Each side queued ``runs`` times in a row after one untimed job of its own (the pair alternates sides, so
    there ComfyUI re-patches the constant LoRA before every baseline job; here it stays patched, as when a user
    queues one workflow again and again): server-side medians and their ratio."""
    medians = {}
    for name, build, base in (("baseline", baseline, 6000), ("pack", pack, 7000)):
        times = []
        for i in range(runs + 1):
            out = client.run(build(base + i))
            if out.status != "success":
                raise RuntimeError(f"consecutive {name} run {i} failed: {out.error}")
            if i:
                times.append(server_seconds(out))
        medians[name] = statistics.median(times)
    return {"consecutive_pack_median_s": round(medians["pack"], 3),
            "consecutive_baseline_median_s": round(medians["baseline"], 3),
            "consecutive_ratio": round(medians["pack"] / medians["baseline"], 4)}


def _scheduled_pack(i):
    return lora_txt2img(STYLE, schedule="0@0,1@1", seed=2000 + i, steps=STEPS, prefix="bench_lora")


def _constant_baseline(i):
    return lora_txt2img(STYLE, schedule="", seed=2000 + i, steps=STEPS, prefix="bench_lora")


def _extra_scheduled(client, server):
    out = _extra(client, server)
    try:
        out.update(_consecutive(client, _scheduled_pack, _constant_baseline))
    except Exception as e:
        out["consecutive_error"] = f"{type(e).__name__}: {e}"
    return out


def _extra(client, server):
    out = {"server_peak_rss_mb": _peak_rss_mb(server)}
    try:
        out.update(_paths())
    except Exception as e:  # the pair's timing stands without the in-process figures
        out["merge_costs_error"] = f"{type(e).__name__}: {e}"
    return out


PAIRS = [
    WorkflowPair(
        id="lora_scheduled_vs_static",
        description=f"rank-16 attention+ff LoRA, strength ramp 0→1 changing every step ({STEPS} steps Euler a, "
                    "64×64) vs the same LoRA at constant strength",
        pack=_scheduled_pack, baseline=_constant_baseline, runs=5, goal=1.03, extra=_extra_scheduled,
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
