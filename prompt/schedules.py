"""A1111 prompt editing: ``get_learned_conditioning_prompt_schedules`` and the step rule (A1111
``modules/prompt_parser.py``).

Step math (A1111 ``collect_steps``). Modes: first pass ``steps = base_steps`` with no offsets; hires pass
(``hires_steps`` given) ``steps = hires_steps``, integer offset ``base_steps``, fraction offset 1.0; old timelines
(``use_old_scheduling``) ``steps = base_steps`` and offsets ignored. For the raw NUMBER text ``s``, ``v = float(s)``:

    new:  v = (v − flt_offset)·steps  if "." in s   else   v − int_offset
    old:  v = v·steps  if v < 1  else  v
    when = min(steps, int(v))          (int truncates: 0.3·10 = 3.0000000000000004 → 3, 0.7·7 = 4.9 → 4)

``when`` is a boundary if ``when ≥ 1``; every alternation adds all of ``1..steps``; ``steps`` is always one.
For each sorted boundary ``t``: a schedule shows ``before`` if ``t ≤ when`` else ``after``; an alternation shows
option ``(t − 1) mod n``. Result ``[[t, text], …]``. A prompt the grammar rejects gives ``[[steps, prompt]]``.

Sampling (A1111 ``reconstruct_cond_batch``; the CFG denoiser's ``step`` counts model calls from 0,
``modules/sd_samplers_cfg_denoiser.py``): at 0-based model call ``i`` the first entry with
``i ≤ end_at_step`` is used, so ``[a:b:5]`` shows "a" for steps 0–5; if none qualifies, entry 0 is used.
"""
import bisect
import math
import numbers

from .schedule_grammar import Scheduled, ScheduleSyntaxError, parse_schedule_prompt, render


class ScheduleNumberError(ValueError, OverflowError):
    """A schedule number too large for ``int()`` (``[a:b:1e999]``); A1111 raises OverflowError there."""


def get_learned_conditioning_prompt_schedules(prompts, steps, hires_steps=None, use_old_scheduling=False):
    """A1111's schedules for each prompt: ``[[end_at_step, text], …]`` per prompt (same list object for repeats).

    >>> get_learned_conditioning_prompt_schedules(["a [b:3]"], 10)
    [[[3, 'a '], [10, 'a b']]]
    """
    if isinstance(prompts, str):
        raise ValueError(f"prompts must be a list of strings, got the single string {prompts!r}; wrap it: [prompt]")
    by_prompt = {}
    for prompt in prompts:
        if prompt not in by_prompt:
            by_prompt[prompt] = prompt_schedule(prompt, steps, hires_steps, use_old_scheduling)
    return [by_prompt[prompt] for prompt in prompts]


def prompt_schedule(prompt, steps, hires_steps=None, use_old_scheduling=False):
    """The schedule of one prompt, ``[[end_at_step, text], …]`` (the unparsable fallback is ``[[steps, prompt]]``)."""
    steps, int_offset, flt_offset = _mode(steps, hires_steps, use_old_scheduling)
    try:
        parsed = parse_schedule_prompt(prompt)
    except ScheduleSyntaxError:
        return [[steps, prompt]]
    when, boundaries, state_of = _boundaries(parsed, steps, int_offset, flt_offset, use_old_scheduling, prompt)
    rendered = {}

    def text_at(step):
        def choose(construct):
            if isinstance(construct, Scheduled):
                return construct.before if step <= when[id(construct)] else construct.after
            return construct.options[(step - 1) % len(construct.options)]
        key = state_of(step)  # equal keys choose the same branch everywhere: render each state once
        if key not in rendered:
            rendered[key] = render(parsed, choose)
        return rendered[key]

    return [[t, text_at(t)] for t in sorted(boundaries)]


def _boundaries(parsed, steps, int_offset, flt_offset, use_old_scheduling, prompt):
    """``(when by construct id, boundary steps, state_of)``; ``state_of(t)`` is a key that is equal for two steps
    exactly when every construct picks the same branch at both (position among the schedule steps, and the step
    modulo the least common multiple of the alternation lengths)."""
    when, boundaries, period = {}, {steps}, 1
    for construct in parsed.constructs:
        if isinstance(construct, Scheduled):
            when[id(construct)] = _when(construct.number, steps, int_offset, flt_offset, use_old_scheduling, prompt)
            if when[id(construct)] >= 1:
                boundaries.add(when[id(construct)])
        else:
            boundaries.update(range(1, steps + 1))
            if period <= steps:
                period = math.lcm(period, len(construct.options))
    cuts = sorted(set(when.values()))

    def state_of(step):
        return bisect.bisect_left(cuts, step), (step - 1) % period if period <= steps else step
    return when, boundaries, state_of


def schedule_variant_bound(prompt, steps, hires_steps=None, use_old_scheduling=False):
    """How many distinct texts ``prompt_schedule`` can return (an upper bound, computed without rendering).

    Used by ``limits.check_prompt`` to refuse ``[a|b|c][d|e|f]...`` prompts before any encoding."""
    steps, int_offset, flt_offset = _mode(steps, hires_steps, use_old_scheduling)
    try:
        parsed = parse_schedule_prompt(prompt)
    except ScheduleSyntaxError:
        return 1
    _, boundaries, state_of = _boundaries(parsed, steps, int_offset, flt_offset, use_old_scheduling, prompt)
    return len({state_of(t) for t in boundaries})


def prompt_schedule_warnings(prompt):
    """Human-readable warnings about how A1111 treats this prompt's prompt-editing syntax ([] when there is none).

    Reports the two silent traps: a prompt the grammar rejects (a stray ``|``, a dangling backslash) which disables
    every schedule in it, and a schedule directly followed by text A1111 may read as RAW (``[a:b:0.5]:1.2``), which
    A1111 resolves differently from run to run (this pack always schedules it).
    """
    try:
        parsed = parse_schedule_prompt(prompt)
    except ScheduleSyntaxError as err:
        return [f"prompt editing disabled: {err}"]
    return [f"the schedule ending at character {pos} is directly followed by '{prompt[pos]}', which A1111 may also read "
            "as plain text: whether A1111 applies that schedule then depends on PYTHONHASHSEED (it varies between "
            "runs); Forgeline always applies it. Put a space right after the schedule to make A1111 agree"
            for pos in parsed.ambiguous_at]


def _mode(steps, hires_steps, use_old_scheduling):
    steps = _whole("steps", steps)
    if hires_steps is None or use_old_scheduling:
        return steps, 0, 0
    return _whole("hires_steps", hires_steps), steps, 1.0


def _whole(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}={value!r} must be a whole number of sampling steps, e.g. 20")
    return int(value)


def _when(number, steps, int_offset, flt_offset, use_old_scheduling, prompt):
    v = float(number)
    if use_old_scheduling:
        v = v * steps if v < 1 else v
    elif "." in number:
        v = (v - flt_offset) * steps
    else:
        v = v - int_offset
    try:
        return min(steps, int(v))
    except (OverflowError, ValueError):
        raise ScheduleNumberError(f"schedule step {number!r} in prompt {prompt!r} is not a finite number of steps "
                                  "(A1111 fails here too); use a fraction like 0.5 or a step like 10") from None

