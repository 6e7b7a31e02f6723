"""ComfyUI hooks that keep a ``SamplingContext`` (``samplers/sampling_context.py``) per sampler run.

Two patcher wrappers on a model clone (``comfy.patcher_extension``, stable since ComfyUI 0.3.6x and unchanged in
0.33.0): ``SAMPLER_SAMPLE`` starts a fresh context for every sampler run (its sigmas, the sampler function's name,
the continuation offset in ``transformer_options[OFFSET_KEY]``) and stores it in the run's
``transformer_options[KEY]``; ``PREDICT_NOISE`` runs around every model call (one CFG evaluation = one A1111 model
call): it sets ``ctx.call_index`` and ``ctx.step``, runs the listeners registered with ``on_call``, calls the model,
then counts the call. Attaching is idempotent; it works under the stock KSampler as well as Forgeline's samplers.
"""
from __future__ import annotations

import comfy.patcher_extension as pe

from ..samplers.sampling_context import KEY, OFFSET_KEY, SamplingContext, new_context, offset_for, total_steps

_WRAPPER_KEY = "forgeline.sampling_context"
_LISTENERS = "forgeline_call_listeners"


def current(model_options: dict) -> SamplingContext | None:
    return (model_options or {}).get("transformer_options", {}).get(KEY)


def continue_run(model_patcher, calls=0, steps=0, sigmas=None) -> None:
    """Make the next sampling runs of ``model_patcher`` (a clone) continue a logical run: counters start at
    ``calls``/``steps``; ``sigmas`` = the whole schedule (``samplers/sampling_context.py``)."""
    model_patcher.model_options.setdefault("transformer_options", {})[OFFSET_KEY] = offset_for(calls, steps, sigmas)


def run_total_steps(transformer_options, run_steps) -> int:
    """Steps of the logical run a sampler run of ``run_steps`` steps belongs to."""
    return total_steps((transformer_options or {}).get(OFFSET_KEY), run_steps)


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


__all__ = ["KEY", "OFFSET_KEY", "SamplingContext", "attach", "continue_run", "current", "new_context", "on_call",
           "run_total_steps"]
