"""Per-run sampling context: which model call and which sampler step is running now (pure; no ComfyUI).

A1111 switches prompt-editing text by a counter of **model calls** (AUTOMATIC1111/stable-diffusion-webui
``modules/sd_samplers_cfg_denoiser.py`` ``CFGDenoiser.step``: reset per sampling run, +1 per call; second-order
samplers build their prompt schedules over ``2·steps``, ``modules/sd_samplers_kdiffusion.py`` ``second_order``), and
loractl reads the **sampler step** that A1111's k-diffusion callback stores in ``shared.state.sampling_step``.

``SamplingContext.step_for_call`` gives the 0-based sampler step of the model call about to run. k-diffusion's
second-order samplers (crowsonkb/k-diffusion ``k_diffusion/sampling.py``) fire the step-``i`` callback *between*
their two calls, and with eta = 1 the DPM++ 2S a midpoint σ equals σ_{i+1} exactly, so σ alone cannot tell steps
apart: after callback ``i`` the next call is step ``i``'s second call when the sampler is second-order and
σ_{i+1} > 0, otherwise step ``i + 1``. ``sampling_step`` is A1111's ``shared.state.sampling_step`` (the ``i`` of the
last callback, 0 before the first).

One logical run split over several sampler runs (the refiner handoff: A1111 swaps the model inside ONE run, so its
call counter and ``sampling_step`` carry on) is described by an offset ``{"calls": n, "steps": k, "sigmas": full}``
(``new_context``): counters start at ``call_index = n``, ``step = k`` and ``sampling_step = k − 1``, and with
``sigmas`` (the whole schedule ``σ_0 … σ_N``) the context describes the whole schedule (``ctx.steps = N``); the run's
own sigmas must then equal ``full[k : k + len]`` (checked). Without ``sigmas`` the context keeps the run's own sigmas
and ``ctx.steps = k + len − 1``. The host module ``host/sampling_hooks.py`` keeps one context per sampler run.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

KEY = "forgeline_sampling_context"
OFFSET_KEY = "forgeline_context_offset"
_WRAPPER_KEY = "forgeline.sampling_context"
_LISTENERS = "forgeline_call_listeners"

# A1111 ``sd_samplers_kdiffusion.py`` samplers_k_diffusion entries with ``second_order: True`` (their prompt
# schedules are built over 2·steps), by k-diffusion function name.
SECOND_ORDER_FUNCTIONS = frozenset({
    "sample_heun", "sample_dpm_2", "sample_dpm_2_ancestral", "sample_dpmpp_2s_ancestral", "sample_dpmpp_sde",
    "sample_dpmpp_2s_ancestral_RF", "sample_restart",
})


@dataclass
class SamplingContext:
    sigmas: list[float]
    sampler_function: str = ""
    call_index: int = -1
    step: int = 0
    calls: int = 0
    sampling_step: int = 0
    callbacks: int = 0
    pending_second_call: bool = False
    extra: dict = field(default_factory=dict)
    first_call: int = 0     # call_index of this run's first call (> 0 when continuing an earlier run)
    first_step: int = 0     # sampler step of this run's first call
    sigma_base: int = 0     # global step of sigmas[0]: 0 for a full schedule, else first_step

    @property
    def steps(self) -> int:
        return max(self.sigma_base + len(self.sigmas) - 1, 0)

    def sigma(self, step: int) -> float:
        """σ at global step ``step`` (0.0 past the end)."""
        i = step - self.sigma_base
        return self.sigmas[i] if 0 <= i < len(self.sigmas) else 0.0

    @property
    def second_order(self) -> bool:
        return self.sampler_function in SECOND_ORDER_FUNCTIONS

    def step_for_call(self, sigma: float) -> int:
        """Sampler step of the model call about to run at ``sigma`` (see module docstring)."""
        if self.calls == self.first_call:
            return self.first_step
        if self.callbacks == 0:  # a sampler that never reports steps: fall back to where σ lies
            return self.step_of(sigma)
        if self.pending_second_call:
            self.pending_second_call = False
            return self.sampling_step
        return min(self.sampling_step + 1, max(self.steps - 1, 0))

    def step_of(self, sigma: float) -> int:
        """0-based sampler step whose interval [σ_i, σ_{i+1}) holds ``sigma`` (sigmas decrease)."""
        desc = [-s for s in self.sigmas]
        i = bisect.bisect_right(desc, -float(sigma)) - 1 + self.sigma_base
        return min(max(i, 0), max(self.steps - 1, 0))

    def on_callback(self, local_step: int) -> None:
        """The sampler's per-step callback ``i`` (of this run): A1111 ``shared.state.sampling_step``."""
        self.sampling_step = self.first_step + local_step
        self.callbacks += 1
        self.pending_second_call = self.second_order and self.sigma(self.sampling_step + 1) > 0




def new_context(run_sigmas, sampler_function="", offset=None) -> SamplingContext:
    """The context of one sampler run over ``run_sigmas``, continuing ``offset`` (``OFFSET_KEY`` dict) if given."""
    run = [float(s) for s in run_sigmas]
    offset = offset or {}
    calls, steps, full = int(offset.get("calls", 0)), int(offset.get("steps", 0)), offset.get("sigmas")
    if calls < 0 or steps < 0:
        raise ValueError(f"{OFFSET_KEY} = {offset!r}: 'calls' and 'steps' must be >= 0")
    if full is not None:
        part = full[steps:steps + len(run)]
        if len(part) != len(run) or any(abs(a - b) > 1e-5 * max(abs(a), 1.0) for a, b in zip(part, run)):
            raise ValueError(f"{OFFSET_KEY}: this run's sigmas {run} are not the full schedule's from step {steps} "
                             f"({part}); pass the whole schedule the run is cut from, or leave 'sigmas' out")
    ctx = SamplingContext(list(full) if full is not None else run, sampler_function, calls=calls,
                          sampling_step=max(steps - 1, 0), first_call=calls, first_step=steps,
                          sigma_base=0 if full is not None else steps)
    return ctx




def total_steps(offset, run_steps) -> int:
    """Steps of the logical run that a sampler run of ``run_steps`` steps belongs to, given its ``offset``."""
    offset = offset or {}
    if offset.get("sigmas") is not None:
        return max(len(offset["sigmas"]) - 1, 0)
    return int(offset.get("steps", 0)) + int(run_steps)


def offset_for(calls=0, steps=0, sigmas=None) -> dict:
    """The offset dict of a run that continues a logical run at ``calls`` model calls and ``steps`` steps."""
    offset = {"calls": int(calls), "steps": int(steps)}
    if sigmas is not None:
        offset["sigmas"] = [float(s) for s in (sigmas.flatten().tolist() if hasattr(sigmas, "flatten") else sigmas)]
    return offset
