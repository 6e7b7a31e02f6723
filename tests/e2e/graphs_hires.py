"""API-format graphs for HiRes Fix (A1111) and Refiner handoff (A1111), with their native ComfyUI equivalents
(comfyanonymous/ComfyUI_examples ``2_pass_txt2img`` two-pass txt2img; ``sdxl/sdxl_simple_example.png`` SDXL base →
refiner with two KSamplerAdvanced). Shared by e2e tests and
bench/pairs/hires_refiner.py."""
from .graphs import SD15, SDXL

SAME = "(same as first pass)"


def _base(ckpt, positive, negative, width, height):
    return {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"text": positive, "clip": ["ckpt", 1]}},
        "neg": {"class_type": "CLIPTextEncode", "inputs": {"text": negative, "clip": ["ckpt", 1]}},
        "latent": {"class_type": "EmptyLatentImage", "inputs": {"width": width, "height": height, "batch_size": 1}},
    }


def _first_pass(seed, steps, cfg, sampler, scheduler):
    return {"class_type": "KSampler", "inputs": {
        "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["latent", 0],
        "seed": seed, "steps": steps, "cfg": cfg, "sampler_name": sampler, "scheduler": scheduler, "denoise": 1.0}}


def _save(latent_ref, prefix, vae=("ckpt", 2)):
    return {
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": latent_ref, "vae": list(vae)}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["decode", 0], "filename_prefix": prefix}},
    }


def hires_fix(ckpt=SD15, positive="a photo of a cat", negative="", seed=1, steps=3, cfg=7.0,
              sampler="euler_ancestral", scheduler="normal", width=64, height=64, upscaler="Latent", upscale_by=1.5,
              resize_width=0, resize_height=0, hires_steps=2, denoise=0.5, noise_source="comfy",
              prefix="forgeline_hires"):
    """Checkpoint → prompts → KSampler (first pass) → HiRes Fix (A1111) → VAEDecode → SaveImage."""
    graph = _base(ckpt, positive, negative, width, height)
    graph["first"] = _first_pass(seed, steps, cfg, sampler, scheduler)
    graph["hires"] = {"class_type": "ForgelineHiResFix", "inputs": {
        "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent": ["first", 0],
        "seed": seed, "steps": steps, "cfg": cfg, "sampler_name": sampler, "scheduler": scheduler,
        "upscaler": upscaler, "upscale_by": upscale_by, "resize_width": resize_width, "resize_height": resize_height,
        "hires_steps": hires_steps, "denoise": denoise, "hires_sampler": SAME, "hires_scheduler": SAME,
        "hires_cfg": 0.0, "eta": 1.0, "s_noise": 1.0, "noise_source": noise_source, "ensd": 0,
        "vae": ["ckpt", 2]}}
    graph.update(_save(["hires", 0], prefix))
    return graph


def native_hires_fix(ckpt=SD15, positive="a photo of a cat", negative="", seed=1, steps=3, cfg=7.0,
                     sampler="euler_ancestral", scheduler="normal", width=64, height=64, method="bilinear",
                     upscale_by=1.5, hires_steps=2, denoise=0.5, prefix="native_hires"):
    """The stock equivalent: KSampler → LatentUpscaleBy → KSampler(denoise, same seed) → VAEDecode → SaveImage."""
    graph = _base(ckpt, positive, negative, width, height)
    graph["first"] = _first_pass(seed, steps, cfg, sampler, scheduler)
    graph["upscale"] = {"class_type": "LatentUpscaleBy", "inputs": {
        "samples": ["first", 0], "upscale_method": method, "scale_by": upscale_by}}
    graph["hires"] = {"class_type": "KSampler", "inputs": {
        "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["upscale", 0],
        "seed": seed, "steps": hires_steps or steps, "cfg": cfg, "sampler_name": sampler, "scheduler": scheduler,
        "denoise": denoise}}
    graph.update(_save(["hires", 0], prefix))
    return graph


def _with_refiner_loader(graph, refiner_ckpt, positive, negative):
    graph["rckpt"] = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": refiner_ckpt}}
    graph["rpos"] = {"class_type": "CLIPTextEncode", "inputs": {"text": positive, "clip": ["rckpt", 1]}}
    graph["rneg"] = {"class_type": "CLIPTextEncode", "inputs": {"text": negative, "clip": ["rckpt", 1]}}
    return graph


def refiner(ckpt=SDXL, refiner_ckpt=SDXL, positive="a photo of a cat", negative="", seed=1, steps=3, cfg=7.0,
            sampler="euler_ancestral", scheduler="normal", width=64, height=64, switch_at=0.67, switch_by="steps",
            noise_source="comfy", prefix="forgeline_refiner"):
    """Base and refiner checkpoints, each with its own CLIPTextEncode → Refiner handoff (A1111) → decode → save."""
    graph = _with_refiner_loader(_base(ckpt, positive, negative, width, height), refiner_ckpt, positive, negative)
    graph["refine"] = {"class_type": "ForgelineRefiner", "inputs": {
        "base_model": ["ckpt", 0], "base_positive": ["pos", 0], "base_negative": ["neg", 0],
        "refiner_model": ["rckpt", 0], "refiner_positive": ["rpos", 0], "refiner_negative": ["rneg", 0],
        "latent_image": ["latent", 0], "seed": seed, "steps": steps, "cfg": cfg, "sampler_name": sampler,
        "scheduler": scheduler, "switch_at": switch_at, "switch_by": switch_by, "refiner_cfg": 0.0,
        "aesthetic_score": 6.0, "negative_aesthetic_score": 2.5, "eta": 1.0, "s_noise": 1.0,
        "noise_source": noise_source, "ensd": 0}}
    graph.update(_save(["refine", 0], prefix))
    return graph


def native_refiner(ckpt=SDXL, refiner_ckpt=SDXL, positive="a photo of a cat", negative="", seed=1, steps=3,
                   cfg=7.0, sampler="euler", scheduler="normal", width=64, height=64, switch_step=2,
                   refiner_seed=None, prefix="native_refiner"):
    """The official example's two KSamplerAdvanced (base 0→k with leftover noise; refiner k→end, no added noise,
    ``noise_seed`` = ``refiner_seed``, 0 in the official example; here the base seed unless given)."""
    graph = _with_refiner_loader(_base(ckpt, positive, negative, width, height), refiner_ckpt, positive, negative)
    graph["basek"] = {"class_type": "KSamplerAdvanced", "inputs": {
        "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["latent", 0],
        "add_noise": "enable", "noise_seed": seed, "steps": steps, "cfg": cfg, "sampler_name": sampler,
        "scheduler": scheduler, "start_at_step": 0, "end_at_step": switch_step, "return_with_leftover_noise": "enable"}}
    graph["refk"] = {"class_type": "KSamplerAdvanced", "inputs": {
        "model": ["rckpt", 0], "positive": ["rpos", 0], "negative": ["rneg", 0], "latent_image": ["basek", 0],
        "add_noise": "disable", "noise_seed": seed if refiner_seed is None else refiner_seed, "steps": steps,
        "cfg": cfg, "sampler_name": sampler, "scheduler": scheduler, "start_at_step": switch_step,
        "end_at_step": 10000, "return_with_leftover_noise": "disable"}}
    graph.update(_save(["refk", 0], prefix))
    return graph
