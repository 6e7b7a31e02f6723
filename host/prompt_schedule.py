"""ComfyUI hook for A1111 prompt editing: a ``CALC_COND_BATCH`` wrapper that selects the cond entries active at
the current A1111 model call (``prompt/step_schedule.py``) and composes AND parts as A1111 does.

The wrapper (``comfy.patcher_extension.WrappersMP.CALC_COND_BATCH``, same signature in ComfyUI 0.3.75 and 0.33.0)
keeps, per model call, only the entries of the run's mode whose range holds ``ctx.call_index`` and strips their
timestep ranges; with several AND parts (or a part weight != 1) it evaluates each part and returns
``uncond + Σ w_i·(cond_i − uncond)`` (``compose_parts``) as the positive output.
"""
from __future__ import annotations

import comfy.patcher_extension as pe

from ..prompt.step_schedule import PASSES, SCHEDULE_KEY, and_part_groups, compose_parts, select_entries
from . import sampling_hooks

OPTIONS_KEY = "forgeline_prompt_schedule"
WRAPPER_KEY = "forgeline.prompt_schedule"
__all__ = ["OPTIONS_KEY", "PASSES", "SCHEDULE_KEY", "compose_and_parts", "enable_step_schedules", "set_pass"]


def compose_and_parts(executor, model, conds, x_in, timestep, model_options):
    """A1111 composition of the positive list's AND parts, or None when it is not needed."""
    if len(conds) != 2 or conds[1] is None or not conds[0]:
        return None
    parts = and_part_groups(conds[0])
    if parts is None:
        return None
    order = sorted(parts)
    lists = [[{**e, "strength": 1.0} for e in parts[p][1]] for p in order]
    outs = executor(model, lists + [conds[1]], x_in, timestep, model_options)
    return [compose_parts(outs[-1], outs[:-1], [parts[p][0] for p in order]), outs[-1]]


def _calc_cond_batch(executor, model, conds, x_in, timestep, model_options):
    ctx = sampling_hooks.current(model_options)
    if ctx is None:
        return executor(model, conds, x_in, timestep, model_options)
    pass_ = model_options.get("transformer_options", {}).get(OPTIONS_KEY, {}).get("pass", "auto")
    selected = [select_entries(c, ctx, pass_) for c in conds]
    composed = compose_and_parts(executor, model, selected, x_in, timestep, model_options)
    if composed is not None:
        return composed
    return executor(model, selected, x_in, timestep, model_options)


def set_pass(model_clone, pass_, keep_forced=False):
    """Set the schedule pass of ``model_clone`` (``transformer_options[OPTIONS_KEY]``).

    ``"auto"`` never replaces a pass that is already set (setdefault). With ``keep_forced`` a pass some node forced
    (``first``/``hires``) stays as well, so only an unset or ``auto`` pass is replaced (what the HiRes node does).
    """
    if pass_ not in PASSES:
        raise ValueError(f"pass_={pass_!r}: use one of {', '.join(PASSES)}")
    opts = model_clone.model_options.setdefault("transformer_options", {})
    current = opts.get(OPTIONS_KEY, {}).get("pass")
    if current is None or (pass_ != "auto" and not (keep_forced and current != "auto")):
        opts[OPTIONS_KEY] = {"pass": pass_}
    return opts[OPTIONS_KEY]["pass"]


def enable_step_schedules(model_clone, pass_="auto"):
    """Make ``model_clone`` (a clone the caller owns) select scheduled conds by A1111 model call; idempotent.

    ``pass_``: ``auto`` (hires schedule when the run's steps equal the node's hires steps), ``first`` or ``hires``.
    ``auto`` keeps a pass already set on the model (e.g. ``hires`` by the HiRes Fix node, or a pass forced by an
    earlier A1111 Prompt Editing Steps node); an explicit ``first``/``hires`` replaces it.
    """
    sampling_hooks.attach(model_clone)
    set_pass(model_clone, pass_)
    if not model_clone.get_wrappers(pe.WrappersMP.CALC_COND_BATCH, WRAPPER_KEY):
        model_clone.add_wrapper_with_key(pe.WrappersMP.CALC_COND_BATCH, WRAPPER_KEY, _calc_cond_batch)
    return model_clone
