"""Refiner handoff (A1111): base model for the first part of ONE schedule, refiner model for the rest.

The rules and their sources are in ``host/refiner.py`` (A1111 ``sd_samplers_common.apply_refiner``) and
``samplers/refiner_switch.py``; this file is the node schema.
"""
from __future__ import annotations

from comfy_api.latest import io

from ..host import dropdowns
from ..host.refiner import SWITCH_BY, refiner_handoff, refiner_input_error, with_aesthetic_score  # noqa: F401
from ..host.sampling import sampler_names, scheduler_names
from ..limits import check_inputs
from .ksampler_a1111 import noise_inputs, seed_input


class ForgelineRefiner(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        dropdowns.on_load()
        return io.Schema(
            node_id="ForgelineRefiner",
            display_name="Refiner handoff (A1111)",
            category="Forgeline/sampling",
            description="A1111's Refiner as one node: the base model samples the first part of ONE schedule, the "
                        "refiner continues it from the leftover noise with the same ancestral noise stream (no "
                        "hidden seed 0). 'Switch at' as A1111 (by model timestep, or by sampling steps); 1.0 is a "
                        "plain base run. The refiner needs its own prompts encoded with its own CLIP (SDXL refiner: "
                        "CLIPTextEncodeSDXLRefiner; missing aesthetic scores get A1111's 6.0 / 2.5). Base and "
                        "refiner must share a latent space.",
            inputs=[
                io.Model.Input("base_model", tooltip="The base model (first part of the run)."),
                io.Conditioning.Input("base_positive", tooltip="Prompt encoded with the base model's CLIP."),
                io.Conditioning.Input("base_negative", tooltip="Negative prompt encoded with the base model's CLIP."),
                io.Model.Input("refiner_model", tooltip="The refiner (SDXL refiner, or any model of the same "
                                                        "latent space, e.g. an SD1.5 fine-tune)."),
                io.Conditioning.Input("refiner_positive", tooltip="Prompt encoded with the REFINER's CLIP."),
                io.Conditioning.Input("refiner_negative", tooltip="Negative prompt encoded with the REFINER's CLIP."),
                io.Latent.Input("latent_image", tooltip="Empty latent (txt2img)."),
                seed_input(),
                io.Int.Input("steps", default=25, min=1, max=10000,
                             tooltip="Total sampling steps of the one shared schedule."),
                io.Float.Input("cfg", default=7.0, min=0.0, max=100.0, step=0.1, round=0.01, tooltip="CFG scale."),
                io.Combo.Input("sampler_name", options=sampler_names(), default="euler_ancestral",
                               tooltip="One sampler for the whole run."),
                io.Combo.Input("scheduler", options=scheduler_names(), default="normal",
                               tooltip="One schedule for the whole run (built from the base model)."),
                io.Float.Input("switch_at", default=0.8, min=0.01, max=1.0, step=0.01,
                               tooltip="A1111 'Switch at': fraction of the run done by the base. 1.0 = no refiner."),
                io.Combo.Input("switch_by", options=list(SWITCH_BY), default="timestep",
                               tooltip="timestep: A1111's default (nearest model timestep t of sigma, (999-t)/1000 >= "
                                       "switch_at). steps: A1111's 'switch by sampling steps' option (step/steps)."),
                io.Float.Input("refiner_cfg", default=0.0, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="CFG for the refiner part; 0 = same as cfg (A1111 uses one CFG)."),
                io.Float.Input("aesthetic_score", default=6.0, min=0.0, max=1000.0, step=0.01,
                               tooltip="SDXL refiner only: positive aesthetic score when the cond has none."),
                io.Float.Input("negative_aesthetic_score", default=2.5, min=0.0, max=1000.0, step=0.01,
                               tooltip="SDXL refiner only: negative aesthetic score when the cond has none."),
                *noise_inputs(),
            ],
            outputs=[io.Latent.Output(tooltip="The refined latent; decode it with the base VAE.")],
        )

    @classmethod
    def validate_inputs(cls, switch_at=None, switch_by=None, refiner_cfg=None, aesthetic_score=None,
                        negative_aesthetic_score=None, eta=None, s_noise=None):
        limit = check_inputs(switch_at=(switch_at, 0.0, 1.0), refiner_cfg=(refiner_cfg, 0.0, 100.0),
                             aesthetic_score=(aesthetic_score, 0.0, 1000.0),
                             negative_aesthetic_score=(negative_aesthetic_score, 0.0, 1000.0),
                             eta=(eta, 0.0, 100.0), s_noise=(s_noise, 0.0, 100.0))
        return limit if limit is not True else refiner_input_error(switch_at, switch_by, refiner_cfg) or True

    @classmethod
    def execute(cls, base_model, base_positive, base_negative, refiner_model, refiner_positive, refiner_negative,
                latent_image, seed, steps, cfg, sampler_name, scheduler, switch_at, switch_by, refiner_cfg,
                aesthetic_score, negative_aesthetic_score, eta, s_noise, noise_source, ensd) -> io.NodeOutput:
        out, _k = refiner_handoff(
            base_model, base_positive, base_negative, refiner_model, refiner_positive, refiner_negative,
            latent_image, seed=seed, steps=steps, cfg=cfg, sampler_name=sampler_name, scheduler=scheduler,
            switch_at=switch_at, switch_by=switch_by, refiner_cfg=refiner_cfg, aesthetic_score=aesthetic_score,
            negative_aesthetic_score=negative_aesthetic_score, noise_source=noise_source, eta=eta, s_noise=s_noise,
            ensd=ensd)
        return io.NodeOutput(out)


NODES = [ForgelineRefiner]
