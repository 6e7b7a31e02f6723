"""From A1111 infotext to a Forgeline API graph that makes the same image (txt2img, HiRes Fix, refiner).

``settings`` are A1111 processing attributes (``fields.settings_from_parameters``). Resources are found through a
``resolve(kind, name, digest) -> local file name | None`` callback (kinds ``checkpoint``, ``vae``, ``lora``,
``embedding``, ``upscaler``): by hash first, as A1111's paste does for LoRAs (``lora_script.infotext_pasted``
rewrites ``<lora:NAME:`` to the local network whose shorthash matches), then by name. Every missing resource is
collected and reported together with its name and hash (:class:`MissingResources`).

The graph: CheckpointLoaderSimple -> (Apply Prompt LoRA Tags when the prompt has ``<lora:>`` tags) -> two
A1111 Prompt Encode -> Empty Latent (A1111 size) -> KSampler (A1111) or Refiner handoff (A1111) -> HiRes Fix (A1111)
-> VAEDecode -> Save Image (A1111 infotext). Sampler / scheduler ids come from ``names``; the RNG from ``RNG``.
"""
from __future__ import annotations

import re

from . import names
from .graph import RNG_NOISE_SOURCE

HIRES_SAME = "(same as first pass)"
FORGELINE_UPSCALERS = ("Latent", "Latent (antialiased)", "Latent (bicubic)", "Latent (bicubic antialiased)",
                       "Latent (nearest)", "Latent (nearest-exact)", "Lanczos", "Nearest", "Bicubic")
_RE_LORA_TAG = re.compile(r"<(lora|lyco):([^:>]+)")


class MissingResources(ValueError):
    """Resources of the infotext that are not on this machine; ``items`` = [(kind, name, hash)]."""

    def __init__(self, items, problems=()):
        self.items = list(items)
        self.problems = list(problems)
        lines = [f"{kind} {name!r} (hash {digest or 'none'})" for kind, name, digest in self.items]
        lines += list(self.problems)
        super().__init__("cannot reproduce this image: " + "; ".join(lines))


def _tag_names(text):
    return [m.group(2) for m in _RE_LORA_TAG.finditer(text or "")]


def rename_lora_tags(text, mapping):
    """``<lora:NAME:`` -> ``<lora:LOCAL:`` for every NAME in ``mapping`` (A1111 ``lora_script.infotext_pasted``)."""
    def sub(m):
        local = mapping.get(m.group(2))
        return f"<{m.group(1)}:{local}" if local else m.group(0)
    return _RE_LORA_TAG.sub(sub, text or "")


def _stem(name):
    base = str(name).replace("\\", "/")
    return base.rsplit(".", 1)[0] if base.lower().endswith((".safetensors", ".pt", ".ckpt", ".bin")) else base


def resolve_resources(settings, resolve):
    """``(resources, missing)``: local names for the checkpoint, VAE, refiner, hires checkpoint and LoRAs."""
    res, missing = {"loras": {}}, []

    def need(kind, name, digest, key):
        if not name and not digest:
            return
        local = resolve(kind, name, digest)
        if local is None:
            missing.append((kind, name, digest))
        else:
            res[key] = local

    need("checkpoint", settings.get("model_name"), settings.get("model_hash"), "checkpoint")
    if settings.get("vae_name") or settings.get("vae_hash"):
        need("vae", settings.get("vae_name"), settings.get("vae_hash"), "vae")
    if settings.get("refiner_checkpoint") and settings.get("refiner_switch_at") is not None:
        need("checkpoint", settings["refiner_checkpoint"], settings.get("refiner_hash"), "refiner")
    if settings.get("hr_checkpoint_name"):
        need("checkpoint", settings["hr_checkpoint_name"], settings.get("hr_checkpoint_hash"), "hires_checkpoint")
    hashes = settings.get("lora_hashes") or {}
    texts = [settings.get("prompt", ""), settings.get("hr_prompt", "")]   # A1111 activates positive tags only
    for name in dict.fromkeys(n for t in texts for n in _tag_names(t)):
        local = resolve("lora", name, hashes.get(name))
        if local is None:
            missing.append(("lora", name, hashes.get(name)))
        else:
            res["loras"][name] = _stem(local)
    upscaler = settings.get("hr_upscaler")
    if settings.get("enable_hr") and upscaler and upscaler not in FORGELINE_UPSCALERS:
        need("upscaler", upscaler, None, "upscale_model")
    return res, missing


def build_graph(settings, resolve, filename_prefix="Forgeline_a1111", save=True):
    """``(api_graph, warnings)`` for the settings; :class:`MissingResources` when something is not available."""
    s = settings
    warnings, problems = [], []
    res, missing = resolve_resources(s, resolve)
    sampler = s.get("sampler_name", names.DEFAULT_SAMPLER)
    comfy_sampler = names.comfy_sampler_id(sampler)
    comfy_scheduler = names.comfy_scheduler_id(sampler, s.get("scheduler", names.AUTOMATIC))
    if comfy_sampler is None:
        problems.append(f"sampler {sampler!r} has no ComfyUI equivalent")
    if comfy_scheduler is None:
        problems.append(f"schedule type {s.get('scheduler')!r} has no ComfyUI equivalent")
    if "checkpoint" not in res and not missing:
        problems.append("the infotext names no checkpoint (Model / Model hash)")
    if missing or problems:
        raise MissingResources(missing, problems)

    noise = RNG_NOISE_SOURCE.get(s.get("randn_source", "GPU"))
    if noise is None:
        warnings.append(f"RNG {s.get('randn_source')!r} is not known; using A1111's GPU RNG")
        noise = "a1111_gpu"
    width, height = int(s.get("width", 512)), int(s.get("height", 512))
    steps, seed, cfg = int(s.get("steps", 20)), int(s.get("seed", 0)), float(s.get("cfg_scale", 7.0))
    if seed < 0:
        warnings.append("seed -1 (random) in the infotext; using 0")
        seed = 0
    hr = bool(s.get("enable_hr"))
    hires_steps = int(s.get("hr_second_pass_steps", 0) or 0)
    rename = res["loras"]
    prompt = rename_lora_tags(s.get("prompt", ""), rename)
    negative = s.get("negative_prompt", "")
    g = {"ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": res["checkpoint"]}}}
    model, clip = ["ckpt", 0], ["ckpt", 1]
    if _tag_names(prompt):
        g["loras"] = {"class_type": "ForgelineApplyPromptLoras", "inputs": {
            "model": model, "clip": clip, "text": prompt, "mode": "loractl"}}
        model, clip = ["loras", 0], ["loras", 1]
    vae = ["ckpt", 2]
    if "vae" in res:
        g["vae"] = {"class_type": "VAELoader", "inputs": {"vae_name": res["vae"]}}
        vae = ["vae", 0]

    def encode(key, clip_link, text, negative_flag):
        g[key] = {"class_type": "ForgelinePromptEncode", "inputs": {
            "clip": clip_link, "text": text, "negative": negative_flag, "emphasis": s.get("emphasis", "Original"),
            "comma_padding_backtrack": 20, "clip_skip": int(s.get("clip_skip", 1)), "steps": steps,
            "hires_steps": (hires_steps or steps) if hr else 0, "width": width, "height": height, "crop_w": 0,
            "crop_h": 0, "target_width": width, "target_height": height,
            "old_prompt_editing_timelines": bool(s.get("old_prompt_editing_timelines", False))}}
        return [key, 0]

    pos, neg = encode("pos", clip, prompt, False), encode("neg", clip, negative, True)
    g["latent"] = {"class_type": "ForgelineEmptyLatent", "inputs": {"width": width, "height": height,
                                                                     "batch_size": 1}}
    noise_inputs = {"eta": float(s["eta"]) if s.get("eta") is not None else 1.0,
                    "s_noise": float(s.get("s_noise", 1.0)), "noise_source": noise,
                    "ensd": int(s.get("eta_noise_seed_delta", 0))}
    common = {"seed": seed, "steps": steps, "cfg": cfg, "sampler_name": comfy_sampler,
              "scheduler": comfy_scheduler, **noise_inputs}
    if "refiner" in res:
        rclip = ["rckpt", 1]
        g["rckpt"] = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": res["refiner"]}}
        rpos, rneg = encode("rpos", rclip, prompt, False), encode("rneg", rclip, negative, True)
        g["sample"] = {"class_type": "ForgelineRefiner", "inputs": {
            "base_model": model, "base_positive": pos, "base_negative": neg, "refiner_model": ["rckpt", 0],
            "refiner_positive": rpos, "refiner_negative": rneg, "latent_image": ["latent", 0], **common,
            "switch_at": float(s["refiner_switch_at"]),
            "switch_by": "steps" if s.get("refiner_switch_by_sampling_steps") else "timestep",
            "refiner_cfg": 0.0, "aesthetic_score": 6.0, "negative_aesthetic_score": 2.5}}
    else:
        inputs = {"model": model, "positive": pos, "negative": neg, "latent_image": ["latent", 0], **common,
                  "denoise": 1.0, "img2img_steps": "a1111"}
        strength = float(s.get("subseed_strength", 0) or 0)
        if strength:
            inputs["variation_seed"] = int(s.get("subseed", 0))
            inputs["variation_strength"] = strength
        if int(s.get("seed_resize_from_w", -1)) > 0 and int(s.get("seed_resize_from_h", -1)) > 0:
            inputs["resize_seed_from_width"] = int(s["seed_resize_from_w"])
            inputs["resize_seed_from_height"] = int(s["seed_resize_from_h"])
        g["sample"] = {"class_type": "ForgelineKSampler", "inputs": inputs}
    last = ["sample", 0]
    if hr:
        if "hires_checkpoint" in res:
            warnings.append("Hires checkpoint is not supported by HiRes Fix (A1111); the first-pass model is used")
        upscaler = s.get("hr_upscaler") or "Latent"
        hr_sampler = s.get("hr_sampler_name")
        hr_sched = s.get("hr_scheduler")
        hires_sampler = names.comfy_sampler_id(hr_sampler) if hr_sampler else HIRES_SAME
        hires_scheduler = (names.comfy_scheduler_id(hr_sampler or sampler, hr_sched) if hr_sched else HIRES_SAME)
        if hires_sampler is None or hires_scheduler is None:
            raise MissingResources([], [f"hires sampler/schedule {hr_sampler!r}/{hr_sched!r} has no ComfyUI "
                                        f"equivalent"])
        hires = {"model": model, "positive": pos, "negative": neg, "latent": last, **common,
                 "upscaler": upscaler if upscaler in FORGELINE_UPSCALERS else "Upscale model",
                 "upscale_by": float(s.get("hr_scale", 2.0)), "resize_width": int(s.get("hr_resize_x", 0) or 0),
                 "resize_height": int(s.get("hr_resize_y", 0) or 0), "hires_steps": hires_steps,
                 "denoise": float(s.get("denoising_strength", 0.75) if s.get("denoising_strength") is not None
                                  else 0.75),
                 "hires_sampler": hires_sampler, "hires_scheduler": hires_scheduler,
                 "hires_cfg": float(s.get("hr_cfg", 0.0) or 0.0), "vae": vae}
        if "upscale_model" in res:
            g["upscale_model"] = {"class_type": "UpscaleModelLoader", "inputs": {"model_name": res["upscale_model"]}}
            hires["upscale_model"] = ["upscale_model", 0]
        if s.get("hr_prompt"):
            hires["hires_positive"] = encode("hrpos", clip, rename_lora_tags(s["hr_prompt"], rename), False)
        if s.get("hr_negative_prompt"):
            hires["hires_negative"] = encode("hrneg", clip, rename_lora_tags(s["hr_negative_prompt"], rename), True)
        g["hires"] = {"class_type": "ForgelineHiResFix", "inputs": hires}
        last = ["hires", 0]
    g["decode"] = {"class_type": "VAEDecode", "inputs": {"samples": last, "vae": vae}}
    if save:
        g["save"] = {"class_type": "ForgelineSaveImageA1111", "inputs": {
            "images": ["decode", 0], "filename_prefix": filename_prefix, "format": "png", "quality": 95,
            "sampler_names": "A1111 (Sampler + Schedule type)", "hashes": True}}
    return g, warnings


def graph_from_infotext(text, resolve, filename_prefix="Forgeline_a1111"):
    """``(api_graph, warnings)`` for an infotext string; warnings name the fields Forgeline leaves aside."""
    from .fields import settings_from_parameters
    from .parse import parse_generation_parameters
    settings, ignored = settings_from_parameters(parse_generation_parameters(text))
    graph, warnings = build_graph(settings, resolve, filename_prefix)
    if ignored:
        warnings.insert(0, "ignored infotext fields: " + ", ".join(ignored))
    return graph, warnings
