"""Step-indexed prompt editing: A1111's per-model-call cond selection inside ComfyUI (prompt-syntax.md §3.4, §4).

A1111 rule (``reconstruct_cond_batch``): the CFG denoiser counts model calls from 0 per sampling run; at call ``i``
it uses the first schedule entry with ``i ≤ end_at_step`` (entry 0 if ``i`` is past every end). Schedules are built
over ``steps`` for first-order samplers and over ``2·steps`` for second-order ones (``total_steps``), and the hires
pass uses ``prompt_schedule(text, first_pass_total, hires_total)``. So schedule entry ``j`` is active for the calls
``(end_{j-1}, end_j]`` (entry 0 from call 0, and again past the last end).

``ForgelinePromptEncode`` emits one ComfyUI cond entry per (mode, AND part, text, call range), each carrying
``"forgeline_schedule"`` (``SCHEDULE_KEY``) = ``{"mode", "first_call", "last_call" (None = open end), "part",
"weight", "base_steps", "hires_steps"}`` with ``mode`` one of ``first``, ``second``, ``hires``, ``hires_second``,
plus a stock fallback: ``start_percent = first_call/steps``, ``end_percent = (last_call+1)/steps`` for ``first``
entries (the other modes get the empty range 1.0–1.0). The stock KSampler then switches by timestep percent, which
is close to but not A1111's step (ComfyUI maps percent → σ through the model's timesteps, not the sigma list).

``enable_step_schedules(model_clone)`` adds a ``CALC_COND_BATCH`` wrapper that, per model call, keeps only the
entries of the run's mode whose range holds ``sampling_context.call_index`` and strips their timestep ranges, so the
switch happens at A1111's exact call. With several AND parts (or a part weight ≠ 1) and an uncond present it also
composes them as A1111 does, ``cond = uncond + Σ w_i·(cond_i − uncond)`` (so CFG gives ``uncond + cfg·Σ w_i(…)``);
the stock sampler instead averages the parts weighted by ``strength`` (documented difference).
"""
from __future__ import annotations

import logging

import comfy.patcher_extension as pe
from comfy_api.latest import io

from . import sampling_context

log = logging.getLogger("forgeline")

SCHEDULE_KEY = "forgeline_schedule"
OPTIONS_KEY = "forgeline_prompt_schedule"
WRAPPER_KEY = "forgeline.prompt_schedule"
PASSES = ("auto", "first", "hires")
_TIMESTEP_KEYS = ("timestep_start", "timestep_end")
_MODES = {(False, False): "first", (False, True): "second", (True, False): "hires", (True, True): "hires_second"}


def call_ranges(schedule):
    """``[(first_call, last_call or None, entry_index), …]`` for ``[(end_at_step, text), …]`` (A1111 rule above).

    >>> call_ranges([(3, "a"), (10, "b")])
    [(0, 3, 0), (4, 10, 1), (11, None, 0)]
    """
    ranges, previous_end = [], -1
    for index, (end, _text) in enumerate(schedule):
        if end > previous_end:
            ranges.append((previous_end + 1, end, index))
            previous_end = end
    ranges.append((previous_end + 1, None, 0))
    return ranges


def merged_text_ranges(schedule):
    """Call ranges per text with neighbouring ranges of the same text merged: ``[(first, last or None, text), …]``."""
    out = []
    for first, last, index in call_ranges(schedule):
        text = schedule[index][1]
        if out and out[-1][2] == text and out[-1][1] is not None and out[-1][1] + 1 == first:
            out[-1] = (out[-1][0], last, text)
        else:
            out.append((first, last, text))
    return out


def stock_percent_range(mode, first, last, steps):
    """Fallback ``(start_percent, end_percent)`` for the stock sampler: step/steps for ``first``, else never active.

    >>> stock_percent_range("first", 6, 10, 10), stock_percent_range("first", 11, None, 10)
    ((0.6, 1.0), (1.0, 1.0))
    """
    if mode != "first" or steps <= 0 or first >= steps:
        return 1.0, 1.0
    return first / steps, 1.0 if last is None else min((last + 1) / steps, 1.0)


def run_mode(available, second_order, run_steps, base_steps, hires_steps, pass_="auto"):
    """The schedule mode for a sampling run: hires or first pass, then ``_second`` for second-order samplers."""
    hires = hires_steps > 0 and (pass_ == "hires" or (pass_ == "auto" and run_steps == hires_steps != base_steps))
    mode = _MODES[(hires, bool(second_order))]
    if mode not in available:
        mode = "second" if second_order else "first"
    return mode


def select_entries(entries, ctx, pass_="auto"):
    """The cond entries active at ``ctx.call_index``; non-Forgeline entries pass through unchanged."""
    if entries is None:
        return None
    scheduled = [e for e in entries if SCHEDULE_KEY in e]
    if not scheduled:
        return entries
    info = scheduled[0][SCHEDULE_KEY]
    mode = run_mode({e[SCHEDULE_KEY]["mode"] for e in scheduled}, ctx.second_order, ctx.steps, info["base_steps"],
                    info["hires_steps"], pass_)
    _warn_step_mismatch(ctx, info, mode)
    call = ctx.call_index
    out = []
    for entry in entries:
        sched = entry.get(SCHEDULE_KEY)
        if sched is None:
            out.append(entry)
            continue
        if sched["mode"] != mode or call < sched["first_call"] or (sched["last_call"] is not None
                                                                   and call > sched["last_call"]):
            continue
        active = {k: v for k, v in entry.items() if k not in _TIMESTEP_KEYS}
        out.append(active)
    return out


def compose_and_parts(executor, model, conds, x_in, timestep, model_options):
    """A1111 composable diffusion for the positive list: ``uncond + Σ w_i·(cond_i − uncond)``, else None."""
    if len(conds) != 2 or conds[1] is None or not conds[0]:
        return None
    if any(SCHEDULE_KEY not in e for e in conds[0]):
        return None
    parts = {}
    for entry in conds[0]:
        sched = entry[SCHEDULE_KEY]
        parts.setdefault(sched["part"], (sched["weight"], []))[1].append(entry)
    if len(parts) < 2 and all(w == 1.0 for w, _ in parts.values()):
        return None
    order = sorted(parts)
    lists = [[{**e, "strength": 1.0} for e in parts[p][1]] for p in order]
    outs = executor(model, lists + [conds[1]], x_in, timestep, model_options)
    uncond = outs[-1]
    cond = uncond.clone()
    for p, out in zip(order, outs[:-1]):
        cond += (out - uncond) * parts[p][0]
    return [cond, uncond]


def _calc_cond_batch(executor, model, conds, x_in, timestep, model_options):
    ctx = sampling_context.current(model_options)
    if ctx is None:
        return executor(model, conds, x_in, timestep, model_options)
    pass_ = model_options.get("transformer_options", {}).get(OPTIONS_KEY, {}).get("pass", "auto")
    selected = [select_entries(c, ctx, pass_) for c in conds]
    composed = compose_and_parts(executor, model, selected, x_in, timestep, model_options)
    if composed is not None:
        return composed
    return executor(model, selected, x_in, timestep, model_options)


def _warn_step_mismatch(ctx, info, mode):
    expected = info["hires_steps"] if mode.startswith("hires") else info["base_steps"]
    if ctx.extra.get(WRAPPER_KEY) or ctx.steps == expected:
        return
    ctx.extra[WRAPPER_KEY] = True
    log.warning("Forgeline prompt editing: the prompt was scheduled for %d steps but this sampler runs %d; set "
                "'steps' (or 'hires_steps') on A1111 Prompt Encode to the sampler's steps for A1111's switch points",
                expected, ctx.steps)


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
    sampling_context.attach(model_clone)
    set_pass(model_clone, pass_)
    if not model_clone.get_wrappers(pe.WrappersMP.CALC_COND_BATCH, WRAPPER_KEY):
        model_clone.add_wrapper_with_key(pe.WrappersMP.CALC_COND_BATCH, WRAPPER_KEY, _calc_cond_batch)
    return model_clone


class ForgelineStepSemantics(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ForgelineStepSemantics",
            display_name="A1111 Prompt Editing Steps",
            category="Forgeline/conditioning",
            description="Makes any sampler (also the stock KSampler) switch A1111 Prompt Encode schedules at A1111's "
                        "exact model call ([a:b:5] -> 'a' for steps 0–5) instead of ComfyUI's timestep percent, and "
                        "adds AND parts as A1111 does (uncond + sum of w·(cond - uncond)) instead of averaging them.",
            inputs=[
                io.Model.Input("model", tooltip="The model you sample with."),
                io.Combo.Input("pass", options=list(PASSES), default="auto", optional=True,
                               tooltip="Which schedule to use: 'auto' picks the hires schedule when the sampler's "
                                       "steps equal the prompt node's hires steps; force 'first' or 'hires' to "
                                       "choose."),
            ],
            outputs=[io.Model.Output()],
        )

    @classmethod
    def execute(cls, model, **kwargs) -> io.NodeOutput:
        return io.NodeOutput(enable_step_schedules(model.clone(), kwargs.get("pass", "auto")))


NODES = [ForgelineStepSemantics]
