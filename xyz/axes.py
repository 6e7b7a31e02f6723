"""The A1111 X/Y/Z axis types Forgeline can set: label, value parser, check, label format and the setting changed.

Source: AUTOMATIC1111/stable-diffusion-webui:scripts/xyz_grid.py ``axis_options`` (labels, value types, costs,
``format_value_add_label`` / ``format_value`` / ``format_value_join_list`` / ``format_remove_path``, the checks
``confirm_samplers`` / ``confirm_checkpoints``) and ``modules/sd_samplers_kdiffusion.py`` / ``modules/sd_schedulers.py``
(A1111's sampler and schedule-type names, mapped here to the ComfyUI names the KSampler takes).

A cell's settings are one flat dict of generation parameters (``BASE_KEYS``); each axis type changes some of them
(``AxisType.sets``) and the host turns the dict into node inputs (KSampler (A1111) / KSampler, A1111 Prompt Encode,
HiRes Fix (A1111), Refiner handoff (A1111), CheckpointLoaderSimple). ``Denoising`` follows A1111's txt2img tab:
with HiRes Fix on it is the hires pass's denoising strength, otherwise the sampler's denoise.

``LoRA name / strength`` have no axis type of their own in A1111: they are ``Prompt S/R`` on a ``<lora:name:w>``
tag (``Prompt S/R`` with values ``<lora:a:0.5>, <lora:a:1>`` or ``:0.5>, :1>``); the host applies the tags of
each cell's prompt through Forgeline's LoRA engine.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

from . import axis_values as av
from .axis_values import AxisValueError  # noqa: F401  (re-exported for cells)

# The generation parameters one cell is made of (host maps them to node inputs).
BASE_KEYS = ("seed", "variation_seed", "variation_strength", "steps", "cfg", "positive", "negative", "sampler_name",
             "scheduler", "ckpt_name", "clip_skip", "denoise", "hires", "hires_denoise", "hires_steps",
             "hires_upscaler", "refiner", "refiner_switch_at", "noise_source", "eta")

# A1111 sampler names (modules/sd_samplers_kdiffusion.py ``samplers_k_diffusion`` + aliases, sd_samplers_timesteps,
# sd_samplers_lcm) -> the ComfyUI / Forgeline sampler with the same method. Matching is case-insensitive, as
# A1111's ``samplers_map`` (lower-cased names and aliases).
A1111_SAMPLERS = {
    "euler a": "forgeline_euler_a", "k_euler_a": "forgeline_euler_a", "k_euler_ancestral": "forgeline_euler_a",
    "dpm++ 2s a": "forgeline_dpmpp_2s_a", "k_dpmpp_2s_a": "forgeline_dpmpp_2s_a",
    "euler": "euler", "k_euler": "euler", "lms": "lms", "k_lms": "lms", "heun": "heun", "k_heun": "heun",
    "dpm2": "dpm_2", "k_dpm_2": "dpm_2", "dpm2 a": "dpm_2_ancestral", "k_dpm_2_a": "dpm_2_ancestral",
    "dpm++ 2m": "dpmpp_2m", "k_dpmpp_2m": "dpmpp_2m", "dpm++ sde": "dpmpp_sde", "k_dpmpp_sde": "dpmpp_sde",
    "dpm++ 2m sde": "dpmpp_2m_sde", "k_dpmpp_2m_sde": "dpmpp_2m_sde", "dpm++ 3m sde": "dpmpp_3m_sde",
    "dpm++ 2m sde heun": "dpmpp_2m_sde_heun", "dpm fast": "dpm_fast", "k_dpm_fast": "dpm_fast",
    "dpm adaptive": "dpm_adaptive", "k_dpm_ad": "dpm_adaptive",
    "ddim": "ddim", "uni_pc": "uni_pc", "unipc": "uni_pc", "lcm": "lcm", "ddpm": "ddpm",
}
# A1111 schedule types (modules/sd_schedulers.py ``schedulers``: label and alias) -> ComfyUI / Forgeline schedulers.
A1111_SCHEDULERS = {
    "automatic": "normal", "karras": "forgeline_karras", "exponential": "exponential", "sgm uniform": "sgm_uniform",
    "sgm_uniform": "sgm_uniform", "kl optimal": "kl_optimal", "kl_optimal": "kl_optimal",
    "align your steps": "forgeline_ays", "align_your_steps": "forgeline_ays",
    "align your steps 11": "forgeline_ays_11", "align your steps 32": "forgeline_ays_32",
    "simple": "simple", "normal": "normal", "ddim": "ddim_uniform", "beta": "beta", "uniform": "simple",
}
# A1111 "RNG source" (randn_source option: GPU / CPU / NV) -> KSampler (A1111) noise_source.
A1111_RNG = {"gpu": "a1111_gpu", "cpu": "a1111_cpu", "nv": "a1111_nv"}


@dataclass
class AxisContext:
    """What the host offers, for the checks: ComfyUI's lists and which parts of the base setup exist."""
    samplers: list = field(default_factory=list)
    schedulers: list = field(default_factory=list)
    checkpoints: list = field(default_factory=list)
    upscalers: list = field(default_factory=list)
    noise_sources: list = field(default_factory=lambda: ["comfy", "a1111_cpu", "a1111_gpu", "a1111_nv"])
    has_hires: bool = False
    has_refiner: bool = False
    has_variation: bool = False  # the sampler node takes variation_seed / variation_strength
    a1111_sampler: bool = True  # KSampler (A1111) (noise source, eta); False = stock KSampler


def _add_label(label):
    def fmt(x):  # A1111 format_value_add_label
        if isinstance(x, float):
            x = round(x, 8)
        return f"{label}: {x}"
    return fmt


def _plain(x):  # A1111 format_value
    if isinstance(x, float):
        x = round(x, 8)
    return str(x)


def _set(*keys):
    def apply(settings, x, xs):
        for k in keys:
            settings[k] = x
    return apply


def _apply_prompt_sr(settings, x, xs):
    settings["positive"], settings["negative"] = av.replace_prompt(settings["positive"], settings["negative"],
                                                                   xs[0], x)


def _apply_order(settings, x, xs):
    settings["positive"] = av.reorder_prompt(settings["positive"], x)


def _apply_denoise(settings, x, xs):
    settings["hires_denoise" if settings.get("hires") else "denoise"] = x


def _lookup(table, options, what):
    def resolve(x, ctx):
        names = list(getattr(ctx, options))
        if x in names:
            return x
        mapped = table.get(x.lower())  # an A1111 name means A1111's method (Karras -> forgeline_karras)
        if mapped is not None and (not names or mapped in names):
            return mapped
        by_lower = {n.lower(): n for n in names}
        if x.lower() in by_lower:
            return by_lower[x.lower()]
        known = ", ".join(names) if names else "(none)"
        raise av.AxisValueError(f"unknown {what} {x!r}; use an A1111 name or one of: {known}")
    return resolve


def closest_checkpoint(x: str, names: list[str]) -> str | None:
    """A1111 ``sd_models.get_closet_checkpoint_match``: the exact name, else the name without extension or
    folder, else the shortest name containing the text."""
    if x in names:
        return x
    stem = lambda n: os.path.splitext(n.replace("\\", "/"))[0]
    for n in names:
        if stem(n) == x or os.path.basename(stem(n)) == x or os.path.basename(n) == x:
            return n
    found = sorted((n for n in names if x in n), key=len)
    return found[0] if found else None


def _resolve_checkpoint(x, ctx):
    match = closest_checkpoint(x, list(ctx.checkpoints))
    if match is None:
        raise av.AxisValueError(f"Unknown checkpoint: {x!r}; put it in models/checkpoints or use one of: "
                                + (", ".join(ctx.checkpoints) or "(none)"))
    return match


def _resolve_upscaler(x, ctx):
    by_lower = {n.lower(): n for n in ctx.upscalers}
    if x.lower() in by_lower:
        return by_lower[x.lower()]
    raise av.AxisValueError(f"unknown Hires upscaler {x!r}; use one of: {', '.join(ctx.upscalers)}")


def _needs(flag, what):
    def check(ctx):
        if not getattr(ctx, flag):
            return what
        return None
    return check


@dataclass
class AxisType:
    label: str
    parse: Callable[[str], list]
    apply: Callable[[dict, object, list], None]
    sets: str  # which graph inputs it changes (documentation, tooltips)
    format: Callable[[object], str] = None
    resolve: Callable | None = None  # value -> setting (names checked against the host's lists)
    check_values: Callable[[list], None] | None = None
    requires: Callable | None = None  # ctx -> reason string when the base setup lacks what the axis sets
    cost: float = 0.0  # A1111 AxisOption.cost: the costliest axis is the outermost loop
    seeds: bool = False

    def __post_init__(self):
        if self.format is None:
            self.format = _add_label(self.label)


def _in_range(lo, hi, what):
    def check(values):
        for v in values:
            if not lo <= v <= hi:
                raise av.AxisValueError(f"{what} {v} is out of range ({lo} to {hi})")
    return check


SEED_MAX = 0xFFFFFFFFFFFFFFFF

AXIS_TYPES: dict[str, AxisType] = {t.label: t for t in [
    AxisType("Nothing", lambda text: [0], lambda s, x, xs: None, "nothing", format=lambda x: ""),
    AxisType("Seed", av.parse_ints, _set("seed"), "sampler seed (and HiRes Fix / refiner seed)", seeds=True,
             check_values=_in_range(-1, SEED_MAX, "seed")),
    AxisType("Var. seed", av.parse_ints, _set("variation_seed"), "KSampler (A1111) variation_seed", seeds=True,
             check_values=_in_range(-1, SEED_MAX, "variation seed"),
             requires=_needs("has_variation", "KSampler (A1111) in this install has no variation_seed input")),
    AxisType("Var. strength", av.parse_floats, _set("variation_strength"), "KSampler (A1111) variation_strength",
             check_values=_in_range(0.0, 1.0, "variation strength"),
             requires=_needs("has_variation", "KSampler (A1111) in this install has no variation_strength input")),
    AxisType("Steps", av.parse_ints, _set("steps"), "sampler steps (and the prompt encoder's steps)",
             check_values=_in_range(1, 10000, "steps")),
    AxisType("Hires steps", av.parse_ints, _set("hires_steps"), "HiRes Fix (A1111) hires_steps",
             check_values=_in_range(0, 10000, "hires steps"),
             requires=_needs("has_hires", "HiRes Fix is off; turn hires_fix on")),
    AxisType("CFG Scale", av.parse_floats, _set("cfg"), "sampler cfg", check_values=_in_range(0.0, 100.0, "CFG")),
    AxisType("Prompt S/R", av.parse_strings, _apply_prompt_sr, "positive and negative prompt text", format=_plain),
    AxisType("Prompt order", av.parse_permutations, _apply_order, "positive prompt text",
             format=lambda x: ", ".join(x)),
    AxisType("Sampler", av.parse_strings, _set("sampler_name"), "sampler sampler_name", format=_plain,
             resolve=_lookup(A1111_SAMPLERS, "samplers", "sampler")),
    AxisType("Schedule type", av.parse_strings, _set("scheduler"), "sampler scheduler",
             resolve=_lookup(A1111_SCHEDULERS, "schedulers", "schedule type")),
    AxisType("Checkpoint name", av.parse_strings, _set("ckpt_name"), "CheckpointLoaderSimple ckpt_name (model, CLIP, "
             "VAE of the cell)", format=lambda x: os.path.basename(str(x)), resolve=_resolve_checkpoint, cost=1.0),
    AxisType("Clip skip", av.parse_ints, _set("clip_skip"), "A1111 Prompt Encode clip_skip",
             check_values=_in_range(1, 12, "clip skip")),
    AxisType("Denoising", av.parse_floats, _apply_denoise, "HiRes Fix denoise when hires_fix is on, else the "
             "sampler denoise", check_values=_in_range(0.0, 1.0, "denoising strength")),
    AxisType("Hires upscaler", av.parse_strings, _set("hires_upscaler"), "HiRes Fix (A1111) upscaler",
             resolve=_resolve_upscaler, requires=_needs("has_hires", "HiRes Fix is off; turn hires_fix on")),
    AxisType("Refiner switch at", av.parse_floats, _set("refiner_switch_at"), "Refiner handoff (A1111) switch_at",
             check_values=_in_range(0.01, 1.0, "refiner switch at"),
             requires=_needs("has_refiner", "no refiner: connect refiner_model and refiner_clip")),
    AxisType("RNG source", av.parse_strings, _set("noise_source"), "KSampler (A1111) noise_source",
             resolve=_lookup(A1111_RNG, "noise_sources", "RNG source"),
             requires=_needs("a1111_sampler", "the stock KSampler has no RNG source; use sampler KSampler (A1111)")),
    AxisType("Eta", av.parse_floats, _set("eta"), "KSampler (A1111) eta", check_values=_in_range(0.0, 100.0, "eta"),
             requires=_needs("a1111_sampler", "the stock KSampler has no eta; use sampler KSampler (A1111)")),
]}

AXIS_LABELS = list(AXIS_TYPES)


class AxisError(ValueError):
    """A bad axis: the message names the axis (X/Y/Z), its type and the value."""


@dataclass
class Axis:
    name: str  # "X", "Y" or "Z"
    type: AxisType
    text: str  # the values as typed
    values: list  # what each cell sets (names resolved)
    labels: list  # A1111's label of each value

    @property
    def label(self) -> str:
        return self.type.label


def parse_axis(name: str, label: str, text: str, ctx: AxisContext, rng=None) -> Axis:
    """Parse, check and resolve one axis (A1111 ``process_axis`` + ``confirm`` + ``fix_axis_seeds``)."""
    kind = AXIS_TYPES.get(label)
    if kind is None:
        raise AxisError(f"{name} axis: unknown type {label!r}; use one of: {', '.join(AXIS_LABELS)}")
    prefix = f"{name} axis ({label})"
    if kind.requires is not None:
        reason = kind.requires(ctx)
        if reason:
            raise AxisError(f"{prefix}: {reason}")
    try:
        raw = kind.parse(text)
        if not raw:
            raise av.AxisValueError("no values; type them separated by commas")
        if kind.seeds:
            raw = av.fix_seeds(raw, rng)
        if kind.check_values is not None:
            kind.check_values(raw)
        values = [kind.resolve(x, ctx) for x in raw] if kind.resolve is not None else list(raw)
    except av.AxisValueError as e:
        raise AxisError(f"{prefix}: {e}") from None
    return Axis(name, kind, text, values, [kind.format(x) for x in raw])
