"""Sampler pairs: Forgeline's Euler a / DPM++ 2S a (through the KSampler (A1111) node, ComfyUI noise) against
ComfyUI's own ``euler_ancestral`` / ``dpmpp_2s_ancestral`` in the stock KSampler, equal steps, Karras, SD1.5 stand-in
at 64×64. ``extra`` counts model (CFG) calls per run in-process with the sampling-context listener, for both sides
(A1111 / k-diffusion: Euler a = steps, DPM++ 2S a = 2·steps − 1)."""
from __future__ import annotations

from harness import WorkflowPair

from forgeline.tests.e2e.graphs import txt2img
from forgeline.tests.e2e.graphs_sampling import a1111_ksampler

STEPS = 20


def _model_calls(ours, theirs):
    def extra(client=None, server=None):
        from comfy_host import add_to_sys_path

        add_to_sys_path()
        from comfy.cli_args import args

        args.cpu = True
        import torch
        import comfy.sample
        import comfy.sd

        from forgeline.host import sampling as a1111_sampling, sampling_hooks as sampling_context
        from forgeline.scripts.comfy_server import MODELS_CACHE

        path = MODELS_CACHE / "checkpoints" / "forgeline_random_sd15_standin.safetensors"
        model, clip, _, _ = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=False, output_clip=True)
        cond = clip.encode_from_tokens_scheduled(clip.tokenize("a photo of a cat"))
        uncond = clip.encode_from_tokens_scheduled(clip.tokenize(""))
        latent = {"samples": torch.zeros(1, 4, 8, 8)}
        _, info = a1111_sampling.sample_a1111(model, cond, uncond, latent, seed=1, steps=STEPS, cfg=7.0,
                                              sampler_name=ours, scheduler="karras", noise_source="comfy",
                                              disable_pbar=True)
        stock = model.clone()
        seen = []
        sampling_context.on_call(stock, "bench", lambda ctx, mo: seen.append(ctx.call_index))
        noise = comfy.sample.prepare_noise(latent["samples"], 1)
        comfy.sample.sample(stock, noise, STEPS, 7.0, theirs, "karras", cond, uncond, latent["samples"], seed=1,
                            disable_pbar=True)
        return {"steps": STEPS, "model_calls_forgeline": info.model_calls, "model_calls_comfy": len(seen)}
    return extra


PAIRS = [
    WorkflowPair(
        id="sampler_euler_a",
        description=f"KSampler (A1111) forgeline_euler_a vs stock KSampler euler_ancestral, {STEPS} steps Karras",
        pack=lambda i: a1111_ksampler(seed=2000 + i, steps=STEPS, sampler="forgeline_euler_a", scheduler="karras",
                                      noise_source="comfy", prefix="bench_euler_a"),
        baseline=lambda i: txt2img(seed=2000 + i, steps=STEPS, sampler="euler_ancestral", scheduler="karras",
                                   prefix="bench_euler_a"),
        runs=7, goal=1.01, extra=_model_calls("forgeline_euler_a", "euler_ancestral"),
        pack_label="KSampler (A1111), forgeline_euler_a", baseline_label="KSampler, euler_ancestral",
    ),
    WorkflowPair(
        id="sampler_dpmpp_2s_a",
        description=f"KSampler (A1111) forgeline_dpmpp_2s_a vs stock KSampler dpmpp_2s_ancestral, {STEPS} steps Karras",
        pack=lambda i: a1111_ksampler(seed=3000 + i, steps=STEPS, sampler="forgeline_dpmpp_2s_a", scheduler="karras",
                                      noise_source="comfy", prefix="bench_dpmpp_2s_a"),
        baseline=lambda i: txt2img(seed=3000 + i, steps=STEPS, sampler="dpmpp_2s_ancestral", scheduler="karras",
                                   prefix="bench_dpmpp_2s_a"),
        runs=7, goal=1.01, extra=_model_calls("forgeline_dpmpp_2s_a", "dpmpp_2s_ancestral"),
        pack_label="KSampler (A1111), forgeline_dpmpp_2s_a", baseline_label="KSampler, dpmpp_2s_ancestral",
    ),
]
