"""From A1111's parsed infotext to settings (A1111 processing attribute names), as A1111's paste does it.

Source: AUTOMATIC1111/stable-diffusion-webui v1.10.1 ``modules/ui.py`` (txt2img paste fields: ``Size-1`` ->
width, ``Hires upscale`` -> hr_scale, the hires checkbox rule), ``modules/processing_scripts/seed.py`` (variation seed
fields), ``modules/processing_scripts/sampler.py`` + ``modules/sd_samplers.py`` (``get_sampler_and_scheduler``,
``get_hr_sampler_and_scheduler``), ``modules/processing_scripts/refiner.py`` (``Refiner`` = ``name [hash]``) and the
``OptionInfo(..., infotext=...)`` settings (``Clip skip``, ``ENSD``, ``RNG``, ``Emphasis``, ``Eta``,
``Sigma noise``, ``Old prompt editing timelines``).

:func:`settings_from_parameters` returns ``(settings, ignored)``: the settings Forgeline can reproduce, and the
infotext keys it leaves aside (each one named, so a node can warn). Keys the parser adds at their default values are
not reported.
"""
from __future__ import annotations

import re

from . import names
from .parse import DEFAULTS_HIRES, DEFAULTS_SAMPLING, parse_name_hashes

_PARSER_DEFAULTS = {
    **DEFAULTS_HIRES, **DEFAULTS_SAMPLING, "Clip skip": "1", "Hires resize-1": 0, "Hires resize-2": 0, "RNG": "GPU",
    "Emphasis": "Original", "Refiner switch by sampling steps": False, "Cache FP16 weight for LoRA": False,
}
_RE_TITLE = re.compile(r"^(.*?)\s*\[([0-9a-fA-F]{8,64})\]$")

HANDLED = {
    "Prompt", "Negative prompt", "Steps", "Sampler", "Schedule type", "CFG scale", "Seed", "Size-1", "Size-2",
    "Model hash", "Model", "VAE hash", "VAE", "Variation seed", "Variation seed strength", "Seed resize from-1",
    "Seed resize from-2", "Denoising strength", "Clip skip", "ENSD", "RNG", "Emphasis", "Eta", "Sigma noise",
    "Hires upscale", "Hires resize-1", "Hires resize-2", "Hires steps", "Hires upscaler", "Hires sampler",
    "Hires schedule type", "Hires prompt", "Hires negative prompt", "Hires checkpoint", "Hires CFG Scale",
    "Refiner", "Refiner switch at", "Refiner switch by sampling steps", "Lora hashes", "TI hashes", "Version",
    "Old prompt editing timelines",
}


def _int(value):
    return int(float(value))


def _float(value):
    return float(value)


def _bool(value):
    return value is True or str(value).strip().lower() == "true"


def split_title(title):
    """``"name [hash]"`` -> ``(name, hash)``; ``(title, None)`` without a bracketed hash."""
    m = _RE_TITLE.match(str(title).strip())
    return (m.group(1), m.group(2).lower()) if m else (str(title).strip(), None)


def _from_text(params, key):
    """The value when the infotext itself carried ``key`` (not a parser default)."""
    value = params.get(key)
    if value is None:
        return None
    if key in _PARSER_DEFAULTS and value == _PARSER_DEFAULTS[key] and not isinstance(value, str):
        return None
    return value


def hires_enabled(params):
    """A1111's rule (ui.py): Denoising strength together with a Hires upscale, upscaler or resize key. The parser's
    default ``Hires resize-1 = 0`` (an int, not text) is not counted, so an img2img infotext does not turn hires on."""
    if "Denoising strength" not in params:
        return False
    return "Hires upscale" in params or "Hires upscaler" in params or isinstance(params.get("Hires resize-1"), str)


def settings_from_parameters(params):
    """``(settings, ignored)`` for a dict returned by ``parse_generation_parameters``."""
    s, ignored = {}, []

    def take(key, attr, convert=str):
        value = params.get(key)
        if value is None:
            return
        try:
            s[attr] = convert(value)
        except (TypeError, ValueError):
            ignored.append(f"{key} ({value!r} is not a valid value)")

    s["prompt"] = params.get("Prompt", "")
    s["negative_prompt"] = params.get("Negative prompt", "")
    take("Steps", "steps", _int)
    if "Sampler" in params and not names.known_sampler(params["Sampler"]):
        ignored.append(f"Sampler ({params['Sampler']!r} is not an A1111 sampler; A1111 falls back to "
                       f"{names.DEFAULT_SAMPLER})")
    sampler, scheduler = names.get_sampler_and_scheduler(params.get("Sampler"), params.get("Schedule type"),
                                                         convert_automatic=False)
    s["sampler_name"] = sampler
    s["scheduler"] = names.resolved_scheduler_label(sampler, scheduler)
    take("CFG scale", "cfg_scale", _float)
    take("Seed", "seed", _int)
    take("Size-1", "width", _int)
    take("Size-2", "height", _int)
    for key, attr in (("Model hash", "model_hash"), ("Model", "model_name"), ("VAE hash", "vae_hash"),
                      ("VAE", "vae_name"), ("Version", "version")):
        take(key, attr)
    if "Variation seed" in params or "Variation seed strength" in params:
        take("Variation seed", "subseed", _int)
        take("Variation seed strength", "subseed_strength", _float)
    if "Seed resize from-1" in params:
        take("Seed resize from-1", "seed_resize_from_w", _int)
        take("Seed resize from-2", "seed_resize_from_h", _int)
    take("Clip skip", "clip_skip", _int)
    take("ENSD", "eta_noise_seed_delta", _int)
    take("RNG", "randn_source")
    if _from_text(params, "Emphasis") is not None or "Emphasis" in params:
        take("Emphasis", "emphasis")
    take("Eta", "eta", _float)
    take("Sigma noise", "s_noise", _float)
    if _bool(params.get("Old prompt editing timelines", False)):
        s["old_prompt_editing_timelines"] = True

    if hires_enabled(params):
        s["enable_hr"] = True
        take("Denoising strength", "denoising_strength", _float)
        if isinstance(params.get("Hires resize-1"), str):
            take("Hires resize-1", "hr_resize_x", _int)
            take("Hires resize-2", "hr_resize_y", _int)
        else:
            take("Hires upscale", "hr_scale", _float)
        take("Hires steps", "hr_second_pass_steps", _int)
        take("Hires upscaler", "hr_upscaler")
        hr_sampler = params.get("Hires sampler", "Use same sampler")
        hr_schedule = params.get("Hires schedule type", "Use same scheduler")
        if hr_sampler != "Use same sampler":
            label, sched = names.get_sampler_and_scheduler(hr_sampler, None, convert_automatic=False)
            s["hr_sampler_name"] = label
            if sched != names.AUTOMATIC and hr_schedule == "Use same scheduler":
                hr_schedule = sched
        if hr_schedule != "Use same scheduler":
            s["hr_scheduler"] = hr_schedule
        if params.get("Hires prompt"):
            s["hr_prompt"] = params["Hires prompt"]
        if params.get("Hires negative prompt"):
            s["hr_negative_prompt"] = params["Hires negative prompt"]
        checkpoint = params.get("Hires checkpoint", "Use same checkpoint")
        if checkpoint != "Use same checkpoint":
            s["hr_checkpoint_name"], s["hr_checkpoint_hash"] = split_title(checkpoint)
        take("Hires CFG Scale", "hr_cfg", _float)
    elif "Denoising strength" in params:
        ignored.append("Denoising strength (an img2img infotext: the init image is not in it)")

    if params.get("Refiner"):
        s["refiner_checkpoint"], s["refiner_hash"] = split_title(params["Refiner"])
        take("Refiner switch at", "refiner_switch_at", _float)
        if _bool(params.get("Refiner switch by sampling steps", False)):
            s["refiner_switch_by_sampling_steps"] = True
    if params.get("Lora hashes"):
        s["lora_hashes"] = parse_name_hashes(params["Lora hashes"])
    if params.get("TI hashes"):
        s["ti_hashes"] = parse_name_hashes(params["TI hashes"])

    for key, value in params.items():
        if key in HANDLED or key.startswith("Hires ") and key in _PARSER_DEFAULTS:
            continue
        if key in _PARSER_DEFAULTS and value == _PARSER_DEFAULTS[key]:
            continue
        if key == "Refiner switch by sampling steps" or key == "Denoising strength":
            continue
        ignored.append(key)
    return s, ignored
