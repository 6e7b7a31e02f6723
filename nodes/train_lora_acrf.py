"""Train LoRA (AC-RF): few-shot LoRA training on the schedule you sample with.

AC-RF technical report v1.1 ("Anchor-Coupled Rectified Flow"): timesteps drawn at the sampling schedule's own sigmas
(anchors; stratified for batch >= anchors, without replacement below, jitter eta), Min-SNR weight
``clamp(min(SNR, gamma)/SNR, 0.1, 1)``, the composite loss ``Charbonnier + 0.1 (1 - cos) + 0.1 FFT-L1`` or the
frequency / style / unified modes on x0_hat, attention-only LoRA targets, cosine LR to 1e-6, L2 clipping at 1.
The rules live in ``training/`` (core), the ComfyUI side in ``host/training.py``. The LoRA is saved under
``loras/`` in kohya format with ``ss_*`` metadata; the MODEL output has it applied; the base model is not changed.
"""
from __future__ import annotations

import re

import torch
from comfy_api.latest import io

from ..host import training as ht
from ..host.schema_types import declared_inputs_problem
from ..training import LOSS_MODES, LossWeights
from ..training.loss_curve import loss_curve_image


def _f(name, default, lo, hi, step, tip):
    return io.Float.Input(name, default=default, min=lo, max=hi, step=step, round=False, tooltip=tip)


class ForgelineTrainLoraACRF(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        schedulers = ht.scheduler_names()
        return io.Schema(
            node_id="ForgelineTrainLoraACRF",
            display_name="Train LoRA (AC-RF)",
            category="Forgeline/training",
            description="Few-shot LoRA training at the sampling schedule's own noise levels (AC-RF: anchor-coupled "
                        "timesteps, Min-SNR weighting, composite loss). Saves a kohya LoRA into loras/ and outputs "
                        "the model with it applied and the loss curve. The input model is not changed.",
            inputs=[
                io.Model.Input("model", tooltip="The model to train on (SD1.5, SDXL, or a flow model)."),
                io.Conditioning.Input("captions", tooltip="One caption for all images, or one per image in image "
                                                          "order (e.g. joined with Conditioning (Combine))."),
                io.Latent.Input("latents", optional=True, tooltip="Training images as a LATENT batch."),
                io.Image.Input("images", optional=True, tooltip="Or: training images, encoded with the VAE below."),
                io.Vae.Input("vae", optional=True, tooltip="The VAE to encode 'images' with."),
                io.Combo.Input("scheduler", options=schedulers,
                               default="karras" if "karras" in schedulers else schedulers[0],
                               tooltip="Anchor source: the scheduler you will sample with. Ignored when SIGMAS is "
                                       "connected."),
                io.Int.Input("anchor_steps", default=10, min=2, max=1000,
                             tooltip="Sampling steps of that schedule: its sigmas (without the final 0) are the "
                                     "K training anchors."),
                io.Sigmas.Input("sigmas", optional=True, tooltip="Or: the exact SIGMAS you sample with."),
                io.Int.Input("batch_size", default=1, min=1, max=256,
                             tooltip="Images per micro-batch. At or above the anchor count every anchor is used "
                                     "(stratified); below it, distinct anchors are drawn."),
                io.Int.Input("grad_accumulation", default=4, min=1, max=1024,
                             tooltip="Micro-batches per update (effective batch = batch_size x this)."),
                io.Int.Input("steps", default=200, min=1, max=100000, tooltip="Optimizer updates."),
                _f("learning_rate", 1e-4, 1e-7, 1.0, 1e-6, "Peak learning rate; cosine decay to 1e-6 (AdamW)."),
                io.Combo.Input("loss_mode", options=list(LOSS_MODES), default="standard",
                               tooltip="standard: Charbonnier + cosine + FFT on the prediction; frequency: MSE + "
                                       "high-pass L1 + low-pass cosine; style: SSIM + mean/std of the latent "
                                       "channels + texture; unified: mean of frequency and style (all on x0)."),
                _f("lambda_charbonnier", 1.0, 0.0, 10.0, 0.01, "standard: Charbonnier weight (lambda1)."),
                _f("lambda_cosine", 0.1, 0.0, 10.0, 0.01, "standard: 1 - cos weight (lambda2)."),
                _f("lambda_fft", 0.1, 0.0, 10.0, 0.01, "standard: FFT L1 weight (lambda3)."),
                _f("alpha_hf", 1.0, 0.0, 10.0, 0.01, "frequency/unified: high-frequency L1 weight."),
                _f("beta_lf", 0.2, 0.0, 10.0, 0.01, "frequency/unified: low-frequency cosine weight."),
                _f("lambda_struct", 1.0, 0.0, 10.0, 0.01, "style/unified: SSIM structure weight."),
                _f("lambda_light", 0.5, 0.0, 10.0, 0.01, "style/unified: channel-0 mean/std weight."),
                _f("lambda_color", 0.3, 0.0, 10.0, 0.01, "style/unified: channels 1-3 mean/std weight."),
                _f("lambda_tex", 0.5, 0.0, 10.0, 0.01, "style/unified: channel-0 high-pass L1 weight."),
                _f("snr_gamma", 5.0, 0.0, 100.0, 0.1, "Min-SNR gamma (0 turns the weighting off)."),
                _f("jitter_eta", 0.02, 0.0, 0.5, 0.001, "Anchor jitter scale eta (time fraction for SD1.5/SDXL, "
                                                        "sigma for flow models)."),
                io.Combo.Input("jitter", options=list(ht.JITTER_LABELS), default="gaussian (Appendix B)",
                               tooltip="Gaussian jitter clamped to [0.001, 0.999] (the report's code) or uniform "
                                       "+-eta (the report's text)."),
                io.Combo.Input("timestep_sampling", options=list(ht.TIMESTEP_LABELS), default="anchors (AC-RF)",
                               optional=True,
                               tooltip="anchors: train at the sampling schedule's own sigmas (AC-RF). uniform: "
                                       "ComfyUI TrainLoraNode's uniform timesteps, for comparison."),
                io.Int.Input("rank", default=16, min=1, max=1024, tooltip="LoRA rank (network_dim)."),
                _f("alpha", 16.0, 0.0, 1024.0, 0.5, "LoRA alpha (network_alpha); scale = alpha / rank; 0 = rank."),
                io.Combo.Input("targets", options=list(ht.TARGET_CHOICES), default="attention",
                               tooltip="attention: to_q, to_k, to_v, to_out; optionally the feed-forward too. Norms, "
                                       "embedders and the output layer always stay frozen."),
                io.String.Input("layer_filter", default="", tooltip="Optional: comma-separated parts of layer paths "
                                                                    "to train (e.g. 'output_blocks'); empty = all."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF,
                             tooltip="Seed for LoRA init, image order, timesteps and noise."),
                io.String.Input("filename", default="forgeline_acrf_lora",
                                tooltip="File name in loras/ (a number is added when it exists)."),
                io.String.Input("trigger_words", default="", tooltip="Comma-separated trigger words written into "
                                                                     "the file's metadata."),
            ],
            outputs=[io.Model.Output(display_name="model", tooltip="The model with the trained LoRA applied."),
                     io.String.Output(display_name="lora_name", tooltip="The saved file, relative to loras/."),
                     io.Image.Output(display_name="loss_curve", tooltip="Loss per update.")],
            hidden=[io.Hidden.unique_id],
            is_output_node=True,
        )

    @classmethod
    def validate_inputs(cls, **values):
        problem = declared_inputs_problem(cls, values, text_limit=2000, skip=("filename", "layer_filter"))
        if problem is not True:
            return problem
        name, layers = values.get("filename"), values.get("layer_filter")
        if name is not None and not re.fullmatch(r"[\w\-. ]{1,120}", name) or name and name.strip(". ") == "":
            return (f"filename={name[:60]!r} must be a plain file name (letters, digits, '_', '-', '.', at most 120; "
                    "no folders): the LoRA is saved in loras/")
        if layers is not None and not re.fullmatch(r"[\w., ]{0,2000}", layers):
            return (f"layer_filter={layers[:60]!r}: write comma-separated parts of layer paths such as "
                    "'output_blocks, attn2' (letters, digits, '_' and '.')")
        return True

    @classmethod
    def execute(cls, model, captions, scheduler, anchor_steps, batch_size, grad_accumulation, steps, learning_rate,
                loss_mode, lambda_charbonnier, lambda_cosine, lambda_fft, alpha_hf, beta_lf, lambda_struct,
                lambda_light, lambda_color, lambda_tex, snr_gamma, jitter_eta, jitter, rank, alpha, targets,
                layer_filter, seed, filename, trigger_words, latents=None, images=None, vae=None,
                sigmas=None, timestep_sampling="anchors (AC-RF)") -> io.NodeOutput:
        data = ht.training_latents(latents, images, vae)
        anchors = sigmas if sigmas is not None else ht.scheduler_sigmas(model, scheduler, anchor_steps)
        settings = ht.TrainSettings(
            steps=steps, batch_size=batch_size, grad_accumulation=grad_accumulation, lr=learning_rate,
            loss_mode=loss_mode, snr_gamma=snr_gamma, eta=jitter_eta, jitter=ht.JITTER_LABELS.get(jitter, jitter),
            timesteps=ht.TIMESTEP_LABELS.get(timestep_sampling, timestep_sampling),
            rank=rank, alpha=alpha, targets=ht.TARGET_CHOICES[targets], layer_filter=layer_filter, seed=seed,
            weights=LossWeights(charbonnier=lambda_charbonnier, cosine=lambda_cosine, fft=lambda_fft,
                                alpha_hf=alpha_hf, beta_lf=beta_lf, struct=lambda_struct, light=lambda_light,
                                color=lambda_color, tex=lambda_tex))
        words = [w.strip() for w in (trigger_words or "").split(",") if w.strip()]
        node_id = getattr(getattr(cls, "hidden", None), "unique_id", None)
        out, name, result = ht.train_save_apply(model, data, captions, anchors, settings, filename, words, node_id)
        curve = torch.from_numpy(loss_curve_image(result.losses))
        return io.NodeOutput(out, name, curve)


NODES = [ForgelineTrainLoraACRF]
