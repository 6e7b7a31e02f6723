"""The one sampling runner behind Forgeline's KSampler, HiRes Fix and Refiner nodes: ComfyUI's own machinery
(``CFGGuider`` via ``comfy.sample.sample_custom``, a ``KSAMPLER``, ``latent_preview`` progress and previews) driven
with A1111's seed, noise and step semantics where asked.

* **CFG** is ComfyUI's ``sampling_function``: ``ε = ε_u + s·(ε_c − ε_u)`` (the uncond pass is skipped at s = 1),
  the same rule as A1111's ``CFGDenoiser``. The classifier-free-guidance paper writes ``(1+w)·ε_c − w·ε_u``,
  which is this with ``s = 1 + w``.
* **Noise sources** (AUTOMATIC1111/stable-diffusion-webui ``modules/rng.py``, ``modules/processing.py``):
  - ``"comfy"``: ComfyUI's initial noise (one CPU ``torch.randn`` stream for the batch, ``prepare_noise``) scaled
    by √(1+σ_0²) at full denoise, and the running host's default ancestral stream (``host/noise.py``: seeded with
    ``seed``, or ``seed + 1`` on CPU on hosts after upstream 1e4e342f). Equal bit for bit to the stock ``KSampler``
    of the same host with the same settings.
  - ``"a1111_cpu"`` / ``"a1111_gpu"`` / ``"a1111_nv"``: A1111's ``ImageRNG``: one generator per image seeded
    ``seed + i`` (``seed + batch_index[i]`` for a latent carrying ``batch_index``), initial noise drawn per image,
    ``x_T = latent + noise·σ_0`` (A1111 ``KDiffusionSampler``; no √(1+σ²)), and the ancestral noise continuing
    each image's stream, re-seeded ``seed_i + ENSD`` after the first draw when ENSD ≠ 0. "gpu" uses a CUDA
    generator on a CUDA device and the Philox emulation (= CUDA ``torch.randn``) elsewhere; "nv" is always the
    Philox emulation (A1111 "NV").
  The explicit ancestral stream is handed to samplers whose ComfyUI default is a Gaussian stream
  (``GAUSSIAN_STREAM_SAMPLERS``: Euler a, DPM2 a, DPM++ 2S a, their cfg_pp forms, LCM); SDE samplers keep
  ComfyUI's Brownian-tree noise (A1111 seeds its Brownian tree per image: not reproduced).
* **img2img steps** (A1111 ``modules/sd_samplers_common.py`` ``setup_img2img_steps``; ComfyUI ``KSampler.set_steps``): ``"comfy"`` builds ``int(steps/denoise)`` levels and runs the last
  ``steps`` (= A1111 "fix steps" and its HiRes pass); ``"a1111"`` builds ``steps`` levels and runs
  ``int(min(denoise, 0.999)·steps) + 1`` of them (A1111 plain img2img).
* ``start_step`` / ``last_step`` / ``force_full_denoise`` cut the schedule as ComfyUI's ``KSampler.sample`` does.

``sample_a1111`` returns ``(latent_dict, SamplingRunInfo)``; ``info.noise_sampler`` can be passed back as
``noise_sampler=`` (with ``add_noise=False``) to continue ONE ancestral stream across a model switch.
"""
from __future__ import annotations

import copy
import inspect
import logging
import math
from dataclasses import dataclass, field

import torch

import comfy.model_management
import comfy.sample
import comfy.samplers
import comfy.utils
import latent_preview

from ..samplers import A1111ImageRNG, a1111_seeds, sample_dpmpp_2s_ancestral, sample_euler_ancestral
from ..schedulers import (a1111_img2img_sigmas, ays_sigmas, discard_penultimate_sigma, karras_sigmas,
                          ksampler_denoise_sigmas)
from ..limits import MAX_STEPS, check_inputs
from . import noise, sampling_hooks

log = logging.getLogger("forgeline")

# ---------------------------------------------------------------- names

# Registered under these names; called the way ComfyUI calls its own samplers, the host's default noise filled in.
FORGELINE_SAMPLERS = {
    "forgeline_euler_a": noise.with_host_noise(sample_euler_ancestral),
    "forgeline_dpmpp_2s_a": noise.with_host_noise(sample_dpmpp_2s_ancestral),
}

# Forgeline schedulers: name → (kind, AYS variant). "comfy" = ComfyUI's / NVIDIA's AYS (log-linear resampling,
# σ_min replaced by 0); "11" / "32" = Forge's "Align Your Steps 11" / "Align Your Steps 32" (0 appended).
FORGELINE_SCHEDULERS = {
    "forgeline_karras": ("karras", None),
    "forgeline_ays": ("ays", "comfy"),
    "forgeline_ays_11": ("ays", "11"),
    "forgeline_ays_32": ("ays", "32"),
}

NOISE_SOURCES = ("comfy", "a1111_cpu", "a1111_gpu", "a1111_nv")
_NOISE_ALIASES = {"cpu": "a1111_cpu", "gpu": "a1111_gpu", "nv": "a1111_nv"}
IMG2IMG_STEP_RULES = ("comfy", "a1111")

# Samplers whose ComfyUI default ancestral noise is ``default_noise_sampler`` (a Gaussian stream): an explicit
# stream replaces it one for one.
GAUSSIAN_STREAM_SAMPLERS = frozenset({
    "euler_ancestral", "euler_ancestral_cfg_pp", "dpm_2_ancestral", "dpmpp_2s_ancestral",
    "dpmpp_2s_ancestral_cfg_pp", "lcm", *FORGELINE_SAMPLERS,
})


def sampler_names() -> list[str]:
    """Forgeline samplers first, then every ComfyUI sampler (without repeating registered Forgeline names)."""
    return list(FORGELINE_SAMPLERS) + [n for n in comfy.samplers.KSampler.SAMPLERS if n not in FORGELINE_SAMPLERS]


def scheduler_names() -> list[str]:
    """Forgeline schedulers first, then every ComfyUI scheduler."""
    return list(FORGELINE_SCHEDULERS) + [n for n in comfy.samplers.KSampler.SCHEDULERS
                                          if n not in FORGELINE_SCHEDULERS]


def normalize_noise_source(noise_source: str) -> str:
    name = str(noise_source).strip().lower()
    name = _NOISE_ALIASES.get(name, name)
    if name not in NOISE_SOURCES:
        raise ValueError(f"noise_source={noise_source!r} is not known; use one of {', '.join(NOISE_SOURCES)}")
    return name


# ---------------------------------------------------------------- schedules

def ays_model_type(model_sampling, latent_format=None) -> str:
    """AYS table for a model: SVD for continuous-EDM sampling (σ_max 700), SDXL for an SDXL latent format,
    SD1 for an SD1.x/SD2 latent format; flow (CONST) models and other families have no AYS table."""
    mro = [c.__name__ for c in type(model_sampling).__mro__]
    if "CONST" in mro:
        raise ValueError("Align Your Steps has no schedule for flow (rectified-flow/CONST) models such as SD3 or "
                         "Flux; pick forgeline_karras or a ComfyUI scheduler instead")
    if "ModelSamplingContinuousEDM" in mro and float(model_sampling.sigma_max) > 100:
        return "SVD"
    name = type(latent_format).__name__ if latent_format is not None else None
    if name in ("SDXL", "SDXL_Playground_2_5"):
        return "SDXL"
    if name == "SD15" or name is None:
        return "SD1"
    raise ValueError(f"Align Your Steps has tables for SD1.x, SDXL and SVD only, not for a model with latent "
                     f"format {name}; use the 'Align Your Steps sigmas (Forgeline)' node with an explicit model type "
                     "or pick another scheduler")


def forgeline_schedule(name: str, model_sampling, steps: int, latent_format=None) -> torch.Tensor:
    """Sigmas of a Forgeline scheduler for ``steps`` steps (float32, ending in 0)."""
    kind, variant = FORGELINE_SCHEDULERS[name]
    if kind == "karras":
        return karras_sigmas(steps, float(model_sampling.sigma_min), float(model_sampling.sigma_max))
    return ays_sigmas(ays_model_type(model_sampling, latent_format), steps, variant=variant)


def full_schedule(model, scheduler: str, steps: int, sampler_name: str = "") -> torch.Tensor:
    """``steps`` levels of ``scheduler`` for ``model`` (a ModelPatcher), as ComfyUI's ``KSampler.calculate_sigmas``
    builds them (one extra level dropped for the samplers ComfyUI lists in ``DISCARD_PENULTIMATE_SIGMA_SAMPLERS``)."""
    discard = sampler_name in getattr(comfy.samplers.KSampler, "DISCARD_PENULTIMATE_SIGMA_SAMPLERS", ())
    n = steps + 1 if discard else steps
    model_sampling = model.get_model_object("model_sampling")
    if scheduler in FORGELINE_SCHEDULERS:
        sigmas = forgeline_schedule(scheduler, model_sampling, n, model.get_model_object("latent_format"))
    else:
        sigmas = comfy.samplers.calculate_sigmas(model_sampling, scheduler, n)
    sigmas = sigmas.cpu()
    return discard_penultimate_sigma(sigmas) if discard else sigmas


def run_sigmas(model, scheduler, steps, sampler_name="", denoise=1.0, img2img_steps="comfy"):
    """The schedule a run uses for ``denoise`` under the chosen img2img step rule (module docstring)."""
    calc = lambda n: full_schedule(model, scheduler, n, sampler_name)  # noqa: E731
    if img2img_steps == "a1111" and denoise < 1.0:
        return a1111_img2img_sigmas(calc(steps), steps, denoise)
    return ksampler_denoise_sigmas(calc, steps, denoise)


def cut_sigmas(sigmas, start_step=None, last_step=None, force_full_denoise=True):
    """ComfyUI ``KSampler.sample`` step window: keep ``[:last_step+1]`` (last level forced to 0 when
    ``force_full_denoise``), then ``[start_step:]``; returns None when ``start_step`` leaves nothing to run."""
    if last_step is not None and last_step < len(sigmas) - 1:
        sigmas = sigmas[:last_step + 1].clone()
        if force_full_denoise:
            sigmas[-1] = 0
    if start_step is not None:
        if start_step >= len(sigmas) - 1:
            return None
        sigmas = sigmas[start_step:]
    return sigmas


# ---------------------------------------------------------------- validation

def sampling_input_error(steps=None, denoise=None, sampler_name=None, scheduler=None, noise_source=None,
                         img2img_steps=None, sigmas=None, cfg=None, eta=None, s_noise=None) -> str | None:
    """A message naming the first bad input and how to fix it, or None when all given inputs are fine."""
    limit = check_inputs(steps=(steps, 1, MAX_STEPS), cfg=(cfg, 0.0, 100.0), eta=(eta, 0.0, 100.0),
                         s_noise=(s_noise, 0.0, 100.0))
    if limit is not True:
        return limit
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        return f"steps={steps!r}: must be a whole number >= 1"
    if denoise is not None:
        if not isinstance(denoise, (int, float)) or not math.isfinite(denoise) or not 0.0 < denoise <= 1.0:
            return f"denoise={denoise!r}: must be in (0, 1]; 1.0 is txt2img, lower keeps more of the input latent"
    for name, value in (("cfg", cfg), ("eta", eta), ("s_noise", s_noise)):
        if value is not None and (not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0):
            return f"{name}={value!r}: must be a finite number >= 0"
    if sampler_name is not None and sampler_name not in sampler_names():
        return (f"sampler_name={sampler_name!r} is not known; use forgeline_euler_a, forgeline_dpmpp_2s_a or one "
                "of ComfyUI's samplers (e.g. euler_ancestral)")
    if scheduler is not None and scheduler not in scheduler_names():
        return (f"scheduler={scheduler!r} is not known; use {', '.join(FORGELINE_SCHEDULERS)} or one of "
                "ComfyUI's schedulers (e.g. karras, normal)")
    if noise_source is not None:
        try:
            normalize_noise_source(noise_source)
        except ValueError as exc:
            return str(exc)
    if img2img_steps is not None and img2img_steps not in IMG2IMG_STEP_RULES:
        return f"img2img_steps={img2img_steps!r}: use 'comfy' (steps/denoise, A1111 fix-steps) or 'a1111'"
    if sigmas is not None:
        return sigmas_error(sigmas)
    return None


def sigmas_error(sigmas) -> str | None:
    """Why a SIGMAS tensor cannot drive a sampler (NaN/inf, negative, wrong shape), or None."""
    if not isinstance(sigmas, torch.Tensor) or sigmas.ndim != 1:
        return f"sigmas: expected a 1-D tensor of noise levels, got {type(sigmas).__name__}" + (
            f" with shape {tuple(sigmas.shape)}" if isinstance(sigmas, torch.Tensor) else "")
    if not torch.isfinite(sigmas).all():
        bad = [i for i, v in enumerate(sigmas.tolist()) if not math.isfinite(v)]
        return f"sigmas: levels {bad} are NaN or infinite; rebuild the schedule (check its sigma_min/sigma_max/steps)"
    if (sigmas < 0).any():
        return "sigmas: negative noise levels; a schedule must run from sigma_max down to 0"
    return None


# ---------------------------------------------------------------- samplers and noise

class A1111ScalingKSampler(comfy.samplers.KSAMPLER):
    """A ComfyUI ``KSAMPLER`` with A1111's start point ``x_T = latent + noise·σ_0`` (never √(1+σ_0²)).

    With ``replace_noise`` (the SAMPLER nodes for ``SamplerCustomAdvanced``), the initial noise handed in by the
    NOISE input is replaced by A1111's per-image noise for ``extra_args["seed"]`` (all-zero noise, i.e.
    ``DisableNoise``, stays zero) and the ancestral stream continues those generators (ENSD applied).
    """

    def __init__(self, sampler_function, extra_options=None, inpaint_options=None, noise_source="a1111_cpu",
                 ensd=0, replace_noise=False, gaussian_stream=True):
        super().__init__(sampler_function, dict(extra_options or {}), dict(inpaint_options or {}))
        self.noise_source = normalize_noise_source(noise_source)
        self.ensd = int(ensd)
        self.replace_noise = replace_noise
        self.gaussian_stream = gaussian_stream
        self.last_noise_sampler = None

    def max_denoise(self, model_wrap, sigmas):
        return False

    def sample(self, model_wrap, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None,
               disable_pbar=False):
        run = self
        if self.replace_noise and self.noise_source != "comfy":
            seeds, _ = a1111_seeds(extra_args.get("seed") or 0, noise.shape[0])
            first, stream = a1111_noise(noise.shape, seeds, self.noise_source, self.ensd, noise.device)
            if torch.count_nonzero(noise) > 0:
                noise = first.to(dtype=noise.dtype)
            run = copy.copy(self)
            run.extra_options = dict(self.extra_options)
            if self.gaussian_stream and "noise_sampler" not in run.extra_options:
                run.extra_options["noise_sampler"] = stream
            self.last_noise_sampler = run.extra_options.get("noise_sampler")
        return comfy.samplers.KSAMPLER.sample(run, model_wrap, sigmas, extra_args, callback, noise, latent_image,
                                              denoise_mask, disable_pbar)


def a1111_noise(shape, seeds, noise_source, ensd, device, subseeds=None, subseed_strength=0.0, seed_resize_from_w=0,
                seed_resize_from_h=0):
    """A1111 ``ImageRNG``: ``(initial noise (B,C,H,W), ancestral noise sampler)`` for per-image ``seeds``
    (``seed_resize_from_w``/``_h``: A1111's "resize seed from", in pixels; 0 = off)."""
    if len(shape) != 4:
        raise ValueError(f"A1111 noise needs an image latent (B, C, H, W); got shape {tuple(shape)}. Use "
                         "noise_source='comfy' for video/3-D latents")
    source = {"a1111_cpu": "CPU", "a1111_gpu": "GPU", "a1111_nv": "NV"}[normalize_noise_source(noise_source)]
    rng = A1111ImageRNG(tuple(shape[1:]), seeds, source=source, eta_noise_seed_delta=ensd, device=device,
                        subseeds=subseeds, subseed_strength=subseed_strength, seed_resize_from_w=seed_resize_from_w,
                        seed_resize_from_h=seed_resize_from_h)
    first = rng.next()
    return first, rng.noise_sampler()


def _accepted_options(fn, options):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(options)
    return {k: v for k, v in options.items() if k in params}


def build_sampler(sampler_name, eta=1.0, s_noise=1.0, noise_source="comfy", ensd=0, noise_sampler=None,
                  replace_noise=False):
    """A ComfyUI SAMPLER object: Forgeline's Euler a / DPM++ 2S a or any ComfyUI sampler by name.

    eta / s_noise / noise_sampler are passed only to functions that take them; for ``noise_source='comfy'`` and
    the defaults (eta = s_noise = 1, no stream) a ComfyUI sampler is exactly ``comfy.samplers.sampler_object``.
    """
    source = normalize_noise_source(noise_source)
    if sampler_name in FORGELINE_SAMPLERS:
        base = comfy.samplers.KSAMPLER(FORGELINE_SAMPLERS[sampler_name])
    elif sampler_name in comfy.samplers.KSampler.SAMPLERS:
        base = comfy.samplers.sampler_object(sampler_name)
    else:
        raise ValueError(sampling_input_error(sampler_name=sampler_name))
    options = dict(getattr(base, "extra_options", {}) or {})
    wanted = {}
    if eta != 1.0:
        wanted["eta"] = float(eta)
    if s_noise != 1.0:
        wanted["s_noise"] = float(s_noise)
    if noise_sampler is not None and sampler_name in GAUSSIAN_STREAM_SAMPLERS:
        wanted["noise_sampler"] = noise_sampler
    function = getattr(base, "sampler_function", None)
    if function is None:  # a non-KSAMPLER sampler object: nothing to configure
        return base
    options.update(_accepted_options(function, wanted))
    inpaint = getattr(base, "inpaint_options", {})
    if source == "comfy":
        return comfy.samplers.KSAMPLER(function, options, inpaint)
    return A1111ScalingKSampler(function, options, inpaint, noise_source=source, ensd=ensd,
                                replace_noise=replace_noise, gaussian_stream=sampler_name in GAUSSIAN_STREAM_SAMPLERS)


# ---------------------------------------------------------------- the runner

@dataclass
class SamplingRunInfo:
    """What one ``sample_a1111`` run used: its sigmas, the ancestral noise stream (pass it back as
    ``noise_sampler=`` to continue it), the number of model (CFG) calls, and the per-image seeds."""
    sigmas: torch.Tensor
    noise_sampler: object = None
    model_calls: int = 0
    seeds: list = field(default_factory=list)
    noise_source: str = "comfy"

    def __getitem__(self, key):
        return getattr(self, key)


def _interruptible(callback):
    def wrapped(step, x0, x, total_steps):
        comfy.model_management.throw_exception_if_processing_interrupted()
        if callback is not None:
            return callback(step, x0, x, total_steps)
    return wrapped


def sample_a1111(model, positive, negative, latent, *, seed, steps, cfg, sampler_name, scheduler, denoise=1.0,
                 eta=1.0, s_noise=1.0, noise_source="comfy", ensd=0, start_step=None, last_step=None,
                 add_noise=True, force_full_denoise=True, sigmas=None, img2img_steps="comfy", noise_sampler=None,
                 callback=None, disable_pbar=False, subseed=None, subseed_strength=0.0, seed_resize_from_w=0,
                 seed_resize_from_h=0):
    """Run one sampling pass with A1111 semantics on ComfyUI's machinery; returns ``(latent_dict, info)``.

    ``sigmas`` (optional) replaces the scheduler's schedule (then ``steps``/``denoise``/``scheduler`` only serve
    validation and the progress bar). ``noise_sampler`` (optional) replaces the ancestral stream, e.g. the
    ``info.noise_sampler`` of a previous pass. ``callback(step, x0, x, total_steps)`` defaults to ComfyUI's
    progress bar + latent preview; the interrupt button is honoured before every step. ``subseed`` /
    ``subseed_strength``: A1111's variation seed (A1111 sources only; every image then keeps ``seed``).
    ``seed_resize_from_w`` / ``_h``: A1111's "resize seed from" in pixels (A1111 sources only; 0 = off).
    """
    error = sampling_input_error(steps=steps, denoise=denoise, sampler_name=sampler_name, scheduler=scheduler,
                                 noise_source=noise_source, img2img_steps=img2img_steps, sigmas=sigmas, cfg=cfg,
                                 eta=eta, s_noise=s_noise)
    if error:
        raise ValueError(f"sample_a1111: {error}")
    source = normalize_noise_source(noise_source)
    from .prompt_schedule import enable_step_schedules

    model = model.clone()
    sampling_hooks.attach(model)
    enable_step_schedules(model)
    holder = {}
    sampling_hooks.on_call(model, "forgeline.a1111_sampling.count", lambda ctx, mo: holder.__setitem__("ctx", ctx))

    latent_image = comfy.sample.fix_empty_latent_channels(model, latent["samples"])
    batch_inds = latent.get("batch_index")
    if sigmas is None:
        sigmas = run_sigmas(model, scheduler, steps, sampler_name, denoise, img2img_steps)
    sigmas = cut_sigmas(sigmas.float().cpu(), start_step, last_step, force_full_denoise)
    out = latent.copy()
    if sigmas is None or len(sigmas) < 2:
        out["samples"] = latent_image
        return out, SamplingRunInfo(torch.zeros(0) if sigmas is None else sigmas, noise_sampler, 0, [], source)

    device = model.load_device
    if source == "comfy":
        seeds = [int(seed)]
        initial = (comfy.sample.prepare_noise(latent_image, seed, batch_inds) if add_noise
                   else torch.zeros(latent_image.size(), dtype=latent_image.dtype, device="cpu"))
        if noise_sampler is None and sampler_name in GAUSSIAN_STREAM_SAMPLERS:
            # the host's default_noise_sampler(x, seed), made explicit so a caller can continue it
            noise_sampler = noise.default_noise_sampler(
                torch.empty(latent_image.shape, dtype=initial.dtype, device=device), int(seed))
    else:
        seeds, subseeds = a1111_seeds(seed, latent_image.shape[0], subseed, subseed_strength, batch_inds)
        first, stream = a1111_noise(latent_image.shape, seeds, source, ensd, device, subseeds, subseed_strength,
                                    seed_resize_from_w, seed_resize_from_h)
        initial = first.cpu().to(latent_image.dtype) if add_noise else torch.zeros_like(latent_image)
        noise_sampler = stream if noise_sampler is None else noise_sampler

    sampler = build_sampler(sampler_name, eta=eta, s_noise=s_noise, noise_source=source, ensd=ensd,
                            noise_sampler=noise_sampler)
    if callback is None:
        callback = latent_preview.prepare_callback(model, len(sigmas) - 1)
    if disable_pbar is None:
        disable_pbar = not comfy.utils.PROGRESS_BAR_ENABLED
    samples = comfy.sample.sample_custom(model, initial, cfg, sampler, sigmas, positive, negative, latent_image,
                                         noise_mask=latent.get("noise_mask"), callback=_interruptible(callback),
                                         disable_pbar=disable_pbar, seed=seed)
    out["samples"] = samples
    ctx = holder.get("ctx")
    info = SamplingRunInfo(sigmas, noise_sampler if sampler_name in GAUSSIAN_STREAM_SAMPLERS else None,
                           ctx.calls - ctx.first_call if ctx is not None else 0, seeds, source)
    return out, info


__all__ = [
    "A1111ScalingKSampler", "FORGELINE_SAMPLERS", "FORGELINE_SCHEDULERS", "GAUSSIAN_STREAM_SAMPLERS",
    "IMG2IMG_STEP_RULES", "NOISE_SOURCES", "SamplingRunInfo", "a1111_noise", "ays_model_type", "build_sampler",
    "cut_sigmas", "forgeline_schedule", "full_schedule", "normalize_noise_source", "run_sigmas", "sample_a1111",
    "sampler_names", "sampling_input_error", "scheduler_names", "sigmas_error",
]
