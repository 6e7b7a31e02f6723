"""API-format graphs for the sampling nodes (KSampler (A1111), SAMPLER/SIGMAS nodes, schedule preview)."""
from forgeline.tests.e2e.graphs import SD15


def _base(ckpt, positive, negative, width, height, batch_size=1):
    return {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"text": positive, "clip": ["ckpt", 1]}},
        "neg": {"class_type": "CLIPTextEncode", "inputs": {"text": negative, "clip": ["ckpt", 1]}},
        "latent": {"class_type": "EmptyLatentImage", "inputs": {"width": width, "height": height,
                                                               "batch_size": batch_size}},
    }


def _decode_save(samples, prefix):
    return {
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": samples, "vae": ["ckpt", 2]}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["decode", 0], "filename_prefix": prefix}},
    }


def a1111_ksampler(ckpt=SD15, positive="a photo of a cat", negative="", seed=1, steps=4, cfg=7.0,
                   sampler="forgeline_euler_a", scheduler="forgeline_karras", denoise=1.0, eta=1.0, s_noise=1.0,
                   noise_source="a1111_gpu", ensd=0, img2img_steps="a1111", width=64, height=64, batch_size=1,
                   prefix="forgeline_sampling"):
    """Checkpoint → prompts → EmptyLatentImage → KSampler (A1111) → VAEDecode → SaveImage."""
    graph = _base(ckpt, positive, negative, width, height, batch_size)
    graph["sample"] = {"class_type": "ForgelineKSampler", "inputs": {
        "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["latent", 0],
        "seed": seed, "steps": steps, "cfg": cfg, "sampler_name": sampler, "scheduler": scheduler,
        "denoise": denoise, "eta": eta, "s_noise": s_noise, "noise_source": noise_source, "ensd": ensd,
        "img2img_steps": img2img_steps}}
    graph.update(_decode_save(["sample", 0], prefix))
    return graph


def custom_advanced(ckpt=SD15, positive="a photo of a cat", negative="", seed=1, steps=4, cfg=7.0,
                    sampler_node="ForgelineSamplerDPMPP2SA", noise_source="a1111_nv", ensd=31337,
                    model_type="SD1", variant="comfy", width=64, height=64, prefix="forgeline_custom"):
    """RandomNoise + CFGGuider + Forgeline SAMPLER + AYS SIGMAS → SamplerCustomAdvanced, plus a schedule preview."""
    graph = _base(ckpt, positive, negative, width, height)
    graph.update({
        "noise": {"class_type": "RandomNoise", "inputs": {"noise_seed": seed}},
        "guider": {"class_type": "CFGGuider", "inputs": {"model": ["ckpt", 0], "positive": ["pos", 0],
                                                         "negative": ["neg", 0], "cfg": cfg}},
        "sampler": {"class_type": sampler_node, "inputs": {"eta": 1.0, "s_noise": 1.0,
                                                           "noise_source": noise_source, "ensd": ensd}},
        "sigmas": {"class_type": "ForgelineAYSSigmas", "inputs": {"model_type": model_type, "steps": steps,
                                                                  "variant": variant, "denoise": 1.0}},
        "preview": {"class_type": "ForgelineSchedulePreview", "inputs": {"sigmas": ["sigmas", 0], "width": 320,
                                                                         "height": 200}},
        "sample": {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["noise", 0], "guider": ["guider", 0], "sampler": ["sampler", 0], "sigmas": ["sigmas", 0],
            "latent_image": ["latent", 0]}},
    })
    graph.update(_decode_save(["sample", 0], prefix))
    return graph
