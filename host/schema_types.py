"""Schema types whose behaviour depends on how the host validates links (``comfy_execution/validation.py``).

A COMBO output must link into both V1 combo inputs (typed by their options list, e.g. KSampler's ``sampler_name``,
CheckpointLoaderSimple's ``ckpt_name``) and V3 combo inputs (typed "COMBO"), on ComfyUI 0.3.75 and 0.33.0: a preset
output (the LCM-LoRA merge node's ``sampler_name`` / ``scheduler``, one value known at schema time) and a free output
(A1111 Parameters' checkpoint, sampler, scheduler, ...: the value comes from the infotext at run time).
"""
from __future__ import annotations

from comfy_api.latest import io

from ..limits import MAX_PROMPT_CHARS
from ..limits.checks import check_number, choice_problem


class PresetComboType(str):
    """The link type of a preset COMBO output: "COMBO", and also equal to any list-typed (V1) combo input whose
    options hold the one value the output carries. ComfyUI validates a link with ``not received != expected``
    (comfyanonymous/ComfyUI:comfy_execution/validation.py ``validate_node_input``, the hook its "*" type uses), and
    input types differ by node: V3 combos are "COMBO", V1 combos (KSampler's ``sampler_name``) are their options
    list. 0.3.75 typed ``Combo.Output`` by its options list (refused by V3 inputs), 0.33 types it "COMBO" (refused by
    V1 inputs); this type passes both on both hosts. ``value`` None: the value is only known at run time, so any
    list-typed combo input accepts the link (ComfyUI does not check a linked value against the options; the node
    that receives a bad one reports it when it runs)."""

    def __new__(cls, value: str | None = None):
        self = super().__new__(cls, "COMBO")
        self.value = value
        return self

    def __ne__(self, other):
        if isinstance(other, (list, tuple)):
            return self.value is not None and self.value not in other
        return str.__ne__(self, other)

    __hash__ = str.__hash__


class PresetComboOutput(io.Combo.Output):
    """A COMBO output that always carries ``value``, or (``value`` None) any value of the input it links to (see
    PresetComboType)."""

    def __init__(self, value: str | None = None, **kw):
        super().__init__(**kw)
        self.preset_type = PresetComboType(value)

    @property
    def io_type(self):
        return self.preset_type


# The settings each X/Y/Z cell ran with (a list of ``infotext.graph.GraphRun``, in grid order), from X/Y/Z Plot
# (A1111) to Save Image (A1111 infotext). Its own type, so it links only where a list of runs is understood.
CellRuns = io.Custom("FORGELINE_CELL_RUNS")


def _declared_inputs(node_cls) -> dict:
    """The node's inputs by id, from a fresh ``define_schema()`` (file lists in combo options stay current)."""
    return {i.id: i for i in node_cls.define_schema().inputs}


def declared_inputs_problem(node_cls, values: dict, text_limit: int = MAX_PROMPT_CHARS, skip=(), combos_from=None):
    """``True`` or the first problem with ``values`` (the widget values ComfyUI hands ``validate_inputs``) measured
    against ``node_cls``'s own schema: INT/FLOAT inputs finite and within their declared min/max, STRING inputs at
    most ``text_limit`` characters, COMBO values among their options.

    A ``validate_inputs(cls, **values)`` makes ComfyUI skip its own min/max and option checks for every input
    (comfyanonymous/ComfyUI:execution.py ``validate_inputs``: ``validate_has_kwargs``), and its min/max check lets
    NaN through (``nan < min`` is False), so a node that takes ``**values`` calls this first. ``skip`` names inputs
    the node checks itself; combo options are read from the schema, or from ``combos_from(name)`` when given."""
    inputs = _declared_inputs(node_cls)
    for name, value in values.items():
        spec = inputs.get(name)
        if spec is None or value is None or name in skip:
            continue
        if isinstance(spec, (io.Int.Input, io.Float.Input)):
            integer = isinstance(spec, io.Int.Input)
            lo = spec.min if spec.min is not None else -float("inf")
            hi = spec.max if spec.max is not None else float("inf")
            try:
                check_number(name, value, lo, hi, integer=integer)
            except ValueError as e:
                return str(e)
        elif isinstance(spec, io.String.Input):
            if not isinstance(value, str):
                return f"{name}: expected text, got {type(value).__name__}"
            if len(value) > text_limit:
                return (f"{name}: {len(value)} characters, more than the limit of {text_limit}; shorten it "
                        f"(see the README's Limits)")
        elif isinstance(spec, io.Combo.Input):
            options = combos_from(name) if combos_from else getattr(spec, "options", None)
            problem = choice_problem(name, value, options) if options else True
            if problem is not True:
                return problem
    return True
