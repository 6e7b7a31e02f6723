"""Few-shot LoRA training on the sampling schedule (AC-RF technical report v1.1, "Anchor-Coupled Rectified Flow"):
anchor-coupled timesteps, Min-SNR weighting, composite/frequency/style losses, cosine LR, kohya export.

Pure torch; no ComfyUI import. ``host/training.py`` runs it on a ComfyUI model.
"""
from .anchors import (JITTER_ETA, JITTER_MODES, AnchorError, anchor_indices, anchor_set, fraction_to_sigma, jitter,
                      sample_anchor_coordinates, sample_anchor_sigmas, sample_uniform_sigmas, sigma_to_fraction,
                      stratified_indices)
from .losses import (LOSS_MODES, LossWeights, acrf_loss, charbonnier, cosine_loss, fft_l1, frequency_loss, mode_loss,
                     split_frequencies, ssim, standard_loss, style_loss, unified_loss)
from .lora_params import (ATTENTION, FEED_FORWARD, LoraFactor, LoraNetwork, export_kohya, kohya_metadata, kohya_names,
                          select_targets, target_group)
from .loop import LoopResult, clip_gradients, train_loop, train_step
from .lr_schedule import LR_MAX, LR_MIN, cosine_lr
from .weights import SNR_GAMMA, min_snr_weight, snr

__all__ = [
    "ATTENTION", "FEED_FORWARD", "JITTER_ETA", "JITTER_MODES", "LOSS_MODES", "LR_MAX", "LR_MIN", "SNR_GAMMA",
    "AnchorError", "LoopResult", "LoraFactor", "LoraNetwork", "LossWeights", "acrf_loss", "anchor_indices",
    "anchor_set", "charbonnier", "clip_gradients", "cosine_loss", "cosine_lr", "export_kohya", "fft_l1",
    "fraction_to_sigma", "frequency_loss", "jitter", "kohya_metadata", "kohya_names", "min_snr_weight", "mode_loss",
    "sample_anchor_coordinates", "sample_anchor_sigmas", "sample_uniform_sigmas", "select_targets",
    "sigma_to_fraction", "snr", "split_frequencies", "ssim", "standard_loss", "stratified_indices", "style_loss",
    "target_group", "train_loop", "train_step", "unified_loss",
]
