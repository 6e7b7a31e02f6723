"""`hires_vs_native`, `refiner_vs_native`: HiRes Fix (A1111) and Refiner handoff (A1111) against the native graphs
they replace (comfyanonymous/ComfyUI_examples ``2_pass_txt2img``, ``sdxl/sdxl_simple_example.png``), SD1.5 stand-in,
64×64 → 96×96. Both sides run the same number of model calls on the same schedule (the refiner pair uses the same SD1.5
checkpoint as base and refiner and Euler, whose
split is deterministic), so the ratio measures the nodes' overhead."""
from harness import WorkflowPair

from forgeline.tests.e2e.graphs import SD15
from forgeline.tests.e2e.graphs_hires import hires_fix, native_hires_fix, native_refiner, refiner

STEPS, HIRES_STEPS, DENOISE = 12, 8, 0.5
REFINER_STEPS, SWITCH = 20, 0.8  # switch by steps: step 16 of 20

PAIRS = [
    WorkflowPair(
        id="hires_vs_native",
        description=f"KSampler {STEPS} steps Euler a 64×64 → HiRes Fix (Latent ×1.5, {HIRES_STEPS} steps, denoise "
                    f"{DENOISE}) vs KSampler → LatentUpscaleBy → KSampler",
        pack=lambda i: hires_fix(seed=1000 + i, steps=STEPS, hires_steps=HIRES_STEPS, denoise=DENOISE,
                                 prefix="bench_hires"),
        baseline=lambda i: native_hires_fix(seed=1000 + i, steps=STEPS, hires_steps=HIRES_STEPS, denoise=DENOISE,
                                            prefix="bench_hires_native"),
        runs=5, goal=1.01, families=("sd15",),
        pack_label="KSampler + ForgelineHiResFix", baseline_label="KSampler + LatentUpscaleBy + KSampler",
    ),
    WorkflowPair(
        id="refiner_vs_native",
        description=f"Refiner handoff (SD1.5 → same SD1.5, Euler, {REFINER_STEPS} steps, switch {SWITCH} by steps) "
                    "vs two KSamplerAdvanced",
        pack=lambda i: refiner(ckpt=SD15, refiner_ckpt=SD15, seed=2000 + i, steps=REFINER_STEPS, sampler="euler",
                               switch_at=SWITCH, switch_by="steps", prefix="bench_refiner"),
        baseline=lambda i: native_refiner(ckpt=SD15, refiner_ckpt=SD15, seed=2000 + i, steps=REFINER_STEPS,
                                          sampler="euler", switch_step=round(REFINER_STEPS * SWITCH),
                                          prefix="bench_refiner_native"),
        runs=5, goal=1.01, families=("sd15",),
        pack_label="ForgelineRefiner", baseline_label="KSamplerAdvanced ×2",
    ),
]
