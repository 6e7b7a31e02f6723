"""Writing A1111 infotext: the text A1111 1.10.1's ``create_infotext`` writes for the same settings.

Source: AUTOMATIC1111/stable-diffusion-webui v1.10.1 ``modules/processing.py`` (``create_infotext``, the
``generation_params`` dict literal; ``StableDiffusionProcessingTxt2Img.init`` / ``calculate_target_resolution`` for
the ``Hires …`` keys; ``process_images_inner`` for the order in which ``extra_generation_params`` fill),
``modules/infotext_utils.py: quote``, ``modules/sd_samplers_kdiffusion.py: get_sigmas`` (``Schedule type`` /
``Hires schedule type``), ``modules/sd_samplers_common.py`` (``Eta``, ``Sigma noise``, refiner keys,
``is_sampler_using_eta_noise_seed_delta``), ``extensions-builtin/Lora/extra_networks_lora.py`` (``Lora hashes``) and
``modules/sd_hijack_clip.py`` (``TI hashes``, ``Emphasis``).

``settings`` uses A1111's processing attribute names (``prompt``, ``steps``, ``sampler_name``, ``scheduler``,
``cfg_scale``, ``seed``, ``subseed``, ``subseed_strength``, ``seed_resize_from_w``/``_h``, ``width``, ``height``,
``denoising_strength``, ``enable_hr``, ``hr_*``, ``refiner_checkpoint``, ``refiner_switch_at`` …) plus the
options A1111 reads from ``opts`` (``clip_skip`` = CLIP_stop_at_last_layers, ``eta_noise_seed_delta``,
``randn_source``, ``emphasis``, ``eta``, ``s_noise``) and what A1111 computes (``model_name``, ``model_hash``,
``vae_name``, ``vae_hash``, ``lora_hashes`` and ``ti_hashes`` as name -> hash, ``version``). A missing key takes the
default of :data:`PROCESSING_DEFAULTS` (A1111's dataclass / option defaults).

Layout: ``prompt`` + (``"\\nNegative prompt: " + negative`` when the negative is non-empty) + ``"\\n"`` +
``", ".join("key: quote(value)")`` over the keys whose value is not None, then ``.strip()``. ``quote`` writes
``json.dumps(value, ensure_ascii=False)`` when ``str(value)`` contains ``,``, ``\\n`` or ``:``.
"""
from __future__ import annotations

import json

from . import names

PROCESSING_DEFAULTS = {
    "prompt": "", "negative_prompt": "", "steps": 50, "sampler_name": names.DEFAULT_SAMPLER,
    "scheduler": names.AUTOMATIC, "cfg_scale": 7.0, "seed": -1, "width": 512, "height": 512,
    "subseed": -1, "subseed_strength": 0, "seed_resize_from_w": -1, "seed_resize_from_h": -1,
    "restore_faces": False, "face_restoration_model": "CodeFormer", "tiling": False,
    "model_hash": None, "model_name": None, "vae_hash": None, "vae_name": None,
    "clip_skip": 1, "eta_noise_seed_delta": 0, "eta": None, "s_noise": 1.0, "randn_source": "GPU",
    "emphasis": "Original", "denoising_strength": None, "img2img": False,
    "enable_hr": False, "hr_scale": 2.0, "hr_upscaler": None, "hr_second_pass_steps": 0, "hr_resize_x": 0,
    "hr_resize_y": 0, "hr_checkpoint_name": None, "hr_checkpoint_hash": None, "hr_sampler_name": None,
    "hr_scheduler": None, "hr_prompt": "", "hr_negative_prompt": "", "hr_cfg": 0.0,
    "refiner_checkpoint": None, "refiner_hash": None, "refiner_switch_at": None,
    "refiner_switch_by_sampling_steps": False, "old_prompt_editing_timelines": False,
    "lora_hashes": None, "ti_hashes": None, "extra_generation_params": None, "version": None, "user": None,
}
TXT2IMG_HIRES_DENOISING_STRENGTH = 0.75   # StableDiffusionProcessingTxt2Img.denoising_strength
USE_SAME_SAMPLER = "Use same sampler"
USE_SAME_SCHEDULER = "Use same scheduler"
USE_SAME_CHECKPOINT = "Use same checkpoint"
_REMOVE_SYMBOLS = str.maketrans("", "", ":,")


def quote(value):
    """A1111 ``infotext_utils.quote``."""
    text = str(value)
    if "," not in text and "\n" not in text and ":" not in text:
        return value
    return json.dumps(value, ensure_ascii=False)


def short_title(name, shorthash):
    """A1111 ``CheckpointInfo.short_title``: ``name [hash]`` (just the name when no hash is known)."""
    return f"{name} [{shorthash}]" if shorthash else name


def uses_ensd(sampler_label, eta):
    """A1111 ``sd_samplers_common.is_sampler_using_eta_noise_seed_delta`` (eta None = the sampler's default)."""
    sampler = names.SAMPLERS_BY_LABEL.get(sampler_label)
    if sampler is None:
        return False
    if eta is None:
        eta = 0 if sampler.default_eta_is_0 else 1.0
    return eta != 0 and sampler.uses_ensd


def _name_hashes(mapping):
    parts = []
    for name, digest in (mapping or {}).items():
        if digest:
            parts.append(f"{str(name).translate(_REMOVE_SYMBOLS)}: {digest}")
    return ", ".join(parts) or None


def _sampler_infotext(extra, sampler_label, eta, s_noise):
    sampler = names.SAMPLERS_BY_LABEL.get(sampler_label)
    if sampler is None:
        return
    if sampler.function is None:
        if sampler.default_eta_is_0 and eta is not None and eta != 0:
            extra["Eta DDIM"] = eta
        return
    if sampler.takes_eta and eta is not None and eta != 1.0:
        extra["Eta"] = eta
    if sampler.takes_s_noise and s_noise is not None and s_noise != 1.0:
        extra["Sigma noise"] = s_noise


def _schedule_label(sampler_label, scheduler):
    """What get_sigmas writes for a pass: the resolved label when the schedule has a function, else None."""
    sampler = names.SAMPLERS_BY_LABEL.get(sampler_label)
    if sampler is None or sampler.function is None:
        return None
    label = names.resolved_scheduler_label(sampler_label, scheduler)
    return None if label == names.AUTOMATIC else label


def extra_generation_params(s):
    """``p.extra_generation_params`` in the order A1111's pipeline fills it (txt2img/img2img, hires, refiner)."""
    extra = dict(s.get("extra_generation_params") or {})      # scripts.process(p): extensions come first
    enable_hr = bool(s["enable_hr"])
    sampler = s["sampler_name"]
    if enable_hr:
        d = s["denoising_strength"]
        extra["Denoising strength"] = TXT2IMG_HIRES_DENOISING_STRENGTH if d is None else d
        if s["hr_checkpoint_name"] and s["hr_checkpoint_name"] != USE_SAME_CHECKPOINT:
            extra["Hires checkpoint"] = short_title(s["hr_checkpoint_name"], s["hr_checkpoint_hash"])
        hr_sampler = s["hr_sampler_name"]
        if hr_sampler == USE_SAME_SAMPLER:
            hr_sampler = None
        if hr_sampler is not None and hr_sampler != sampler:
            extra["Hires sampler"] = hr_sampler
        hr_prompt = s["hr_prompt"] or s["prompt"]
        hr_negative = s["hr_negative_prompt"] or s["negative_prompt"]
        extra["Hires prompt"] = hr_prompt if hr_prompt != s["prompt"] else None
        extra["Hires negative prompt"] = hr_negative if hr_negative != s["negative_prompt"] else None
        extra["Hires schedule type"] = None
        if s["hr_resize_x"] == 0 and s["hr_resize_y"] == 0:
            extra["Hires upscale"] = s["hr_scale"]
        else:
            extra["Hires resize"] = f"{s['hr_resize_x']}x{s['hr_resize_y']}"
        if s["hr_second_pass_steps"]:
            extra["Hires steps"] = s["hr_second_pass_steps"]
        if s["hr_upscaler"] is not None:
            extra["Hires upscaler"] = s["hr_upscaler"]
        if s["hr_cfg"] and s["hr_cfg"] != s["cfg_scale"]:
            extra["Hires CFG Scale"] = s["hr_cfg"]             # reForge / Forge key
    elif s["img2img"]:
        extra["Denoising strength"] = 0.75 if s["denoising_strength"] is None else s["denoising_strength"]

    lora = _name_hashes(s["lora_hashes"])                       # extra_networks.activate
    if lora:
        extra["Lora hashes"] = lora
    if s["old_prompt_editing_timelines"]:                      # setup_conds: get_conds_with_caching
        extra["Old prompt editing timelines"] = True
    ti = _name_hashes(s["ti_hashes"])                           # setup_conds (sd_hijack_clip)
    if ti:
        extra["TI hashes"] = ti
    texts = [s["prompt"], s["negative_prompt"]]
    if enable_hr:
        texts += [s["hr_prompt"], s["hr_negative_prompt"]]
    if s["emphasis"] != "Original" and any("(" in t or "[" in t for t in texts if t):
        extra["Emphasis"] = s["emphasis"]

    first_label = _schedule_label(sampler, s["scheduler"])      # first pass: get_sigmas, initialize, refiner
    if first_label is not None:
        extra["Schedule type"] = first_label
    _sampler_infotext(extra, sampler, s["eta"], s["s_noise"])
    switch_at = s["refiner_switch_at"]
    if s["refiner_checkpoint"] not in (None, "", "None", "none") and switch_at is not None and 0 < switch_at < 1:
        extra["Refiner"] = short_title(s["refiner_checkpoint"], s["refiner_hash"])
        extra["Refiner switch at"] = switch_at
        if s["refiner_switch_by_sampling_steps"]:
            extra["Refiner switch by sampling steps"] = True

    if enable_hr:                                               # hires pass
        hr_sampler = s["hr_sampler_name"] if s["hr_sampler_name"] not in (None, USE_SAME_SAMPLER) else sampler
        hr_scheduler = s["hr_scheduler"] if s["hr_scheduler"] not in (None, USE_SAME_SCHEDULER) else s["scheduler"]
        hr_label = _schedule_label(hr_sampler, hr_scheduler)
        if hr_label is not None and hr_label != extra.get("Schedule type"):
            extra["Hires schedule type"] = hr_label
        _sampler_infotext(extra, hr_sampler, s["eta"], s["s_noise"])
    return extra


def complete_settings(settings):
    """``settings`` with every missing key at A1111's default; unknown keys are an error naming them."""
    unknown = sorted(set(settings) - set(PROCESSING_DEFAULTS))
    if unknown:
        raise ValueError(f"create_infotext: unknown setting(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(PROCESSING_DEFAULTS))}")
    s = dict(PROCESSING_DEFAULTS)
    s.update({k: v for k, v in settings.items()})
    for key in ("prompt", "negative_prompt", "hr_prompt", "hr_negative_prompt"):
        s[key] = "" if s[key] is None else s[key]
    return s


def generation_params(settings, index=0):
    """The ordered ``generation_params`` dict of ``create_infotext`` (None values still present)."""
    s = complete_settings(settings)
    extra = extra_generation_params(s)
    strength = s["subseed_strength"]
    seed = int(s["seed"]) + (index if strength == 0 else 0)
    clip_skip = s["clip_skip"]
    ensd = s["eta_noise_seed_delta"]
    params = {
        "Steps": s["steps"],
        "Sampler": s["sampler_name"],
        "Schedule type": s["scheduler"],
        "CFG scale": s["cfg_scale"],
        "Image CFG scale": None,
        "Seed": seed,
        "Face restoration": s["face_restoration_model"] if s["restore_faces"] else None,
        "Size": f"{s['width']}x{s['height']}",
        "Model hash": s["model_hash"],
        "Model": s["model_name"],
        "FP8 weight": None,
        "Cache FP16 weight for LoRA": None,
        "VAE hash": s["vae_hash"],
        "VAE": s["vae_name"],
        "Variation seed": None if strength == 0 else int(s["subseed"]) + index,
        "Variation seed strength": None if strength == 0 else strength,
        "Seed resize from": (None if s["seed_resize_from_w"] <= 0 or s["seed_resize_from_h"] <= 0
                             else f"{s['seed_resize_from_w']}x{s['seed_resize_from_h']}"),
        "Denoising strength": extra.get("Denoising strength"),
        "Conditional mask weight": None,
        "Clip skip": None if clip_skip <= 1 else clip_skip,
        "ENSD": ensd if ensd != 0 and uses_ensd(s["sampler_name"], s["eta"]) else None,
        "Token merging ratio": None,
        "Token merging ratio hr": None,
        "Init image hash": None,
        "RNG": s["randn_source"] if s["randn_source"] != "GPU" else None,
        "Tiling": "True" if s["tiling"] else None,
        **extra,
        "Version": s["version"],
        "User": s["user"],
    }
    return params, s


def create_infotext(settings, index=0):
    """The infotext A1111 writes for image ``index`` of a batch run with ``settings``.

    >>> create_infotext({"prompt": "a cat", "steps": 20, "sampler_name": "Euler a", "cfg_scale": 7, "seed": 1})
    'a cat\\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 1, Size: 512x512'
    """
    params, s = generation_params(settings, index)
    text = ", ".join(k if k == v else f"{k}: {quote(v)}" for k, v in params.items() if v is not None)
    negative = f"\nNegative prompt: {s['negative_prompt']}" if s["negative_prompt"] else ""
    return f"{s['prompt']}{negative}\n{text}".strip()
