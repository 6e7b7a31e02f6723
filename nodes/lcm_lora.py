"""LCM-LoRA + style LoRA merged once, with LCM model sampling and the recommended 4-step preset.

Rule (Luo et al. 2023, "LCM-LoRA: A Universal Stable-Diffusion Acceleration Module"): ``θ' = θ + λ1·τ_style + λ2·τ_LCM``
with λ1 = 0.8, λ2 = 1.0. Both LoRAs are constant ComfyUI patches on one clone, so ``calculate_weight`` sums them in
fp32 from the original weight and rounds once (the same sum as ``lora.lcm_merge``). Model sampling is set exactly as
ComfyUI's ``ModelSamplingDiscrete(sampling="lcm")`` does (``ModelSamplingDiscreteDistilled`` + ``LCM``: 50 original
timesteps, c_skip/c_out with σ_data 0.5, timestep scaling 10). The preset outputs are sampler ``lcm``, scheduler
``sgm_uniform``, 4 steps and cfg 1.0 (ComfyUI then skips the uncond pass). ``save_merged`` writes the merged
checkpoint with ComfyUI's checkpoint saver into ``output/`` (safetensors).
"""
from __future__ import annotations

from comfy_api.latest import io

from ..limits import check_inputs, output_prefix_problem
from ..lora.lcm_merge import DEFAULT_LCM_STRENGTH, DEFAULT_STYLE_STRENGTH
from ..host.lcm import lcm_model_sampling, save_merged_checkpoint
from ..host.schema_types import PresetComboOutput
from ..host.lora_apply import apply_loras, validate_common
from ..host.model_folders import lora_names
from ..lora.requests import LoraRequest, describe

PRESET = {"steps": 4, "cfg": 1.0, "sampler": "lcm", "scheduler": "sgm_uniform"}


class ForgelineLCMLoraMerge(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        names = lora_names()
        import comfy.samplers
        return io.Schema(
            node_id="ForgelineLCMLoraMerge",
            display_name="LCM-LoRA + Style Merge",
            category="Forgeline/lora",
            description="W + lambda1·tau_style + lambda2·tau_LCM merged once (LCM-LoRA report: lambda1 0.8, lambda2 1.0), LCM model "
                        "sampling set, and the recommended preset: sampler lcm, 4 steps, cfg 1.0.",
            inputs=[
                io.Model.Input("model"), io.Clip.Input("clip", optional=True),
                io.Combo.Input("lcm_lora", options=names, tooltip="The LCM-LoRA file (e.g. lcm-lora-sdv1-5)."),
                io.Combo.Input("style_lora", options=["None"] + names, default="None",
                               tooltip="Optional style LoRA merged with it."),
                io.Float.Input("style_strength", default=DEFAULT_STYLE_STRENGTH, min=-4.0, max=4.0, step=0.01,
                               tooltip="lambda1, the style LoRA weight (0.8 in the LCM-LoRA report)."),
                io.Float.Input("lcm_strength", default=DEFAULT_LCM_STRENGTH, min=-4.0, max=4.0, step=0.01,
                               tooltip="lambda2, the LCM-LoRA weight (1.0)."),
                io.Boolean.Input("save_merged", default=False,
                                 tooltip="Also save the merged checkpoint (safetensors) into ComfyUI's output folder."),
                io.String.Input("filename_prefix", default="checkpoints/forgeline_lcm_merged",
                                tooltip="Where save_merged writes, relative to the output folder."),
            ],
            outputs=[io.Model.Output(), io.Clip.Output(),
                     io.Int.Output(display_name="steps"), io.Float.Output(display_name="cfg"),
                     PresetComboOutput(PRESET["sampler"], display_name="sampler_name",
                                       options=comfy.samplers.KSampler.SAMPLERS),
                     PresetComboOutput(PRESET["scheduler"], display_name="scheduler",
                                       options=comfy.samplers.KSampler.SCHEDULERS),
                     io.String.Output(display_name="report")],
            is_output_node=True,
        )

    @classmethod
    def validate_inputs(cls, lcm_lora=None, style_lora=None, filename_prefix=None, style_strength=None,
                        lcm_strength=None):
        limit = check_inputs(style_strength=(style_strength, -4.0, 4.0), lcm_strength=(lcm_strength, -4.0, 4.0))
        if limit is not True:
            return limit
        for label, name in (("lcm_lora", lcm_lora), ("style_lora", style_lora)):
            ok = validate_common(name, label=label)
            if ok is not True:
                return ok
        if output_prefix_problem(filename_prefix) is not True:
            return output_prefix_problem(filename_prefix)
        return True

    @classmethod
    def execute(cls, model, lcm_lora, style_lora="None", style_strength=DEFAULT_STYLE_STRENGTH,
                lcm_strength=DEFAULT_LCM_STRENGTH, save_merged=False, filename_prefix="checkpoints/forgeline_lcm_merged",
                clip=None) -> io.NodeOutput:
        requests = [LoraRequest(lcm_lora, lcm_strength, lcm_strength)]
        if style_lora and style_lora != "None":
            requests.append(LoraRequest(style_lora, style_strength, style_strength))
        model, clip, applied = apply_loras(model, clip, requests)
        model = lcm_model_sampling(model)
        _, report = describe(applied)
        if save_merged:
            save_merged_checkpoint(model, clip, filename_prefix)
            report += f"\nsaved merged checkpoint under output/{filename_prefix}*"
        return io.NodeOutput(model, clip, PRESET["steps"], PRESET["cfg"], PRESET["sampler"], PRESET["scheduler"],
                             report)


NODES = [ForgelineLCMLoraMerge]
