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

Features (prompt schedules, LoRA schedules) read the context through ``current(model_options)`` in their own
wrappers, or register ``on_call(model_patcher, key, fn)`` listeners that run before each model call.
Attaching is idempotent; it works under the stock KSampler as well as Forgeline's samplers.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import comfy.patcher_extension as pe

KEY = "forgeline_sampling_context"
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

    @property
    def steps(self) -> int:
        return max(len(self.sigmas) - 1, 0)

    @property
    def second_order(self) -> bool:
        return self.sampler_function in SECOND_ORDER_FUNCTIONS

    def step_for_call(self, sigma: float) -> int:
        """Sampler step of the model call about to run at ``sigma`` (see module docstring)."""
        if self.calls == 0:
            return 0
        if self.callbacks == 0:  # a sampler that never reports steps: fall back to where σ lies
            return self.step_of(sigma)
        if self.pending_second_call:
            self.pending_second_call = False
            return self.sampling_step
        return min(self.sampling_step + 1, max(self.steps - 1, 0))

    def step_of(self, sigma: float) -> int:
        """0-based sampler step whose interval [σ_i, σ_{i+1}) holds ``sigma`` (sigmas decrease)."""
        desc = [-s for s in self.sigmas]
        i = bisect.bisect_right(desc, -float(sigma)) - 1
        return min(max(i, 0), max(self.steps - 1, 0))


def current(model_options: dict) -> SamplingContext | None:
    return (model_options or {}).get("transformer_options", {}).get(KEY)


def _sampler_sample(executor, *args, **kwargs):
    # args: (guider, sigmas, extra_args, callback, noise, latent_image, denoise_mask, disable_pbar)
    sigmas, extra_args = args[1], args[2]
    sampler = getattr(executor, "class_obj", None)
    fn = getattr(getattr(sampler, "sampler_function", None), "__name__", "")
    ctx = SamplingContext([float(s) for s in sigmas.flatten().tolist()], fn)
    extra_args["model_options"].setdefault("transformer_options", {})[KEY] = ctx
    user_callback = args[3]

    def counting_callback(step, x0, x, total_steps):
        ctx.sampling_step = step
        ctx.callbacks += 1
        ctx.pending_second_call = ctx.second_order and step + 1 < len(ctx.sigmas) and ctx.sigmas[step + 1] > 0
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
