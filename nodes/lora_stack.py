"""Several LoRAs in one node: a fixed number of optional slots, applied in order through ``apply_loras``.

Each slot is a loader (name, strength_model, strength_clip, loractl schedule, block weights); ``None`` skips it.
Constant slots become ComfyUI patches (summed in fp32 from the original weight, rounded once); scheduled slots
share one ``ScheduledLoraMerge`` per run, their ranks concatenated per layer (one GEMM per layer and change).
Fixed slots work on ComfyUI 0.3.75, which has no Autogrow inputs.
"""
from __future__ import annotations

from comfy_api.latest import io

from ..host.lora_apply import apply_loras, validate_common
from ..lora.requests import MODES, LoraRequest, describe
from .lora_loader import lora_inputs
from ..limits import check_inputs, choice_problem

SLOTS = 4


class ForgelineLoraStack(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        slots = []
        for i in range(1, SLOTS + 1):
            slots += lora_inputs(optional=True, suffix=f"_{i}")
        return io.Schema(
            node_id="ForgelineLoraStack",
            display_name="LoRA Stack (scheduled, A1111)",
            category="Forgeline/lora",
            description=f"Up to {SLOTS} LoRAs, each constant or loractl-scheduled, with block weights. Scheduled "
                        "LoRAs share one fused re-merge per layer per change; weights are restored after sampling.",
            inputs=[io.Model.Input("model"), io.Clip.Input("clip", optional=True),
                    io.Combo.Input("mode", options=list(MODES), default="loractl",
                                   tooltip="loractl: A1111 timing with its one-step lag; exact: no lag.")] + slots,
            outputs=[io.Model.Output(), io.Clip.Output(), io.String.Output(display_name="trigger_words"),
                     io.String.Output(display_name="report")],
        )

    @classmethod
    def validate_inputs(cls, lora_name_1=None, schedule_1=None, block_weights_1=None, lora_name_2=None,
                        schedule_2=None, block_weights_2=None, lora_name_3=None, schedule_3=None,
                        block_weights_3=None, lora_name_4=None, schedule_4=None, block_weights_4=None,
                        strength_model_1=None, strength_clip_1=None, strength_model_2=None, strength_clip_2=None,
                        strength_model_3=None, strength_clip_3=None, strength_model_4=None, strength_clip_4=None,
                        mode=None):
        values = locals()
        limit = check_inputs(**{k: (values[k], -10.0, 10.0) for k in values if k.startswith("strength_")})
        limit = choice_problem("mode", mode, MODES) if limit is True else limit
        if limit is not True:
            return limit
        for i in range(1, SLOTS + 1):
            ok = validate_common(values[f"lora_name_{i}"], values[f"schedule_{i}"], values[f"block_weights_{i}"],
                                 label=f"lora_name_{i}")
            if ok is not True:
                return f"slot {i}: {ok}"
        return True

    @classmethod
    def execute(cls, model, mode="loractl", clip=None, **slots) -> io.NodeOutput:
        requests = []
        for i in range(1, SLOTS + 1):
            name = slots.get(f"lora_name_{i}")
            if not name or name == "None":
                continue
            requests.append(LoraRequest(name, slots.get(f"strength_model_{i}", 1.0),
                                        slots.get(f"strength_clip_{i}", 1.0), slots.get(f"schedule_{i}", ""),
                                        slots.get(f"block_weights_{i}", ""), mode))
        model, clip, applied = apply_loras(model, clip, requests)
        words, report = describe(applied)
        return io.NodeOutput(model, clip, words, report)


NODES = [ForgelineLoraStack]
