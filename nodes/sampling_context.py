"""Per-run sampling context: which model call and which sampler step is running now.

A1111 switches prompt-editing text by a counter of **model calls** (``CFGDenoiser.step``, reset per sampling run,
+1 per call; second-order samplers build their prompt schedules over ``2·steps``), and loractl reads the
**sampler step** set by the k-diffusion callback (``shared.state.sampling_step``). ComfyUI exposes neither to a
conditioning or a weight patch, so Forgeline attaches two wrappers to a model clone (stable patcher-extension API,
ComfyUI ≥ 0.3.6x):

- ``SAMPLER_SAMPLE``: at the start of every sampler run, a fresh ``SamplingContext`` holding the run's sigmas and
  the sampler function's name is stored in the run's ``transformer_options[KEY]``;
- ``PREDICT_NOISE``: around every model call (one CFG evaluation = one A1111 model call) it sets
  ``ctx.call_index`` (0-based), ``ctx.step`` (0-based sampler step. k-diffusion's second-order samplers fire the
  step-``i`` callback *between* their two calls, and with eta = 1 the DPM++ 2S a midpoint σ equals σ_{i+1}
  exactly, so σ alone cannot tell the steps apart: after callback ``i`` the next call is step ``i``'s second call
  when the sampler is second-order and σ_{i+1} > 0, otherwise step ``i + 1``) and ``ctx.sampling_step`` (A1111's ``shared.state.sampling_step``: the ``i`` of
  the last per-step callback, 0 before the first — what loractl reads), runs the listeners, calls the model, then
  counts the call.

One logical run split over several sampler runs (the refiner handoff: A1111 swaps the model inside ONE run, so its
call counter and ``sampling_step`` carry on): before the later run the caller puts
``transformer_options[OFFSET_KEY] = {"calls": n, "steps": k, "sigmas": full}`` on the model (``continue_run``).
The new context then starts at ``call_index = n``, ``step = k`` and ``sampling_step = k − 1`` (the last callback of
the previous part), reports every callback step as ``k + i``, and — when ``sigmas`` (the whole schedule,
``σ_0 … σ_N``) is given — describes the whole schedule: ``ctx.sigmas`` is the full list and ``ctx.steps = N``, so
prompt editing and loractl see the steps they were scheduled for. The run's own sigmas must then equal
``full[k : k + len]`` (checked). Without ``sigmas`` the context keeps the run's own sigmas and
``ctx.steps = k + len − 1`` (right when the run goes to the end of the schedule). The earlier part should get
``{"calls": 0, "steps": 0, "sigmas": full}`` so its ``steps`` is the whole schedule too.

Features (prompt schedules, LoRA schedules) read the context through ``current(model_options)`` in their own
wrappers, or register ``on_call(model_patcher, key, fn)`` listeners that run before each model call.
Attaching is idempotent; it works under the stock KSampler as well as Forgeline's samplers.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import comfy.patcher_extension as pe

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


def current(model_options: dict) -> SamplingContext | None:
    return (model_options or {}).get("transformer_options", {}).get(KEY)


def continue_run(model_patcher, calls=0, steps=0, sigmas=None) -> None:
    """Make the next sampling runs of ``model_patcher`` (a clone) continue a logical run: counters start at
    ``calls``/``steps``; ``sigmas`` = the whole schedule (see module docstring)."""
    offset = {"calls": int(calls), "steps": int(steps)}
    if sigmas is not None:
        offset["sigmas"] = [float(s) for s in (sigmas.flatten().tolist() if hasattr(sigmas, "flatten") else sigmas)]
    model_patcher.model_options.setdefault("transformer_options", {})[OFFSET_KEY] = offset


def total_steps(transformer_options, run_steps) -> int:
    """Steps of the logical run a sampler run of ``run_steps`` steps belongs to (see module docstring)."""
    offset = (transformer_options or {}).get(OFFSET_KEY) or {}
    if offset.get("sigmas") is not None:
        return max(len(offset["sigmas"]) - 1, 0)
    return int(offset.get("steps", 0)) + int(run_steps)


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


def _sampler_sample(executor, *args, **kwargs):
    # args: (guider, sigmas, extra_args, callback, noise, latent_image, denoise_mask, disable_pbar)
    sigmas, extra_args = args[1], args[2]
    sampler = getattr(executor, "class_obj", None)
    fn = getattr(getattr(sampler, "sampler_function", None), "__name__", "")
    topts = extra_args["model_options"].setdefault("transformer_options", {})
    ctx = new_context(sigmas.flatten().tolist(), fn, topts.get(OFFSET_KEY))
    topts[KEY] = ctx
    user_callback = args[3]

    def counting_callback(step, x0, x, total_steps):
        ctx.on_callback(step)
        if user_callback is not None:
            return user_callback(step, x0, x, total_steps)

    args = args[:3] + (counting_callback,) + args[4:]
    return executor(*args, **kwargs)


def _predict_noise(executor, x, timestep, model_options={}, seed=None):
    ctx = current(model_options)
    if ctx is None:
        return executor(x, timestep, model_options, seed)
    ctx.call_index = ctx.calls
    ctx.step = ctx.step_for_call(float(timestep.flatten()[0]))
    for fn in model_options.get("transformer_options", {}).get(_LISTENERS, {}).values():
        fn(ctx, model_options)
    try:
        return executor(x, timestep, model_options, seed)
    finally:
        ctx.calls += 1


def attach(model_patcher) -> None:
    """Install the context wrappers on ``model_patcher`` (a clone the caller owns); idempotent."""
    if model_patcher.get_wrappers(pe.WrappersMP.SAMPLER_SAMPLE, _WRAPPER_KEY):
        return
    model_patcher.add_wrapper_with_key(pe.WrappersMP.SAMPLER_SAMPLE, _WRAPPER_KEY, _sampler_sample)
    model_patcher.add_wrapper_with_key(pe.WrappersMP.PREDICT_NOISE, _WRAPPER_KEY, _predict_noise)


def on_call(model_patcher, key: str, fn) -> None:
    """Run ``fn(ctx, model_options)`` before every model call of every run of ``model_patcher`` (a clone)."""
    attach(model_patcher)
    listeners = model_patcher.model_options.setdefault("transformer_options", {}).setdefault(_LISTENERS, {})
    listeners[key] = fn
