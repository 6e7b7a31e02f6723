"""LoRA Loader (scheduled, A1111): any common LoRA format, constant or step-scheduled strength, block weights.

The rules are ``lora/requests.py`` (what a request means) and the ``lora`` core; ComfyUI is driven by
``host/lora_apply.py`` (constant strength as ComfyUI patches, scheduled strength by ``host/lora_schedule.py``).
Saved workflows' boolean ``hires_pass`` (the former input) still loads: true means ``pass=hires``, false ``auto``.
"""
from __future__ import annotations

from comfy_api.latest import io

from ..host.lora_apply import apply_loras, validate_common
from ..host.model_folders import lora_names
from ..lora.requests import MODES, PASSES, LoraRequest, describe
from ..limits import check_inputs  # noqa: F401


def lora_inputs(optional=False, suffix=""):
    """The per-LoRA widgets shared by the loader and the stack."""
    names = lora_names()
    if optional:
        names = ["None"] + names  # a slot set to None is skipped
    return [
        io.Combo.Input(f"lora_name{suffix}", optional=optional, options=names, default=names[0] if names else None,
                       tooltip="LoRA file from ComfyUI's loras folder."),
        io.Float.Input(f"strength_model{suffix}", optional=optional, default=1.0, min=-10.0, max=10.0, step=0.01,
                       tooltip="UNet strength; multiplies the schedule's unet weight."),
        io.Float.Input(f"strength_clip{suffix}", optional=optional, default=1.0, min=-10.0, max=10.0, step=0.01,
                       tooltip="Text-encoder strength; multiplies the schedule's te weight at step 0."),
        io.String.Input(f"schedule{suffix}", optional=optional, default="",
                        tooltip="loractl weight schedule, e.g. '0@0,1@0.5' (weight@fraction or weight@step), "
                                "'1:0@0,1@1' (te then unet), 'unet=0@0,1@1:hr=0.5'. Empty = constant."),
        io.String.Input(f"block_weights{suffix}", optional=optional, default="",
                        tooltip="LoRA Block Weight preset (ALL, INS, MIDD, OUTD, SDXL-OUTALL …) or a 12/17/20/26-"
                                "value vector. Empty = all blocks 1."),
    ]


class ForgelineLoraLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ForgelineLoraLoader",
            display_name="LoRA Loader (scheduled, A1111)",
            category="Forgeline/lora",
            description="Loads a LoRA of any common format (kohya, diffusers, PEFT, LyCORIS LoHa/LoKr/(IA)³/DoRA/"
                        "full). Constant strength merges once; a loractl schedule changes the UNet strength per "
                        "sampling step by re-merging from pristine weights, restored after sampling.",
            inputs=[io.Model.Input("model"), io.Clip.Input("clip", optional=True)] + lora_inputs() + [
                io.Combo.Input("mode", options=list(MODES), default="loractl",
                               tooltip="loractl: A1111 timing (weight of the previous step, last step hits 1.0). "
                                       "exact: step i of N sees position i/(N-1), no lag."),
                io.Boolean.Input("hires_pass", default=False, optional=True,
                                 tooltip="Legacy switch of older workflows: on = pass 'hires'. Leave it off and use "
                                         "'pass' below."),
                io.Combo.Input("for_pass", display_name="pass", options=list(PASSES), default="auto", optional=True,
                               tooltip="Which loractl slots: auto = the hr=/hrunet= weights in a HiRes Fix (A1111) "
                                       "pass and the normal ones in every other run (the CLIP gets te); first / "
                                       "hires = force one (hires also gives the CLIP hrte, for the hires prompt)."),
            ],
            outputs=[io.Model.Output(), io.Clip.Output(), io.String.Output(display_name="trigger_words"),
                     io.String.Output(display_name="report")],
        )

    @classmethod
    def validate_inputs(cls, lora_name=None, schedule=None, block_weights=None, strength_model=None,
                        strength_clip=None):
        limit = check_inputs(strength_model=(strength_model, -10.0, 10.0), strength_clip=(strength_clip, -10.0, 10.0))
        return limit if limit is not True else validate_common(lora_name, schedule, block_weights)

    @classmethod
    def execute(cls, model, lora_name, strength_model, strength_clip, schedule, block_weights, mode="loractl",
                hires_pass=False, clip=None, for_pass="auto") -> io.NodeOutput:
        pass_ = for_pass or "auto"
        if pass_ == "auto" and hires_pass:
            pass_ = "hires"
        req = LoraRequest(lora_name, strength_model, strength_clip, schedule, block_weights, mode, pass_)
        model, clip, applied = apply_loras(model, clip, [req])
        words, report = describe(applied)
        return io.NodeOutput(model, clip, words, report)


NODES = [ForgelineLoraLoader]
