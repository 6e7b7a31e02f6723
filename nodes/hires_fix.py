"""HiRes Fix (A1111): upscale a first-pass latent and re-sample it with A1111's hires-pass semantics.

The rules and their sources are in ``host/hires.py`` (A1111 ``processing.py``
``StableDiffusionProcessingTxt2Img.sample_hr_pass``) and ``samplers/hires_*.py``; this file is the node schema.
"""
from __future__ import annotations

from comfy_api.latest import io

from ..host import dropdowns, upscale
from ..host.hires import MAX_RESOLUTION, SAME, hires_fix, hires_input_error  # noqa: F401
from ..host.lora_schedule import PASS_KEY  # noqa: F401
from ..host.sampling import sampler_names, scheduler_names
from ..limits import MAX_STEPS, check_inputs, choice_problem  # noqa: F401
from .ksampler_a1111 import noise_inputs, seed_input


class ForgelineHiResFix(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        dropdowns.on_load()
        return io.Schema(
            node_id="ForgelineHiResFix",
            display_name="HiRes Fix (A1111)",
            category="Forgeline/sampling",
            description="A1111's 'Hires. fix' as one node. Connect the first pass's LATENT and repeat the first pass's "
                        "model, prompts, seed, steps, CFG, sampler and scheduler (as on A1111's txt2img tab): it "
                        "upscales (Latent modes, Lanczos/Nearest/Bicubic via the VAE, or an upscale model) to "
                        "A1111's size, then re-samples with A1111's hires steps (0 = same as the first pass, run "
                        "over steps/denoise levels) and the first pass's seed. Taking the latent, rather than running "
                        "the first pass inside, keeps any first-pass sampler or ControlNet usable.",
            inputs=[
                io.Model.Input("model", tooltip="The model (the hires pass uses the same one, as A1111)."),
                io.Conditioning.Input("positive", tooltip="First-pass prompt; also the hires prompt unless "
                                                          "hires_positive is connected."),
                io.Conditioning.Input("negative", tooltip="First-pass negative prompt (hires unless hires_negative)."),
                io.Latent.Input("latent", tooltip="The first pass's output latent."),
                seed_input(tooltip="The FIRST PASS's seed: A1111 draws the hires noise afresh from it."),
                io.Int.Input("steps", default=20, min=1, max=10000,
                             tooltip="The first pass's sampling steps (used when hires_steps is 0, and for "
                                     "prompt-editing hires steps)."),
                io.Float.Input("cfg", default=7.0, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="The first pass's CFG scale (hires uses it unless hires_cfg is set)."),
                io.Combo.Input("sampler_name", options=sampler_names(), default="euler_ancestral",
                               tooltip="The first pass's sampler (hires uses it unless hires_sampler is set)."),
                io.Combo.Input("scheduler", options=scheduler_names(), default="normal",
                               tooltip="The first pass's scheduler (hires uses it unless hires_scheduler is set)."),
                io.Combo.Input("upscaler", options=list(upscale.UPSCALERS), default="Latent",
                               tooltip="A1111 'Upscaler'. Latent modes work on the latent (Latent = bilinear). "
                                       "Lanczos/Nearest/Bicubic decode with the VAE, resize in 8-bit pixels and "
                                       "encode. 'Upscale model' uses the upscale_model input (ESRGAN etc.)."),
                io.Float.Input("upscale_by", default=2.0, min=0.05, max=8.0, step=0.05,
                               tooltip="A1111 'Upscale by': hires size = int(size·factor), floored to 8. Ignored "
                                       "when a resize size is set."),
                io.Int.Input("resize_width", default=0, min=0, max=MAX_RESOLUTION, step=8,
                             tooltip="A1111 'Resize width to' (0 = from height and aspect ratio, or use upscale_by)."),
                io.Int.Input("resize_height", default=0, min=0, max=MAX_RESOLUTION, step=8,
                             tooltip="A1111 'Resize height to'. With both set the image covers the box and is "
                                     "cropped to it, as A1111 does."),
                io.Int.Input("hires_steps", default=0, min=0, max=10000,
                             tooltip="A1111 'Hires steps': 0 = same as the first pass."),
                io.Float.Input("denoise", default=0.7, min=0.0, max=1.0, step=0.01,
                               tooltip="A1111 'Denoising strength': hires_steps run at the tail of an "
                                       "int(hires_steps/denoise)-step schedule. 0 only upscales."),
                io.Combo.Input("hires_sampler", options=[SAME, *sampler_names()], default=SAME,
                               tooltip="A1111 'Hires sampler'."),
                io.Combo.Input("hires_scheduler", options=[SAME, *scheduler_names()], default=SAME,
                               tooltip="Hires schedule type (Forge/reForge 'Hires schedule type')."),
                io.Float.Input("hires_cfg", default=0.0, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Hires CFG scale (Forge/reForge); 0 = same as the first pass."),
                *noise_inputs(),
                io.Vae.Input("vae", optional=True, tooltip="Needed for the pixel and model upscalers."),
                io.UpscaleModel.Input("upscale_model", optional=True, tooltip="For upscaler 'Upscale model'."),
                io.Conditioning.Input("hires_positive", optional=True, tooltip="A1111 'Hires prompt' (optional)."),
                io.Conditioning.Input("hires_negative", optional=True,
                                      tooltip="A1111 'Hires negative prompt' (optional)."),
            ],
            outputs=[io.Latent.Output(tooltip="The hires latent; decode it with the VAE.")],
        )

    @classmethod
    def validate_inputs(cls, upscale_by=None, resize_width=None, resize_height=None, denoise=None, hires_steps=None,
                        upscaler=None, hires_cfg=None, hires_sampler=None, hires_scheduler=None, eta=None,
                        s_noise=None):
        limit = check_inputs(upscale_by=(upscale_by, 0.0, 8.0), resize_width=(resize_width, 0, MAX_RESOLUTION),
                             resize_height=(resize_height, 0, MAX_RESOLUTION), denoise=(denoise, 0.0, 1.0),
                             hires_steps=(hires_steps, 0, MAX_STEPS), hires_cfg=(hires_cfg, 0.0, 100.0),
                             eta=(eta, 0.0, 100.0), s_noise=(s_noise, 0.0, 100.0))
        limit = choice_problem("hires_sampler", hires_sampler, [SAME, *sampler_names()]) if limit is True else limit
        limit = choice_problem("hires_scheduler", hires_scheduler, [SAME, *scheduler_names()]) if limit is True else limit
        if limit is not True:
            return limit
        return hires_input_error(upscale_by, resize_width, resize_height, denoise, hires_steps, upscaler,
                                 hires_cfg) or True

    @classmethod
    def execute(cls, model, positive, negative, latent, seed, steps, cfg, sampler_name, scheduler, upscaler,
                upscale_by, resize_width, resize_height, hires_steps, denoise, hires_sampler, hires_scheduler,
                hires_cfg, eta, s_noise, noise_source, ensd, vae=None, upscale_model=None, hires_positive=None,
                hires_negative=None) -> io.NodeOutput:
        return io.NodeOutput(hires_fix(
            model, positive, negative, latent, seed=seed, steps=steps, cfg=cfg, sampler_name=sampler_name,
            scheduler=scheduler, upscaler=upscaler, upscale_by=upscale_by, resize_width=resize_width,
            resize_height=resize_height, hires_steps=hires_steps, denoise=denoise, hires_sampler=hires_sampler,
            hires_scheduler=hires_scheduler, hires_cfg=hires_cfg, hires_positive=hires_positive,
            hires_negative=hires_negative, vae=vae, upscale_model=upscale_model, noise_source=noise_source,
            eta=eta, s_noise=s_noise, ensd=ensd))


NODES = [ForgelineHiResFix]
