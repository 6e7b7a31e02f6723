"""Sampler and scheduler names between A1111 labels and ComfyUI / Forgeline ids, both ways.

A1111 1.10.1 tables (AUTOMATIC1111/stable-diffusion-webui):

- samplers: ``modules/sd_samplers_kdiffusion.py: samplers_k_diffusion`` (label, k-diffusion function, aliases,
  options ``scheduler`` = the default schedule behind "Automatic", ``uses_ensd``), ``modules/sd_samplers_extra.py``
  (Restart), ``modules/sd_samplers_timesteps.py`` (DDIM, DDIM CFG++, PLMS, UniPC) and ``sd_samplers_lcm.py`` (LCM).
  ``sd_samplers.samplers[0]`` is "DPM++ 2M", the fallback for any unknown name.
- schedulers: ``modules/sd_schedulers.py: schedulers`` (name, label, aliases), "Automatic" first.
- ``sd_samplers.get_sampler_and_scheduler``: a trailing ``" " + label|name|alias`` of a scheduler is cut off the
  sampler name and becomes the scheduler (the pre-1.9 combined names such as "DPM++ 2M Karras"); the sampler is then
  looked up by label, unknown -> "DPM++ 2M"; a scheduler equal to the sampler's default turns back into "Automatic".
- Civitai's accepted sampler names (civitai/civitai: src/server/common/constants.ts ``samplers``): the bare labels
  plus the legacy combined "<label> Karras" / "DPM++ 3M SDE Exponential" forms.
"""
from __future__ import annotations

from dataclasses import dataclass, field

AUTOMATIC = "Automatic"
DEFAULT_SAMPLER = "DPM++ 2M"


@dataclass(frozen=True)
class A1111Sampler:
    label: str
    function: str | None                      # k-diffusion function name (None: timestep / LCM samplers)
    aliases: tuple = ()
    default_scheduler: str | None = None      # sd_schedulers name used for "Automatic"
    uses_ensd: bool = False
    takes_eta: bool = False                   # 'eta' in the k-diffusion function's signature
    takes_s_noise: bool = False               # listed in sampler_extra_params with 's_noise'
    default_eta_is_0: bool = False
    comfy: str | None = None                  # ComfyUI sampler id that runs the same maths
    forgeline: str | None = None              # Forgeline sampler id (A1111's own implementation)


SAMPLERS = (
    A1111Sampler("DPM++ 2M", "sample_dpmpp_2m", ("k_dpmpp_2m",), "karras", comfy="dpmpp_2m"),
    A1111Sampler("DPM++ SDE", "sample_dpmpp_sde", ("k_dpmpp_sde",), "karras", takes_eta=True, takes_s_noise=True,
                 comfy="dpmpp_sde"),
    A1111Sampler("DPM++ 2M SDE", "sample_dpmpp_2m_sde", ("k_dpmpp_2m_sde",), "exponential", takes_eta=True,
                 takes_s_noise=True, comfy="dpmpp_2m_sde"),
    A1111Sampler("DPM++ 2M SDE Heun", "sample_dpmpp_2m_sde", ("k_dpmpp_2m_sde_heun",), "exponential",
                 takes_eta=True, takes_s_noise=True, comfy="dpmpp_2m_sde_heun"),
    A1111Sampler("DPM++ 2S a", "sample_dpmpp_2s_ancestral", ("k_dpmpp_2s_a",), "karras", uses_ensd=True,
                 takes_eta=True, takes_s_noise=True, comfy="dpmpp_2s_ancestral", forgeline="forgeline_dpmpp_2s_a"),
    A1111Sampler("DPM++ 3M SDE", "sample_dpmpp_3m_sde", ("k_dpmpp_3m_sde",), "exponential", takes_eta=True,
                 takes_s_noise=True, comfy="dpmpp_3m_sde"),
    A1111Sampler("Euler a", "sample_euler_ancestral", ("k_euler_a", "k_euler_ancestral"), uses_ensd=True,
                 takes_eta=True, comfy="euler_ancestral", forgeline="forgeline_euler_a"),
    A1111Sampler("Euler", "sample_euler", ("k_euler",), takes_s_noise=True, comfy="euler"),
    A1111Sampler("LMS", "sample_lms", ("k_lms",), comfy="lms"),
    A1111Sampler("Heun", "sample_heun", ("k_heun",), takes_s_noise=True, comfy="heun"),
    A1111Sampler("DPM2", "sample_dpm_2", ("k_dpm_2",), "karras", takes_s_noise=True, comfy="dpm_2"),
    A1111Sampler("DPM2 a", "sample_dpm_2_ancestral", ("k_dpm_2_a",), "karras", uses_ensd=True, takes_eta=True,
                 takes_s_noise=True, comfy="dpm_2_ancestral"),
    A1111Sampler("DPM fast", "sample_dpm_fast", ("k_dpm_fast",), uses_ensd=True, takes_eta=True,
                 takes_s_noise=True, comfy="dpm_fast"),
    A1111Sampler("DPM adaptive", "sample_dpm_adaptive", ("k_dpm_ad",), uses_ensd=True, takes_eta=True,
                 comfy="dpm_adaptive"),
    A1111Sampler("Restart", "restart_sampler", ("restart",), "karras"),
    A1111Sampler("DDIM", None, ("ddim",), uses_ensd=True, default_eta_is_0=True, comfy="ddim"),
    A1111Sampler("DDIM CFG++", None, ("ddim_cfgpp",), uses_ensd=True, default_eta_is_0=True),
    A1111Sampler("PLMS", None, ("plms",)),
    A1111Sampler("UniPC", None, ("unipc",), comfy="uni_pc"),
    A1111Sampler("LCM", None, ("k_lcm",), comfy="lcm"),
)
SAMPLERS_BY_LABEL = {s.label: s for s in SAMPLERS}


@dataclass(frozen=True)
class A1111Scheduler:
    name: str
    label: str
    aliases: tuple = ()
    comfy: tuple = field(default=())          # ComfyUI / Forgeline scheduler ids with the same sigmas


SCHEDULERS = (
    A1111Scheduler("automatic", AUTOMATIC),
    A1111Scheduler("uniform", "Uniform"),
    A1111Scheduler("karras", "Karras", comfy=("forgeline_karras", "karras")),
    A1111Scheduler("exponential", "Exponential", comfy=("exponential",)),
    A1111Scheduler("polyexponential", "Polyexponential"),
    A1111Scheduler("sgm_uniform", "SGM Uniform", ("SGMUniform",), comfy=("sgm_uniform",)),
    A1111Scheduler("kl_optimal", "KL Optimal", comfy=("kl_optimal",)),
    A1111Scheduler("align_your_steps", "Align Your Steps", comfy=("forgeline_ays", "ays")),
    A1111Scheduler("simple", "Simple", comfy=("simple",)),
    A1111Scheduler("normal", "Normal", comfy=("normal",)),
    A1111Scheduler("ddim", "DDIM", comfy=("ddim_uniform",)),
    A1111Scheduler("beta", "Beta", comfy=("beta",)),
)
SCHEDULERS_BY_KEY = {**{s.name: s for s in SCHEDULERS}, **{s.label: s for s in SCHEDULERS}}

# Forge's extra labels (lllyasviel/stable-diffusion-webui-forge modules/sd_schedulers.py), which Forgeline runs too.
FORGE_SCHEDULER_LABELS = {"forgeline_ays_11": "Align Your Steps 11", "forgeline_ays_32": "Align Your Steps 32"}

CIVITAI_SAMPLERS = (
    "Euler a", "Euler", "LMS", "Heun", "DPM2", "DPM2 a", "DPM++ 2S a", "DPM++ 2M", "DPM++ SDE", "DPM++ 2M SDE",
    "DPM++ 3M SDE", "DPM fast", "DPM adaptive", "LMS Karras", "DPM2 Karras", "DPM2 a Karras", "DPM++ 2S a Karras",
    "DPM++ 2M Karras", "DPM++ SDE Karras", "DPM++ 2M SDE Karras", "DPM++ 3M SDE Karras", "DPM++ 3M SDE Exponential",
    "DDIM", "PLMS", "UniPC", "LCM",
)


def get_sampler_and_scheduler(sampler_name, scheduler_name, convert_automatic=True):
    """A1111 ``sd_samplers.get_sampler_and_scheduler``: ``(sampler label, scheduler label)`` for infotext values.

    >>> get_sampler_and_scheduler("DPM++ 2M Karras", "Automatic")
    ('DPM++ 2M', 'Automatic')
    >>> get_sampler_and_scheduler("DPM++ 2M Karras", "Automatic", convert_automatic=False)
    ('DPM++ 2M', 'Karras')
    """
    found = SCHEDULERS_BY_KEY.get(scheduler_name, SCHEDULERS[0])
    name = sampler_name or DEFAULT_SAMPLER
    for scheduler in SCHEDULERS:
        for option in (scheduler.label, scheduler.name, *scheduler.aliases):
            if name.endswith(" " + option):
                found = scheduler
                name = name[:-len(option) - 1]
                break
    sampler = SAMPLERS_BY_LABEL.get(name, SAMPLERS_BY_LABEL[DEFAULT_SAMPLER])
    if convert_automatic and sampler.default_scheduler == found.name:
        found = SCHEDULERS[0]
    return sampler.label, found.label


def known_sampler(sampler_name, scheduler_name=None):
    """True when A1111 would find the sampler (after cutting a scheduler suffix) instead of falling back."""
    name = sampler_name or ""
    for scheduler in SCHEDULERS:
        for option in (scheduler.label, scheduler.name, *scheduler.aliases):
            if name.endswith(" " + option):
                name = name[:-len(option) - 1]
                break
    return name in SAMPLERS_BY_LABEL


def resolved_scheduler_label(sampler_label, scheduler_label):
    """The label A1111 writes as ``Schedule type`` (sd_samplers_kdiffusion.py ``get_sigmas``): "Automatic" becomes
    the sampler's default scheduler when it has one; samplers without one (and timestep samplers) keep "Automatic"."""
    sampler = SAMPLERS_BY_LABEL.get(sampler_label)
    label = scheduler_label or AUTOMATIC
    if label == AUTOMATIC and sampler is not None and sampler.function is not None and sampler.default_scheduler:
        return SCHEDULERS_BY_KEY[sampler.default_scheduler].label
    return label


# ---------------------------------------------------------------------------------------------- ComfyUI -> A1111

_COMFY_SAMPLER_LABELS = {}
for _s in SAMPLERS:
    if _s.comfy and _s.comfy not in _COMFY_SAMPLER_LABELS:
        _COMFY_SAMPLER_LABELS[_s.comfy] = _s.label
    if _s.forgeline:
        _COMFY_SAMPLER_LABELS[_s.forgeline] = _s.label
for _gpu, _label in (("dpmpp_sde_gpu", "DPM++ SDE"), ("dpmpp_2m_sde_gpu", "DPM++ 2M SDE"),
                     ("dpmpp_2m_sde_heun_gpu", "DPM++ 2M SDE Heun"), ("dpmpp_3m_sde_gpu", "DPM++ 3M SDE")):
    _COMFY_SAMPLER_LABELS[_gpu] = _label

_COMFY_SCHEDULER_LABELS = {cid: s.label for s in SCHEDULERS for cid in s.comfy}
_COMFY_SCHEDULER_LABELS.update(FORGE_SCHEDULER_LABELS)


def a1111_sampler_label(comfy_sampler):
    """A1111 label of a ComfyUI / Forgeline sampler id, or None when A1111 has no sampler with that maths."""
    return _COMFY_SAMPLER_LABELS.get(comfy_sampler)


def a1111_scheduler_label(comfy_scheduler, sampler_label=None):
    """A1111 ``Schedule type`` label of a ComfyUI / Forgeline scheduler id (None when A1111 has none).

    ComfyUI's ``normal`` equals A1111's default discretisation (``model_wrap.get_sigmas``), so for a sampler without
    a default scheduler it is written as "Automatic", the label A1111 writes for that run; with any other sampler it
    is "Normal" (A1111's ``normal_scheduler``, the same sigmas)."""
    if comfy_scheduler == "normal":
        sampler = SAMPLERS_BY_LABEL.get(sampler_label)
        if sampler is not None and not sampler.default_scheduler:
            return AUTOMATIC
    return _COMFY_SCHEDULER_LABELS.get(comfy_scheduler)


# ---------------------------------------------------------------------------------------------- A1111 -> ComfyUI

def comfy_sampler_id(sampler_label, prefer_forgeline=True):
    """ComfyUI/Forgeline sampler id for an A1111 sampler label (None: A1111-only sampler, e.g. Restart, PLMS)."""
    sampler = SAMPLERS_BY_LABEL.get(sampler_label)
    if sampler is None:
        return None
    if prefer_forgeline and sampler.forgeline:
        return sampler.forgeline
    return sampler.comfy


def comfy_scheduler_id(sampler_label, scheduler_label, prefer_forgeline=True):
    """ComfyUI/Forgeline scheduler id for A1111's (sampler, Schedule type); "Automatic" resolves to the sampler's
    default (Karras for DPM++ 2M, Exponential for DPM++ 2M SDE) or, without one, to ``normal`` (A1111's
    ``model_wrap.get_sigmas``). None when ComfyUI has no scheduler with those sigmas (Polyexponential)."""
    label = scheduler_label or AUTOMATIC
    if label in FORGE_SCHEDULER_LABELS.values():
        return next(k for k, v in FORGE_SCHEDULER_LABELS.items() if v == label)
    scheduler = SCHEDULERS_BY_KEY.get(label)
    if scheduler is None:
        return None
    if scheduler.name == "automatic":
        sampler = SAMPLERS_BY_LABEL.get(sampler_label)
        if sampler is None or not sampler.default_scheduler or sampler.function is None:
            return "normal"
        scheduler = SCHEDULERS_BY_KEY[sampler.default_scheduler]
    if scheduler.name == "uniform":
        return "normal"
    if not scheduler.comfy:
        return None
    if prefer_forgeline:
        return scheduler.comfy[0]
    return scheduler.comfy[-1]


def civitai_sampler_name(sampler_label, scheduler_label):
    """The name Civitai's sampler list accepts: the legacy "<label> Karras" / "<label> Exponential" when the run used
    that schedule and Civitai lists the combination, else the bare label."""
    resolved = resolved_scheduler_label(sampler_label, scheduler_label)
    combined = f"{sampler_label} {resolved}"
    if resolved in ("Karras", "Exponential") and combined in CIVITAI_SAMPLERS:
        return combined
    return sampler_label
