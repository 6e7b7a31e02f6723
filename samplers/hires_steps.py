"""A1111 HiRes-fix step arithmetic (``StableDiffusionProcessingTxt2Img.sample_hr_pass`` → ``sample_img2img``).

* Hires steps: ``steps = hr_second_pass_steps or p.steps`` — 0 means "as many as the first pass".
* Schedule (``sd_samplers_common.setup_img2img_steps`` with ``steps`` given, i.e. always in the hires pass)::

      total = int(steps / min(denoise, 0.999))  if denoise > 0 else 0
      t_enc = steps − 1
      sigma_sched = sigmas(total)[total − t_enc − 1:]            # the last steps + 1 levels

  so the pass runs exactly ``steps`` steps at the tail of a ``total``-step schedule. This is ComfyUI's
  ``KSampler.set_steps`` rule (``calc(int(steps/denoise))[-(steps+1):]``, ``comfy/samplers.py``) except that
  A1111 caps denoise at 0.999 and ComfyUI switches to ``calc(steps)`` above 0.9999; both give ``total = steps`` for
  ``steps < 999`` at denoise 1.
* A1111 progress: the job total is ``steps + (hr_second_pass_steps or steps)`` (``processing.py`` ``init``).
"""
import math


def hires_pass_steps(first_pass_steps, hires_steps=0):
    """A1111 ``hr_second_pass_steps or p.steps``: the hires step count, 0 meaning "same as the first pass"."""
    first_pass_steps, hires_steps = _int("first_pass_steps", first_pass_steps), _int("hires_steps", hires_steps)
    if first_pass_steps < 1:
        raise ValueError(f"first_pass_steps={first_pass_steps} must be at least 1")
    if hires_steps < 0:
        raise ValueError(f"hires_steps={hires_steps} must be 0 (same as the first pass) or a positive step count")
    return hires_steps or first_pass_steps


def hires_schedule_length(steps, denoise):
    """A1111 ``setup_img2img_steps`` (steps given): ``int(steps / min(denoise, 0.999))``, 0 when denoise is 0."""
    steps = _int("steps", steps)
    denoise = float(denoise)
    if not math.isfinite(denoise) or not 0.0 <= denoise <= 1.0:
        raise ValueError(f"denoise={denoise} must be between 0 and 1 (A1111 'Denoising strength')")
    if steps < 1:
        raise ValueError(f"steps={steps} must be at least 1")
    return int(steps / min(denoise, 0.999)) if denoise > 0 else 0


def hires_sigma_start(total, steps):
    """Index of the first level A1111 runs: ``total − t_enc − 1`` with ``t_enc = steps − 1``, i.e. ``total − steps``."""
    total, steps = _int("total", total), _int("steps", steps)
    if not 1 <= steps <= total:
        raise ValueError(f"hires window of {steps} steps does not fit a {total}-step schedule")
    return total - steps


def _int(name, value):
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"{name}={value!r} must be a whole number")
    return int(value)
