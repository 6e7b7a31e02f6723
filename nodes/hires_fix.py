"""HiRes Fix (A1111): upscale a first-pass latent and re-sample it with A1111's hires-pass semantics.

Design: the node takes the **first pass's LATENT** (from KSampler (A1111), the stock KSampler or any sampler) plus
the settings that pass used — the same model, prompts, seed, steps, CFG, sampler and scheduler, exactly the fields
of A1111's txt2img tab — and does what A1111's "Hires. fix" panel adds (``processing.py``
``StableDiffusionProcessingTxt2Img.sample_hr_pass``). Wiring the first pass separately keeps every first-pass
option (ControlNet, regional prompts, any sampler) available, and the same node also upscales a loaded image.

A1111 rules reproduced (A1111 1.10):

* size: ``hires_target_size`` (factor ``int(w·scale)``, or "resize to" with aspect-preserving crop), floored to
  multiples of 8 by the latent;
* upscalers: the six "Latent …" interpolations, PIL Lanczos/Nearest (plus Bicubic) in pixel space, or an upscale
  model (``nodes/upscale.py``);
* steps: ``hires_steps`` (0 = the first pass's ``steps``) run at the tail of an ``int(hires_steps / min(denoise,
  0.999))``-step schedule (``setup_img2img_steps``; ComfyUI's KSampler denoise rule, comfy-host.md §2.1);
* seed: the hires noise is drawn afresh from the **first pass's seed** (A1111 rebuilds ``ImageRNG`` with
  ``p.seeds``), so a hires pass equals ``KSampler(seed, steps, denoise)`` on the upscaled latent;
* hires prompt/negative, CFG, sampler and scheduler fall back to the first pass's when left empty/"same".

Pass marker for other Forgeline features: during the hires run the model carries
``transformer_options["forgeline_pass"] = {"pass": "hires", "first_pass_steps", "hires_steps"}`` and, before every
model call, the sampling context gets ``ctx.extra["pass"] = "hires"`` (plus the two step counts), and prompt
editing is switched to its hires schedule (A1111 ``get_learned_conditioning_prompt_schedules(…, hires_steps)``):
the model's prompt-schedule pass is set to ``hires`` once (``prompt_schedule.set_pass``; a ``first``/``hires`` pass
forced upstream by A1111 Prompt Editing Steps is kept), and the runner's ``enable_step_schedules`` keeps it.

Differences from A1111 (documented): at denoise ≥ 0.999 the "comfy" noise source starts from
``latent + noise·√(1+σ₀²)`` (ComfyUI's max-denoise scaling; the a1111_* sources use A1111's ``noise·σ₀``); pixel
upscalers resize straight to the 8-aligned size.
"""
from __future__ import annotations

import comfy.utils
import latent_preview
from comfy_api.latest import io

from ..limits import MAX_STEPS, check_inputs, choice_problem
from ..samplers import hires_pass_steps, hires_schedule_length, hires_target_size
from . import dropdowns, prompt_schedule, sampling_context, upscale
from .a1111_sampling import full_schedule, sample_a1111, sampler_names, sampling_input_error, scheduler_names
from .ksampler_a1111 import noise_inputs, seed_input

SAME = "(same as first pass)"
PASS_KEY = "forgeline_pass"
MAX_RESOLUTION = 16384


class PassProgress:
    """One progress bar (with latent previews) over several sampling passes of one node."""

    def __init__(self, total, model):
        self.total = max(int(total), 1)
        self.done = 0
        self.bar = comfy.utils.ProgressBar(self.total)
        self.previewer = latent_preview.get_previewer(model.load_device, model.model.latent_format)

    def advance(self, n=1):
        self.done += n
        self.bar.update_absolute(min(self.done, self.total), self.total)

    def callback(self, model=None):
        """A sampler callback for the next pass; the pass's steps count on from what is done already."""
        previewer = self.previewer
        if model is not None:
            previewer = latent_preview.get_previewer(model.load_device, model.model.latent_format)
        offset = self.done

        def on_step(step, x0, x, total_steps):
            preview = previewer.decode_latent_to_preview_image("JPEG", x0) if previewer else None
            self.done = offset + step + 1
            self.bar.update_absolute(min(self.done, self.total), self.total, preview)
        return on_step


def mark_pass(model_clone, name, **info):
    """Tag every sampling run of ``model_clone`` as pass ``name`` (see module docstring for the keys)."""
    tag = {"pass": name, **info}
    model_clone.model_options.setdefault("transformer_options", {})[PASS_KEY] = tag

    if name == "hires":  # kept by enable_step_schedules' "auto"; a pass forced upstream by the user wins
        prompt_schedule.set_pass(model_clone, "hires", keep_forced=True)

    def before_call(ctx, model_options):
        ctx.extra.update(tag)

    sampling_context.on_call(model_clone, f"forgeline.pass.{name}", before_call)
    return model_clone


def hires_input_error(upscale_by=None, resize_width=None, resize_height=None, denoise=None, hires_steps=None,
                      upscaler=None, hires_cfg=None) -> str | None:
    """A message naming the first bad HiRes input and how to fix it, or None."""
    if upscaler is not None and upscaler not in upscale.UPSCALERS:
        return upscale.upscaler_error(upscaler)
    if upscale_by is not None and not 0.0 < upscale_by <= 8.0:
        return f"upscale_by={upscale_by}: must be in (0, 8] (A1111 'Upscale by', usually 1.5–2)"
    for name, value in (("resize_width", resize_width), ("resize_height", resize_height)):
        if value is not None and value != 0 and not 64 <= value <= MAX_RESOLUTION:
            return f"{name}={value}: use 0 (keep aspect ratio / use upscale_by) or 64…{MAX_RESOLUTION} pixels"
    if denoise is not None and not 0.0 <= denoise <= 1.0:
        return f"denoise={denoise}: must be in [0, 1] (A1111 'Denoising strength', usually 0.3–0.7)"
    if hires_steps is not None and not 0 <= hires_steps <= 10000:
        return f"hires_steps={hires_steps}: use 0 (same as the first pass) or 1…10000"
    if hires_cfg is not None and not 0.0 <= hires_cfg <= 100.0:
        return f"hires_cfg={hires_cfg}: use 0 (same as the first pass) or a CFG scale up to 100"
    return None


def hires_fix(model, positive, negative, latent, *, seed, steps, cfg, sampler_name, scheduler, upscaler="Latent",
              upscale_by=2.0, resize_width=0, resize_height=0, hires_steps=0, denoise=0.7, hires_sampler=SAME,
              hires_scheduler=SAME, hires_cfg=0.0, hires_positive=None, hires_negative=None, vae=None,
              upscale_model=None, noise_source="comfy", eta=1.0, s_noise=1.0, ensd=0):
    """Upscale ``latent`` (a first pass of ``steps`` steps) and run A1111's hires pass; returns a LATENT dict."""
    error = hires_input_error(upscale_by, resize_width, resize_height, denoise, hires_steps, upscaler, hires_cfg)
    error = error or upscale.upscaler_error(upscaler, vae, upscale_model)
    if error:
        raise ValueError(f"HiRes Fix: {error}")
    samples = latent["samples"]
    if samples.ndim != 4:
        raise ValueError(f"HiRes Fix: latent has shape {tuple(samples.shape)}; it needs an image latent (B, C, H, W)")
    size = hires_target_size(samples.shape[-1] * 8, samples.shape[-2] * 8, upscale_by, resize_width, resize_height)
    if not (64 <= size.width <= MAX_RESOLUTION and 64 <= size.height <= MAX_RESOLUTION):
        raise ValueError(f"HiRes Fix: the hires size would be {size.width}x{size.height} pixels; keep it within "
                         f"64…{MAX_RESOLUTION} (lower upscale_by or the resize size)")
    run_steps = hires_pass_steps(steps, hires_steps)
    sampler_name = sampler_name if hires_sampler in (SAME, "", None) else hires_sampler
    scheduler = scheduler if hires_scheduler in (SAME, "", None) else hires_scheduler
    cfg = hires_cfg or cfg
    error = sampling_input_error(steps=run_steps, sampler_name=sampler_name, scheduler=scheduler, cfg=cfg)
    if error:
        raise ValueError(f"HiRes Fix: {error}")

    progress = PassProgress(1 + run_steps, model)
    latent_w, latent_h = size.latent_size
    if upscale.is_latent_mode(upscaler):
        upscaled = upscale.upscale_latent(samples, latent_w, latent_h, upscaler)
    else:
        upscaled = upscale.upscale_in_pixels(vae, samples, latent_w * 8, latent_h * 8, upscaler, upscale_model)
    upscaled = upscale.crop_latent(upscaled, size.crop)
    progress.advance()
    hires_latent = {k: v for k, v in latent.items() if k not in ("samples", "noise_mask")}
    hires_latent["samples"] = upscaled

    total = hires_schedule_length(run_steps, denoise)
    if total == 0:
        return hires_latent
    sigmas = full_schedule(model, scheduler, total, sampler_name)[-(run_steps + 1):]
    hires_model = mark_pass(model.clone(), "hires", first_pass_steps=int(steps), hires_steps=run_steps)
    out, _info = sample_a1111(hires_model, hires_positive or positive, hires_negative or negative, hires_latent,
                              seed=seed, steps=run_steps, cfg=cfg, sampler_name=sampler_name, scheduler=scheduler,
                              sigmas=sigmas, eta=eta, s_noise=s_noise, noise_source=noise_source, ensd=ensd,
                              callback=progress.callback(), disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED)
    return out


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
