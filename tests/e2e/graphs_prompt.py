"""API graphs for A1111 Prompt Encode (e2e tests, benchmarks, the workflows engineer's reference).

``prompt_txt2img``: Checkpoint → two ForgelinePromptEncode (positive / negative) → optional ForgelineStepSemantics
on the model (A1111's exact prompt-editing step) → EmptyLatentImage → KSampler → VAEDecode → SaveImage.
``encode_only``: Checkpoint → one text encoder (ForgelinePromptEncode or CLIPTextEncode) → a PreviewAny
sink (an output node), so only the encode work is timed (bench ``prompt_encode``).
"""
from forgeline.tests.e2e.graphs import SD15, SDXL  # noqa: F401  (re-exported for callers)


def prompt_encode_inputs(text, clip=("ckpt", 1), negative=False, steps=4, width=64, height=64, **options):
    inputs = {"clip": list(clip), "text": text, "negative": negative, "emphasis": "Original",
              "comma_padding_backtrack": 20, "clip_skip": 1, "steps": steps, "hires_steps": 0, "width": width,
              "height": height, "crop_w": 0, "crop_h": 0, "target_width": width, "target_height": height}
    inputs.update(options)
    return inputs


def prompt_txt2img(ckpt=SD15, positive="a [cat:dog:0.5], (sunny:1.2) BREAK garden", negative="", seed=1, steps=4,
                   cfg=7.0, sampler="euler_ancestral", scheduler="karras", size=64, exact_steps=True,
                   prefix="forgeline_prompt"):
    model = ["steps_sem", 0] if exact_steps else ["ckpt", 0]
    graph = {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "pos": {"class_type": "ForgelinePromptEncode",
                "inputs": prompt_encode_inputs(positive, steps=steps, width=size, height=size)},
        "neg": {"class_type": "ForgelinePromptEncode",
                "inputs": prompt_encode_inputs(negative, negative=True, steps=steps, width=size, height=size)},
        "latent": {"class_type": "EmptyLatentImage", "inputs": {"width": size, "height": size, "batch_size": 1}},
        "sample": {"class_type": "KSampler", "inputs": {
            "model": model, "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["latent", 0],
            "seed": seed, "steps": steps, "cfg": cfg, "sampler_name": sampler, "scheduler": scheduler,
            "denoise": 1.0}},
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": ["sample", 0], "vae": ["ckpt", 2]}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["decode", 0], "filename_prefix": prefix}},
    }
    if exact_steps:
        graph["steps_sem"] = {"class_type": "ForgelineStepSemantics", "inputs": {"model": ["ckpt", 0]}}
    return graph


def encode_only(text, ckpt=SD15, native=False, steps=20):
    encoder = ({"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["ckpt", 1]}} if native else
               {"class_type": "ForgelinePromptEncode", "inputs": prompt_encode_inputs(text, steps=steps)})
    return {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "enc": encoder,
        "sink": {"class_type": "PreviewAny", "inputs": {"source": ["enc", 0]}},
    }
