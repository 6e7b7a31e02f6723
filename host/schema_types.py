"""Schema types whose behaviour depends on how the host validates links (``comfy_execution/validation.py``).

A COMBO output must link into both V1 combo inputs (typed by their options list, e.g. KSampler's ``sampler_name``,
CheckpointLoaderSimple's ``ckpt_name``) and V3 combo inputs (typed "COMBO"), on ComfyUI 0.3.75 and 0.33.0: a preset
output (the LCM-LoRA merge node's ``sampler_name`` / ``scheduler``, one value known at schema time) and a free output
(A1111 Parameters' checkpoint, sampler, scheduler, ...: the value comes from the infotext at run time).
"""
from __future__ import annotations

from comfy_api.latest import io


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
