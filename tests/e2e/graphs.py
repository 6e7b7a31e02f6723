"""API-format graph builders shared by e2e tests and benchmarks (plain dicts, as ComfyUI's /prompt takes them)."""
SD15 = "forgeline_random_sd15_standin.safetensors"
SDXL = "forgeline_random_sdxl_standin.safetensors"


def txt2img(ckpt=SD15, positive="a photo of a cat", negative="", seed=1, steps=4, cfg=7.0,
            sampler="euler_ancestral", scheduler="karras", width=64, height=64, latent_node="EmptyLatentImage",
            prefix="forgeline_test"):
    """Checkpoint → two CLIPTextEncode → latent → KSampler → VAEDecode → SaveImage."""
    return {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"text": positive, "clip": ["ckpt", 1]}},
        "neg": {"class_type": "CLIPTextEncode", "inputs": {"text": negative, "clip": ["ckpt", 1]}},
        "latent": {"class_type": latent_node, "inputs": {"width": width, "height": height, "batch_size": 1}},
        "sample": {"class_type": "KSampler", "inputs": {
            "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["latent", 0],
            "seed": seed, "steps": steps, "cfg": cfg, "sampler_name": sampler, "scheduler": scheduler, "denoise": 1.0}},
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": ["sample", 0], "vae": ["ckpt", 2]}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["decode", 0], "filename_prefix": prefix}},
    }
