"""A1111 Prompt Editing Steps: makes any sampler switch A1111 Prompt Encode schedules at A1111's exact model call.

The rule is ``prompt/step_schedule.py`` (A1111 ``reconstruct_cond_batch``); the hook is ``host/prompt_schedule.py``.
"""
from __future__ import annotations

from comfy_api.latest import io

from ..host.prompt_schedule import PASSES, enable_step_schedules


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
                io.Combo.Input("for_pass", display_name="pass", options=list(PASSES), default="auto", optional=True,
                               tooltip="Which schedule to use: 'auto' picks the hires schedule when the sampler's "
                                       "steps equal the prompt node's hires steps; force 'first' or 'hires' to "
                                       "choose."),
            ],
            outputs=[io.Model.Output()],
        )

    @classmethod
    def execute(cls, model, for_pass="auto") -> io.NodeOutput:
        return io.NodeOutput(enable_step_schedules(model.clone(), for_pass or "auto"))


NODES = [ForgelineStepSemantics]
