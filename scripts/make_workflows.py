"""Write the bundled UI workflows (``example_workflows/<Title>.json``) from the compact descriptions below.

Each description is a function ``(g: UIGraph) -> None`` that adds nodes, links, a Note and groups; node shapes
come from the server's ``/object_info`` (``workflow_ui.UIGraph``). A workflow whose Forgeline nodes are not on the
server yet is skipped and listed. Defaults point at the stand-in models and fixture LoRAs so everything runs in
``make demo`` / ``make test``; with real models only the checkpoint (and LoRA) combos need picking.

    python scripts/make_workflows.py [--server URL] [--api]     # --api: also regenerate example_workflows/api/
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow_convert import EXAMPLES, _object_info, regenerate_all  # noqa: E402
from workflow_ui import UIGraph  # noqa: E402

SD15 = "forgeline_random_sd15_standin.safetensors"
SDXL = "forgeline_random_sdxl_standin.safetensors"
LORA = "forgeline_sd15_kohya.safetensors"
LCM_LORA = "forgeline_sd15_lcm_lora.safetensors"
STYLE_LORA = "forgeline_sd15_style_r16.safetensors"
NEGATIVE = "lowres, bad anatomy, (blurry:1.2), watermark"


def _base(g: UIGraph, ckpt=SD15, positive="", negative=NEGATIVE, steps=20, size=512, clip_from=None, row=0):
    """Checkpoint → positive/negative A1111 Prompt Encode → Empty Latent (A1111 size); returns the nodes."""
    loader = g.node("CheckpointLoaderSimple", (0, row), ckpt_name=ckpt)
    clip = clip_from or loader["CLIP"]
    pos = g.node("ForgelinePromptEncode", (1, row), title="Positive prompt", clip=clip, text=positive, steps=steps,
                 width=size, height=size, target_width=size, target_height=size)
    neg = g.node("ForgelinePromptEncode", (1, row + 12), title="Negative prompt", clip=clip, text=negative,
                 negative=True, steps=steps, width=size, height=size, target_width=size, target_height=size)
    latent = g.node("ForgelineEmptyLatent", (1, row + 24), width=size, height=size, batch_size=1)
    return loader, pos, neg, latent


def _decode_save(g: UIGraph, latent_out, vae_out, prefix, col=3, row=0):
    dec = g.node("VAEDecode", (col, row), samples=latent_out, vae=vae_out)
    save = g.node("SaveImage", (col + 1, row), images=dec[0], filename_prefix=prefix)
    return dec, save


def a1111_prompt(g: UIGraph):
    text = ("a photo of a (red fox:1.2) in a [snowy forest:city street:0.5], detailed fur BREAK "
            "soft evening light, [oil painting|watercolor] style")
    loader, pos, neg, latent = _base(g, positive=text)
    ks = g.node("ForgelineKSampler", (2, 0), model=loader["MODEL"], positive=pos[0], negative=neg[0],
                latent_image=latent[0], seed=1234, steps=20, cfg=7.0, sampler_name="forgeline_euler_a",
                scheduler="normal", noise_source="a1111_gpu")
    _decode_save(g, ks[0], loader["VAE"], "forgeline_a1111_prompt")
    g.note("A1111 prompt syntax, encoded exactly as A1111 does it.\n\n"
           "• (word:1.2) / (word) / [word]: emphasis (Original mode = multiply, then restore the mean)\n"
           "• BREAK: start a new 75-token chunk\n"
           "• [a:b:0.5]: prompt editing, 'a' until half the steps, then 'b' (set the prompt node's steps to the "
           "sampler's steps)\n• [a|b]: alternate every step\n\n"
           "The editor colours the syntax under each prompt and marks errors inline. Sampler: Euler a, A1111 "
           "'GPU' seed. Pick your checkpoint in Load Checkpoint.", (0, 5), size=(320, 330))
    g.group("Prompts (A1111 syntax)", [pos, neg])


def ays_dpmpp(g: UIGraph):
    loader, pos, neg, latent = _base(g, positive="a lighthouse on a cliff at sunset, (dramatic sky:1.1)", steps=10)
    ks = g.node("ForgelineKSampler", (2, 0), model=loader["MODEL"], positive=pos[0], negative=neg[0],
                latent_image=latent[0], seed=42, steps=10, cfg=7.0, sampler_name="forgeline_dpmpp_2s_a",
                scheduler="forgeline_ays", noise_source="a1111_gpu", ensd=0)
    _decode_save(g, ks[0], loader["VAE"], "forgeline_ays_dpmpp")
    sig = g.node("ForgelineAYSSigmas", (2, 13), model_type="SD1", steps=10, variant="a1111", denoise=1.0)
    plot = g.node("ForgelineSchedulePreview", (3, 13), sigmas=sig[0], width=640, height=400)
    g.node("PreviewImage", (4, 13), images=plot[0])
    g.note("Align Your Steps (NVIDIA's 10-step SD1.5 schedule, log-linear resampled for other step counts) with "
           "DPM++ 2S a, seeded like A1111 (noise_source a1111_gpu: the same initial and ancestral noise A1111 "
           "draws on a GPU, reproduced on any device; ensd = 'Eta noise seed delta').\n\n"
           "The lower row plots the AYS sigmas; the KSampler shows a live sigma preview too.", (0, 5),
           size=(320, 260))
    g.group("Schedule preview", [sig, plot])


def scheduled_lora(g: UIGraph):
    loader = g.node("CheckpointLoaderSimple", (0, 0), ckpt_name=SD15)
    lora = g.node("ForgelineLoraLoader", (0, 4), model=loader["MODEL"], clip=loader["CLIP"], lora_name=LORA,
                  strength_model=1.0, strength_clip=1.0, schedule="0@0,1@0.5", mode="loractl")
    text = "portrait of a knight in ornate armor, (castle background:0.9)"
    pos = g.node("ForgelinePromptEncode", (1, 0), title="Positive prompt", clip=lora["CLIP"], text=text, steps=20,
                 width=512, height=512, target_width=512, target_height=512)
    neg = g.node("ForgelinePromptEncode", (1, 12), title="Negative prompt", clip=lora["CLIP"], text=NEGATIVE,
                 negative=True, steps=20, width=512, height=512, target_width=512, target_height=512)
    latent = g.node("ForgelineEmptyLatent", (1, 24), width=512, height=512, batch_size=1)
    ks = g.node("ForgelineKSampler", (2, 0), model=lora["MODEL"], positive=pos[0], negative=neg[0],
                latent_image=latent[0], seed=7, steps=20, cfg=7.0, sampler_name="forgeline_euler_a",
                scheduler="forgeline_karras")
    _decode_save(g, ks[0], loader["VAE"], "forgeline_scheduled_lora")
    g.note("LoRA strength that changes during sampling (sd-webui-loractl syntax): '0@0,1@0.5' ramps the UNet "
           "weight from 0 at the start to 1 at half the steps. Positions ≤ 1 are fractions, larger ones steps; "
           "'1:unet=0@0,1@1' gives text encoder and UNet separate values. mode loractl = A1111 timing (one-step "
           "lag), exact = no lag. The curve under the loader previews the weight per step.\n\n"
           "Pick your LoRA in lora_name; the stand-in uses a fixture LoRA.", (0, 14), size=(320, 300))
    g.group("Scheduled LoRA", [lora])


def lcm_style(g: UIGraph):
    loader = g.node("CheckpointLoaderSimple", (0, 0), ckpt_name=SD15)
    merge = g.node("ForgelineLCMLoraMerge", (0, 4), model=loader["MODEL"], clip=loader["CLIP"], lcm_lora=LCM_LORA,
                   style_lora=STYLE_LORA, style_strength=0.8, lcm_strength=1.0, save_merged=False)
    pos = g.node("ForgelinePromptEncode", (1, 0), title="Positive prompt", clip=merge["CLIP"],
                 text="a cozy cabin in the woods, warm light", steps=4, width=512, height=512, target_width=512,
                 target_height=512)
    neg = g.node("ForgelinePromptEncode", (1, 12), title="Negative prompt", clip=merge["CLIP"], text="",
                 negative=True, steps=4, width=512, height=512, target_width=512, target_height=512)
    latent = g.node("ForgelineEmptyLatent", (1, 24), width=512, height=512, batch_size=1)
    ks = g.node("ForgelineKSampler", (2, 0), model=merge["MODEL"], positive=pos[0], negative=neg[0],
                latent_image=latent[0], seed=99, steps=merge["steps"], cfg=merge["cfg"],
                sampler_name=merge["sampler_name"], scheduler=merge["scheduler"])
    _decode_save(g, ks[0], loader["VAE"], "forgeline_lcm_style")
    g.note("LCM-LoRA + a style LoRA merged once into the model (θ + 0.8·τ_style + 1.0·τ_LCM, the LCM-LoRA "
           "report's recipe), LCM sampling set, and the preset wired in from the merge node: 4 steps, CFG 1, "
           "sampler lcm, scheduler sgm_uniform. save_merged bakes the result into a checkpoint.\n\n"
           "Pick your LCM-LoRA and style LoRA in the merge node.", (0, 12), size=(320, 260))
    g.group("LCM merge", [merge])


def hires_fix(g: UIGraph):
    loader, pos, neg, latent = _base(g, positive="a mountain village, (intricate details:1.1), morning fog")
    common = dict(seed=2024, steps=20, cfg=7.0, sampler_name="forgeline_euler_a", scheduler="forgeline_karras")
    ks = g.node("ForgelineKSampler", (2, 0), model=loader["MODEL"], positive=pos[0], negative=neg[0],
                latent_image=latent[0], noise_source="a1111_gpu", **common)
    hr = g.node("ForgelineHiResFix", (2, 13), model=loader["MODEL"], positive=pos[0], negative=neg[0],
                latent=ks[0], vae=loader["VAE"], upscaler="Latent", upscale_by=2.0, hires_steps=10, denoise=0.55,
                noise_source="a1111_gpu", **common)
    _decode_save(g, hr[0], loader["VAE"], "forgeline_hires_fix")
    g.note("A1111 'Hires. fix' in one node: the first pass's latent is upscaled (here Latent ×2) and re-sampled "
           "with hires steps 10 at denoising strength 0.55, i.e. the last 10 steps of an int(10/0.55)-step "
           "schedule, with fresh noise from the first pass's seed, as A1111 does.\n\n"
           "Keep seed/steps/CFG/sampler/scheduler equal in both nodes (they mirror A1111's txt2img tab).",
           (0, 5), size=(320, 260))
    g.group("First pass → hires pass", [ks, hr])


def sdxl_refiner(g: UIGraph):
    text = "a red sports car on a coastal road, (golden hour:1.1), photo"
    base, pos, neg, latent = _base(g, ckpt=SDXL, positive=text, steps=25, size=1024)
    refiner = g.node("CheckpointLoaderSimple", (0, 30), title="Load Refiner", ckpt_name=SDXL)
    rpos = g.node("ForgelinePromptEncode", (1, 36), title="Refiner positive", clip=refiner["CLIP"], text=text,
                  steps=25, width=1024, height=1024, target_width=1024, target_height=1024)
    rneg = g.node("ForgelinePromptEncode", (1, 48), title="Refiner negative", clip=refiner["CLIP"], text=NEGATIVE,
                  negative=True, steps=25, width=1024, height=1024, target_width=1024, target_height=1024)
    ref = g.node("ForgelineRefiner", (2, 0), base_model=base["MODEL"], base_positive=pos[0], base_negative=neg[0],
                 refiner_model=refiner["MODEL"], refiner_positive=rpos[0], refiner_negative=rneg[0],
                 latent_image=latent[0], seed=5, steps=25, cfg=7.0, sampler_name="forgeline_euler_a",
                 scheduler="forgeline_karras", switch_at=0.8, switch_by="timestep")
    _decode_save(g, ref[0], base["VAE"], "forgeline_sdxl_refiner")
    g.note("SDXL base → refiner as A1111 runs it: ONE schedule of 25 steps, the base samples until 'Switch at' "
           "0.8 (by model timestep, A1111's default), then the refiner continues from the leftover noise with "
           "the same ancestral noise stream (no hidden seed 0).\n\n"
           "Pick your SDXL base in Load Checkpoint and the SDXL refiner in Load Refiner; the refiner prompts are "
           "encoded with the refiner's own CLIP. (The stand-in demo uses the base for both.)", (0, 5),
           size=(320, 280))
    g.group("Base prompts", [pos, neg])
    g.group("Refiner", [refiner, rpos, rneg], color="#8A8")


def migrate_a1111(g: UIGraph):
    text = ("masterpiece, a (cyberpunk:1.2) street market at night, neon signs, rain BREAK "
            "[crowded:empty:0.4] alleys <lora:forgeline_sd15_kohya:0.8> <lora:forgeline_sd15_style_r16:0:0@0,1@1>")
    loader = g.node("CheckpointLoaderSimple", (0, 0), ckpt_name=SD15)
    pos = g.node("ForgelinePromptEncode", (1, 0), title="Positive prompt (A1111 paste)", clip=loader["CLIP"],
                 text=text, steps=20, hires_steps=10, width=512, height=512, target_width=512, target_height=512)
    tags = g.node("ForgelineApplyPromptLoras", (0, 7), model=loader["MODEL"], clip=loader["CLIP"],
                  conditioning=pos[0], mode="loractl")
    neg = g.node("ForgelinePromptEncode", (1, 12), title="Negative prompt", clip=loader["CLIP"], text=NEGATIVE,
                 negative=True, steps=20, hires_steps=10, width=512, height=512, target_width=512,
                 target_height=512)
    latent = g.node("ForgelineEmptyLatent", (1, 24), width=512, height=512, batch_size=1)
    common = dict(seed=31337, steps=20, cfg=7.0, sampler_name="forgeline_dpmpp_2s_a", scheduler="forgeline_karras",
                  noise_source="a1111_gpu", ensd=31337)
    ks = g.node("ForgelineKSampler", (2, 0), model=tags["MODEL"], positive=pos[0], negative=neg[0],
                latent_image=latent[0], **common)
    hr = g.node("ForgelineHiResFix", (2, 13), model=tags["MODEL"], positive=pos[0], negative=neg[0], latent=ks[0],
                vae=loader["VAE"], upscaler="Latent", upscale_by=1.5, hires_steps=10, denoise=0.5, **common)
    _decode_save(g, hr[0], loader["VAE"], "forgeline_migrate_a1111")
    g.note("Your A1111 txt2img settings, one node each:\n"
           "• Prompt / Negative prompt → A1111 Prompt Encode (paste as is: weights, BREAK, [a:b:N], <lora:…>)\n"
           "• <lora:…> tags → Apply Prompt LoRA Tags (loractl schedules like 0@0,1@1 work)\n"
           "• Sampling method / Schedule type / steps / CFG / Seed → KSampler (A1111); Settings → 'Random number "
           "generator source' = noise_source, 'Eta noise seed delta' = ensd\n"
           "• Width / Height / Batch size → Empty Latent (A1111 size)\n"
           "• Hires. fix → HiRes Fix (A1111)\n\n"
           "The same seed and settings give A1111's image. Pick your checkpoint; LoRA names in the prompt are "
           "looked up in models/loras (the editor autocompletes after '<lora:').", (0, 15), size=(340, 380))
    g.group("A1111 txt2img tab", [pos, neg, latent, ks, hr])


def train_lora_acrf(g: UIGraph):
    loader = g.node("CheckpointLoaderSimple", (0, 0), ckpt_name=SD15)
    colors = (0xC04020, 0x2060C0, 0x40A040, 0xE0C060)
    images = [g.node("EmptyImage", (0, 6 + 6 * i), title=f"Training image {i + 1} (use Load Image)", width=64,
                     height=64, batch_size=1, color=c) for i, c in enumerate(colors)]
    batch = images[0][0]
    for i, img in enumerate(images[1:]):
        batch = g.node("ImageBatch", (1, 6 + 6 * i), title="Batch Images", image1=batch, image2=img[0])[0]
    caption = g.node("CLIPTextEncode", (1, 0), title="Caption (all images)", clip=loader["CLIP"],
                     text="a photo of sks")
    train = g.node("ForgelineTrainLoraACRF", (2, 0), model=loader["MODEL"], captions=caption[0], images=batch,
                   vae=loader["VAE"], scheduler="karras", anchor_steps=10, batch_size=4, grad_accumulation=1,
                   steps=100, learning_rate=1e-4, loss_mode="standard", rank=8, alpha=8.0, seed=0,
                   filename="forgeline_acrf_4_images", trigger_words="sks")
    g.node("PreviewImage", (3, 27), title="Loss curve", images=train[2])
    pos = g.node("ForgelinePromptEncode", (3, 0), title="Positive prompt", clip=loader["CLIP"],
                 text="a photo of sks, detailed", steps=10, width=512, height=512, target_width=512,
                 target_height=512)
    neg = g.node("ForgelinePromptEncode", (3, 13), title="Negative prompt", clip=loader["CLIP"], text=NEGATIVE,
                 negative=True, steps=10, width=512, height=512, target_width=512, target_height=512)
    latent = g.node("ForgelineEmptyLatent", (3, 36), width=512, height=512, batch_size=1)
    ks = g.node("ForgelineKSampler", (4, 0), model=train[0], positive=pos[0], negative=neg[0],
                latent_image=latent[0], seed=11, steps=10, cfg=7.0, sampler_name="forgeline_euler_a",
                scheduler="karras")
    _decode_save(g, ks[0], loader["VAE"], "forgeline_acrf_lora", col=5)
    g.note("Train a LoRA on 4 images, then sample with it (AC-RF: the training noise levels are the sampling "
           "schedule's own sigmas, here Karras with 10 steps, so sample with the same scheduler and steps).\n\n"
           "Replace the 4 coloured placeholders with Load Image nodes of your pictures (same size), write a "
           "caption with your trigger word, and queue. The LoRA is saved into models/loras "
           "(forgeline_acrf_4_images.safetensors, kohya format, trigger words in its metadata) and the sampler "
           "below already uses the trained model. The input model is not changed.", (0, 30), size=(340, 280))
    g.group("Training", [train])


SAMPLE_INFOTEXT = ("a photo of a cat on a windowsill, (detailed fur:1.1) <lora:forgeline_sd15_kohya:0.7>\n"
                   "Negative prompt: lowres, blurry\n"
                   "Steps: 3, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 1234, Size: 64x64, "
                   "Model: forgeline_random_sd15_standin, Clip skip: 2, ENSD: 31337, Version: v1.10.1")


def save_for_civitai(g: UIGraph):
    text = "a lighthouse on a cliff at sunset, (dramatic clouds:1.2), oil painting"
    loader = g.node("CheckpointLoaderSimple", (0, 0), ckpt_name=SD15)
    lora = g.node("ForgelineLoraLoader", (0, 8), model=loader["MODEL"], clip=loader["CLIP"], lora_name=LORA,
                  strength_model=0.8, strength_clip=0.8)
    loader_out = loader
    pos = g.node("ForgelinePromptEncode", (1, 0), title="Positive prompt", clip=lora["CLIP"], text=text, steps=20,
                 clip_skip=2, width=512, height=512, target_width=512, target_height=512)
    neg = g.node("ForgelinePromptEncode", (1, 12), title="Negative prompt", clip=lora["CLIP"], text=NEGATIVE,
                 negative=True, steps=20, clip_skip=2, width=512, height=512, target_width=512, target_height=512)
    latent = g.node("ForgelineEmptyLatent", (1, 24), width=512, height=512, batch_size=2)
    ks = g.node("ForgelineKSampler", (2, 0), model=lora["MODEL"], positive=pos[0], negative=neg[0],
                latent_image=latent[0], seed=777, steps=20, cfg=7.0, sampler_name="forgeline_dpmpp_2s_a",
                scheduler="forgeline_karras", noise_source="a1111_gpu")
    dec = g.node("VAEDecode", (3, 0), samples=ks[0], vae=loader_out["VAE"])
    g.node("ForgelineSaveImageA1111", (4, 0), images=dec[0], filename_prefix="forgeline_civitai", format="png",
           sampler_names="Civitai (legacy combined name)", hashes=True)
    g.note("Images that Civitai (and A1111's PNG Info) read: Save Image (A1111 infotext) writes the A1111 "
           "'parameters' text from the graph that ran: prompts, the LoRA as <lora:name:0.8> with its A1111 "
           "tensor-data hash (so Civitai links it), the checkpoint's AutoV2 hash, seed per image (seed + i), "
           "sampler, clip skip. The ComfyUI workflow stays in the PNG too.\n\n"
           "'sampler_names = Civitai' writes 'DPM++ 2S a Karras' (the name Civitai lists); 'A1111' writes "
           "'Sampler: DPM++ 2S a, Schedule type: Karras' as A1111 1.9+. Files are hashed once, then cached.",
           (0, 20), size=(320, 300))


def reproduce_a1111(g: UIGraph):
    params = g.node("ForgelineA1111Parameters", (0, 0), title="Paste A1111 parameters (or pick a PNG)",
                    text=SAMPLE_INFOTEXT)
    loader = g.node("CheckpointLoaderSimple", (1, 0), ckpt_name=params["checkpoint"])
    tags = g.node("ForgelineApplyPromptLoras", (1, 6), model=loader["MODEL"], clip=loader["CLIP"],
                  text=params["positive"], mode="loractl")
    size = dict(width=params["width"], height=params["height"], target_width=params["width"],
                target_height=params["height"], steps=params["steps"], clip_skip=params["clip_skip"],
                emphasis=params["emphasis"])
    pos = g.node("ForgelinePromptEncode", (2, 0), title="Positive prompt", clip=tags["CLIP"],
                 text=params["positive"], **size)
    neg = g.node("ForgelinePromptEncode", (2, 15), title="Negative prompt", clip=tags["CLIP"],
                 text=params["negative"], negative=True, **size)
    latent = g.node("ForgelineEmptyLatent", (2, 30), width=params["width"], height=params["height"], batch_size=1)
    ks = g.node("ForgelineKSampler", (3, 0), model=tags["MODEL"], positive=pos[0], negative=neg[0],
                latent_image=latent[0], seed=params["seed"], steps=params["steps"], cfg=params["cfg"],
                sampler_name=params["sampler_name"], scheduler=params["scheduler"], eta=params["eta"],
                noise_source=params["noise_source"], ensd=params["ensd"])
    dec = g.node("VAEDecode", (4, 0), samples=ks[0], vae=loader["VAE"])
    g.node("ForgelineSaveImageA1111", (5, 0), images=dec[0], filename_prefix="forgeline_reproduced", format="png")
    g.note("Reproduce an A1111 / Forge image: paste its parameters (A1111 'PNG Info') into A1111 Parameters, or "
           "upload the PNG and pick it (clear the text). The infotext is read with A1111's own parser; the "
           "checkpoint and <lora:> tags are found in your model folders by their A1111 hashes, then by name. "
           "Fields this graph does not use are listed in the node's 'warnings' output and the log.\n\n"
           "This graph is txt2img. For HiRes Fix and refiner infotexts, drop the PNG onto the editor or run "
           "'python scripts/forgeline_client.py --from-a1111 IMAGE.png': both build the full graph. (The sample "
           "text is a tiny 64x64, 3-step run for the stand-in models.)",
           (0, 24), size=(320, 300))


def four_prompts_four_loras(g: UIGraph):
    loader = g.node("CheckpointLoaderSimple", (0, 0), ckpt_name=SD15)
    prompts = ("a red house on a hill, (morning fog:1.1)\n"
               "a cat in a garden <lora:forgeline_sd15_kohya:0.8>\n"
               "portrait of a knight, [smiling:serious:0.5] <lora:forgeline_sd15_style_r16:1:0@0,1@1>\n"
               "a forest path BREAK autumn colours <lora:forgeline_sd15_lcm_lora:0.6>")
    bp = g.node("ForgelineBatchPrompts", (1, 0), title="Batch prompts (A1111)", model=loader["MODEL"],
                clip=loader["CLIP"], prompts=prompts, negative=NEGATIVE, steps=20, mode="loractl")
    latent = g.node("ForgelineEmptyLatent", (1, 20), width=512, height=512, batch_size=bp[3])
    ks = g.node("ForgelineKSampler", (2, 0), model=bp[0], positive=bp[1], negative=bp[2], latent_image=latent[0],
                seed=1234, steps=20, cfg=7.0, sampler_name="forgeline_euler_a", scheduler="forgeline_karras",
                noise_source="a1111_gpu")
    _decode_save(g, ks[0], loader["VAE"], "forgeline_four_prompts")
    g.note("Four prompts, four LoRA sets, ONE batch: each line of 'prompts' is one image, with its own weights, "
           "BREAK, [prompt:editing] and <lora:name:te:unet> tags (loractl schedules like 0@0,1@1 too). Image i "
           "gets line i and only line i's LoRAs, applied per image inside one sampling pass (no re-patching). "
           "With KSampler (A1111) and an A1111 noise source image i equals a single run of line i with seed + i.\n\n"
           "One negative line is shared; or write one negative per prompt line. The latent batch size comes from "
           "the node's batch_size output.", (0, 8), size=(320, 300))
    g.group("Batch prompts", [bp, latent])


def lora_xyz_plot(g: UIGraph):
    loader = g.node("CheckpointLoaderSimple", (0, 0), ckpt_name=SD15)
    latent = g.node("ForgelineEmptyLatent", (0, 8), width=512, height=512, batch_size=1)
    text = f"a watercolor painting of a fox in a meadow <lora:{LORA[:-len('.safetensors')]}:0.4>"
    plot = g.node("ForgelineXYZPlot", (1, 0), model=loader["MODEL"], clip=loader["CLIP"], vae=loader["VAE"],
                  latent_image=latent[0], positive=text, negative=NEGATIVE, seed=1234, steps=20, cfg=7.0,
                  sampler_name="forgeline_euler_a", scheduler="forgeline_karras", noise_source="a1111_gpu",
                  x_type="Prompt S/R", x_values=":0.4>, :0.7>, :1>", y_type="Steps", y_values="4, 6")
    g.node("ForgelineSaveImageA1111", (2, 0), images=plot["grid"], cell_runs=plot["infotexts"],
           filename_prefix="forgeline_xyz_lora_steps")
    g.node("ForgelineSaveImageA1111", (2, 10), images=plot["cells"], cell_runs=plot["infotexts"],
           filename_prefix="forgeline_xyz_lora_steps_cell")
    g.note("A1111's X/Y/Z plot in one node: X = LoRA strength by Prompt S/R (the first value ':0.4>' is found in "
           "the prompt's <lora:...:0.4> tag and replaced by each value), Y = Steps. Each cell is the plain "
           "txt2img graph with its settings, run and cached by ComfyUI: change one value and only its cells run "
           "again. Values take A1111's syntax: 1-5, 1-10 (+2), 1-10 [5], 0-1 (+0.25), \"quoted, commas\"; Seed "
           "-1 = random. Z adds a third axis (a grid of grids, or one grid per value).\n\n"
           "Both saves write A1111 infotext: each cell image its own settings (its LoRA tag after S/R, steps, "
           "seed...), the grid its first cell's plus the axes, as A1111 saves them.\n\n"
           "Pick your checkpoint and put your LoRA's name in the tag; real runs want more steps (e.g. 10, 20, 30).",
           (0, 14), size=(340, 300))
    g.group("X/Y/Z plot", [plot])


WORKFLOWS = {
    "A1111 prompt (BREAK + editing)": a1111_prompt,
    "AYS + DPM++ 2S a (A1111 seed)": ays_dpmpp,
    "Scheduled LoRA": scheduled_lora,
    "LCM-LoRA + style (4 steps)": lcm_style,
    "HiRes Fix": hires_fix,
    "SDXL base → refiner": sdxl_refiner,
    "Migrate from A1111 (all-in-one)": migrate_a1111,
    "Train a LoRA on 4 images, then sample with it": train_lora_acrf,
    "Save for Civitai": save_for_civitai,
    "Reproduce an A1111 image": reproduce_a1111,
    "Four prompts, four LoRAs, one batch": four_prompts_four_loras,
    "LoRA strength × steps plot": lora_xyz_plot,
}


def build_all(object_info: dict, out_dir: Path = EXAMPLES) -> tuple[list[str], dict]:
    """Write every workflow whose nodes exist; return (written titles, {skipped title: reason})."""
    written, skipped = [], {}
    for index, (title, describe) in enumerate(WORKFLOWS.items()):
        g = UIGraph(object_info, workflow_id=f"00000000-0000-4000-8000-{index + 1:012d}")
        try:
            describe(g)
        except KeyError as exc:
            skipped[title] = f"node not available: {exc}"
            continue
        crowded = g.overlaps()
        if crowded:
            raise ValueError(f"{title}: nodes overlap or touch, move them apart: {'; '.join(crowded)}")
        (out_dir / f"{title}.json").write_text(json.dumps(g.to_json(), indent=1, ensure_ascii=False) + "\n")
        written.append(title)
    return written, skipped


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", help="ComfyUI URL for /object_info (default: boot a stand-in server)")
    ap.add_argument("--api", action="store_true", help="also regenerate the API twins (workflow_convert --all)")
    args = ap.parse_args(argv)
    info, stop = _object_info(args.server)
    try:
        written, skipped = build_all(info)
        changed = regenerate_all(info) if args.api else None
    finally:
        stop()
    print(f"wrote {len(written)} workflow(s): {', '.join(written)}")
    if changed is not None:
        print(f"{len(changed)} API twin(s) changed: {', '.join(changed) or '-'}")
    for title, why in skipped.items():
        print(f"skipped {title!r}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
