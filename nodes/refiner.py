"""Refiner handoff (A1111): base model for the first part of ONE schedule, refiner model for the rest.

A1111 (``sd_samplers_common.apply_refiner``, 1.10) swaps the checkpoint inside a single sampler run once
``completed_ratio >= refiner_switch_at``; the schedule, the sampler and its noise stream carry on. Forgeline runs the
same schedule in two ComfyUI sampling runs on the shared runner (``a1111_sampling.sample_a1111``):

* ONE sigma schedule, built once from the base model for ``steps`` steps (``full_schedule``);
* the switch step ``k`` by A1111's rule (``samplers.refiner_switch``): "timestep" (A1111's default, the model
  timestep nearest to σ_k has ``(999 − t)/1000 >= switch_at``) or "steps" (the "switch by sampling steps" option);
* the base runs ``σ_0 … σ_k`` with noise added and returns its leftover noise (no forced 0);
* the refiner continues ``σ_k … 0`` with no new initial noise and the base run's **ancestral noise sampler object**
  (``info.noise_sampler``), so Euler a / DPM2 a / DPM++ 2S a / LCM draw one continuous stream, as one run would.
  The native example instead re-seeds the refiner's ancestral noise from its own ``noise_seed`` (0 in
  ``sdxl_simple_example``), comfy-host.md §2.10.

So ``switch_at = 1.0`` is a single base run, and for a deterministic sampler (Euler) a split at ``k`` equals the
two-``KSamplerAdvanced`` graph (base 0→k with leftover noise, refiner k→end without added noise).

Conditioning: the refiner needs its OWN positive/negative, encoded with the refiner checkpoint's CLIP (SDXL refiner:
CLIP-G only, 1280-wide; use ``CLIPTextEncodeSDXLRefiner`` or any encoder). For an SDXL refiner model, entries without
an ``aesthetic_score`` get A1111's defaults (``sdxl_refiner_high_aesthetic_score`` 6.0 for the positive,
``sdxl_refiner_low_aesthetic_score`` 2.5 for the negative); an explicit score from ``CLIPTextEncodeSDXLRefiner`` wins.

Pass markers: ``transformer_options["forgeline_pass"]`` / ``ctx.extra`` carry ``{"pass": "base" | "refiner",
"switch_step": k, "total_steps": steps}``.

One logical run for the step counters (``sampling_context.continue_run``): both parts' contexts describe the whole
schedule (``ctx.steps = steps``), and the refiner part's model-call counter starts at the base part's call count and
its sampler step at ``k`` (``sampling_step = k − 1``, the base's last callback), as A1111's single run counts — so
prompt editing switches at the same model call and loractl reads the same step as without the split.

Differences from A1111 (documented): the handoff is at a step boundary (A1111 can switch on the second model call
of a second-order step); multistep samplers (DPM++ 2M, …) restart their history at the handoff and SDE samplers
re-seed their Brownian noise over the refiner's σ range (the two-run limit; one-stream samplers are exact).
"""
from __future__ import annotations

import comfy.utils
from comfy_api.latest import io

from ..limits import check_inputs
from ..samplers import refiner_switch_step_by_steps, refiner_switch_step_by_timestep
from . import dropdowns, sampling_context
from .a1111_sampling import full_schedule, sample_a1111, sampler_names, sampling_input_error, scheduler_names
from .hires_fix import PassProgress, mark_pass
from .ksampler_a1111 import noise_inputs, seed_input
from .sampling_context import SECOND_ORDER_FUNCTIONS

SWITCH_BY = ("timestep", "steps")


def refiner_input_error(switch_at=None, switch_by=None, refiner_cfg=None) -> str | None:
    """A message naming the first bad refiner input and how to fix it, or None."""
    if switch_at is not None and not 0.0 < switch_at <= 1.0:
        return (f"switch_at={switch_at}: must be in (0, 1] — the fraction of the run the base model does "
                "(A1111 'Switch at', usually 0.8); 1.0 means no refiner")
    if switch_by is not None and switch_by not in SWITCH_BY:
        return f"switch_by={switch_by!r}: use 'timestep' (A1111 default) or 'steps'"
    if refiner_cfg is not None and not 0.0 <= refiner_cfg <= 100.0:
        return f"refiner_cfg={refiner_cfg}: use 0 (same as cfg) or a CFG scale up to 100"
    return None


def switch_step(model, sigmas, steps, switch_at, switch_by="timestep", sampler_name=""):
    """The step where the refiner takes over (``steps`` = never), by A1111's rule."""
    if switch_by == "steps":
        second_order = f"sample_{sampler_name}" in SECOND_ORDER_FUNCTIONS
        return refiner_switch_step_by_steps(steps, switch_at, second_order)
    table = model.get_model_object("model_sampling").sigmas
    return refiner_switch_step_by_timestep(sigmas, table, switch_at)


def _context_width(model):
    config = getattr(getattr(model, "model", None), "model_config", None)
    return (getattr(config, "unet_config", None) or {}).get("context_dim")


def check_conditioning(model, cond, input_name, model_input):
    """Clear error when ``cond`` was encoded by a CLIP of another width than ``model`` attends to."""
    if not cond:
        raise ValueError(f"Refiner: '{input_name}' is empty; connect a text encode of the prompt for "
                         f"'{model_input}'")
    width = _context_width(model)
    for entry in cond:
        tensor = entry[0] if isinstance(entry, (list, tuple)) and entry else None
        if width and getattr(tensor, "ndim", 0) == 3 and tensor.shape[-1] != width:
            raise ValueError(f"Refiner: '{input_name}' has {tensor.shape[-1]}-wide text embeddings but "
                             f"'{model_input}' expects {width}: encode it with that checkpoint's own CLIP "
                             "(for an SDXL refiner: CLIPTextEncodeSDXLRefiner with the refiner's CLIP)")


def check_same_latent_space(base_model, refiner_model):
    base = type(base_model.get_model_object("latent_format"))
    refiner = type(refiner_model.get_model_object("latent_format"))
    if base is not refiner:
        raise ValueError(f"Refiner: base_model works in the {base.__name__} latent space but refiner_model in "
                         f"{refiner.__name__}; a refiner must share the base's latent space (SDXL base → SDXL "
                         "refiner, SD1.5 → SD1.5 fine-tune)")


def with_aesthetic_score(model, cond, score):
    """SDXL refiner: add ``aesthetic_score`` to entries that lack it (A1111 defaults 6.0 / 2.5)."""
    if type(getattr(model, "model", None)).__name__ != "SDXLRefiner":
        return cond
    return [[t, d if "aesthetic_score" in d else {**d, "aesthetic_score": float(score)}] for t, d in cond]


def refiner_handoff(base_model, base_positive, base_negative, refiner_model, refiner_positive, refiner_negative,
                    latent, *, seed, steps, cfg, sampler_name, scheduler, switch_at=0.8, switch_by="timestep",
                    refiner_cfg=0.0, aesthetic_score=6.0, negative_aesthetic_score=2.5, noise_source="comfy",
                    eta=1.0, s_noise=1.0, ensd=0):
    """Base → refiner on one schedule and one noise stream; returns ``(latent_dict, switch_step)``."""
    error = refiner_input_error(switch_at, switch_by, refiner_cfg)
    error = error or sampling_input_error(steps=steps, sampler_name=sampler_name, scheduler=scheduler, cfg=cfg)
    if error:
        raise ValueError(f"Refiner: {error}")
    check_same_latent_space(base_model, refiner_model)
    check_conditioning(base_model, base_positive, "base_positive", "base_model")
    check_conditioning(base_model, base_negative, "base_negative", "base_model")
    check_conditioning(refiner_model, refiner_positive, "refiner_positive", "refiner_model")
    check_conditioning(refiner_model, refiner_negative, "refiner_negative", "refiner_model")
    refiner_positive = with_aesthetic_score(refiner_model, refiner_positive, aesthetic_score)
    refiner_negative = with_aesthetic_score(refiner_model, refiner_negative, negative_aesthetic_score)

    sigmas = full_schedule(base_model, scheduler, steps, sampler_name)
    k = switch_step(base_model, sigmas, steps, switch_at, switch_by, sampler_name)
    tag = dict(switch_step=k, total_steps=steps)
    common = dict(seed=seed, steps=steps, sampler_name=sampler_name, scheduler=scheduler, sigmas=sigmas, eta=eta,
                  s_noise=s_noise, noise_source=noise_source, ensd=ensd,
                  disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED)
    progress = PassProgress(steps, base_model)
    refiner = mark_pass(refiner_model.clone(), "refiner", **tag)
    if k == 0:  # the refiner does the whole run
        out, _ = sample_a1111(refiner, refiner_positive, refiner_negative, latent, cfg=refiner_cfg or cfg,
                              callback=progress.callback(refiner_model), **common)
        return out, k
    base = mark_pass(base_model.clone(), "base", **tag)
    sampling_context.continue_run(base, calls=0, steps=0, sigmas=sigmas)
    out, info = sample_a1111(base, base_positive, base_negative, latent, cfg=cfg, last_step=k,
                             force_full_denoise=k >= steps, callback=progress.callback(), **common)
    if k >= steps:
        return out, k
    sampling_context.continue_run(refiner, calls=info.model_calls, steps=k, sigmas=sigmas)
    out, _ = sample_a1111(refiner, refiner_positive, refiner_negative, out, cfg=refiner_cfg or cfg, start_step=k,
                          add_noise=False, noise_sampler=info.noise_sampler,
                          callback=progress.callback(refiner_model), **common)
    return out, k


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
                               tooltip="timestep: A1111's default (nearest model timestep t of σ, (999−t)/1000 ≥ "
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
        limit = check_inputs(aesthetic_score=(aesthetic_score, 0.0, 1000.0),
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
