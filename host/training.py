"""ComfyUI side of AC-RF LoRA training: run Forgeline's ``training`` core on a ComfyUI ModelPatcher.

What ComfyUI provides and how it is used (ComfyUI ``comfy/model_base.py``, ``comfy/model_sampling.py``,
``comfy/samplers.py``, ``comfy_extras/nodes_train.py`` read for the facts):

- the model: ``patcher.model`` (``BaseModel``), its ``diffusion_model`` and ``model_sampling``. ``CONST`` model
  sampling (rectified flow) takes the report's formulas as written; every other (discrete eps/v) model gets the
  eps variants (anchors in timestep fraction, SNR = 1/sigma^2), see ``training.anchors`` / ``training.weights``;
- noising and x0: ``model_sampling.noise_scaling(sigma, noise, x0)`` (eps: ``x0 + sigma*noise``; flow:
  ``sigma*noise + (1 - sigma)*x0``) and ``BaseModel.apply_model``, which returns ``calculate_denoised`` = x0_hat;
  the native prediction is recovered as ``(x_t - x0_hat)/sigma`` (eps for eps models, v = noise - x0 for flow), the
  target as ``(x_t - x0)/sigma``;
- latents go through ``process_latent_in`` as ``CFGGuider.sample`` does before sampling;
- conditioning: a CONDITIONING is a list of ``[tensor, dict]``; each entry becomes ComfyUI's internal cond dict
  (``sampler_helpers.convert_cond``) and then ``model_conds`` via ``samplers.encode_model_conds(model.extra_conds,
  ...)`` with the image's own size, so SDXL gets its ``y`` (pooled output + size embedding) exactly as at sampling;
  per batch the conds are processed and concatenated with the COND objects' own ``process_cond`` / ``concat``;
- the LoRA factors are fp32 parameters on the load device, applied as forward hooks on the target layers (the base
  weights are never written and their ``requires_grad`` flags are restored); autocast is not used. Weights that
  are inference tensors (ComfyUI loads checkpoints under ``torch.inference_mode``) are first swapped for equal
  normal tensors (``autograd_ready``) so autograd can save them;
- output: the saved kohya state dict applied to a clone with ``comfy.sd.load_lora_for_models`` (what LoraLoader
  does); the file goes to the first ``loras`` folder of ``folder_paths``;
- progress: ``comfy.utils.ProgressBar`` and, where the host has it, ``PromptServer.send_progress_text`` with the
  running loss; interruption: ``comfy.model_management.throw_exception_if_processing_interrupted``.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field

import torch

from ..training import (ATTENTION, FEED_FORWARD, AnchorError, LossWeights, LoraNetwork, acrf_loss, anchor_set,
                        export_kohya, kohya_metadata, kohya_names, min_snr_weight, sample_anchor_sigmas,
                        sample_uniform_sigmas,
                        select_targets, train_loop)

log = logging.getLogger("forgeline")

JITTER_LABELS = {"gaussian (Appendix B)": "gaussian", "uniform (report text)": "uniform"}
TIMESTEP_LABELS = {"anchors (AC-RF)": "anchors", "uniform (ComfyUI TrainLoraNode)": "uniform"}
TARGET_CHOICES = {"attention": (ATTENTION,), "attention + feed-forward": (ATTENTION, FEED_FORWARD)}


@dataclass
class TrainSettings:
    steps: int = 30
    batch_size: int = 1
    grad_accumulation: int = 1
    lr: float = 1e-4
    loss_mode: str = "standard"
    weights: LossWeights = field(default_factory=LossWeights)
    snr_gamma: float = 5.0
    eta: float = 0.02
    jitter: str = "gaussian"
    timesteps: str = "anchors"        # "uniform": ComfyUI TrainLoraNode's U(0, 1) baseline
    rank: int = 16
    alpha: float = 16.0
    targets: tuple = (ATTENTION,)
    layer_filter: str = ""            # comma-separated substrings of module paths; empty = every target layer
    seed: int = 0


@dataclass
class TrainResult:
    network: LoraNetwork
    state_dict: dict
    metadata: dict
    losses: list
    stopped: str | None
    prediction: str
    anchors: torch.Tensor


# -- model facts -------------------------------------------------------------------------------------------------
def prediction_type(model_sampling):
    """``"flow"`` for ComfyUI ``CONST`` (rectified flow) model sampling, else ``"eps"``."""
    import comfy.model_sampling

    return "flow" if isinstance(model_sampling, comfy.model_sampling.CONST) else "eps"


def sigma_table(model_sampling, prediction):
    """The discrete model's ascending sigma table (eps anchors live in its time fraction); ``None`` for flow."""
    return None if prediction == "flow" else model_sampling.sigmas.detach().double().cpu()


def scheduler_sigmas(patcher, scheduler, steps):
    """The sampling schedule ComfyUI would use: ``comfy.samplers.calculate_sigmas(model_sampling, scheduler, steps)``
    (Forgeline's own schedulers included once registered)."""
    import comfy.samplers

    names = list(getattr(comfy.samplers, "SCHEDULER_NAMES", []))
    if names and scheduler not in names:
        raise AnchorError(f"scheduler {scheduler!r} is not one of {names}")
    return comfy.samplers.calculate_sigmas(patcher.get_model_object("model_sampling"), scheduler, int(steps)).cpu()


def base_model_version(base_model, prediction):
    keys = base_model.diffusion_model.state_dict().keys()
    if any(k.startswith("label_emb.") for k in keys):
        return "sdxl_base_v1-0"
    if prediction == "eps" and any(k.startswith("input_blocks.") for k in keys):
        return "sd_v1"
    return type(base_model).__name__.lower()


# -- data --------------------------------------------------------------------------------------------------------
def encode_images(vae, images):
    """IMAGE [N, H, W, C] -> LATENT samples with ComfyUI's VAE (RGB channels only)."""
    if images is None or images.shape[0] == 0:
        raise ValueError("images: the image batch is empty; connect at least one image")
    return vae.encode(images[:, :, :, :3])


def split_conditioning(conditioning, n):
    """One ``[tensor, dict]`` entry per image: the CONDITIONING's entries in order (one entry = shared by all), an
    entry whose tensor holds ``n`` rows is split per image. Raises naming ``captions``."""
    if not conditioning:
        raise ValueError("captions: the CONDITIONING is empty; connect a text encode")
    entries = []
    for c in conditioning:
        t, extra = c[0], c[1]
        if t is not None and t.shape[0] > 1:
            for i in range(t.shape[0]):
                e = dict(extra)
                if isinstance(e.get("pooled_output"), torch.Tensor) and e["pooled_output"].shape[0] == t.shape[0]:
                    e["pooled_output"] = e["pooled_output"][i:i + 1]
                entries.append([t[i:i + 1], e])
        else:
            entries.append([t, dict(extra)])
    if len(entries) == 1:
        return entries * n
    if len(entries) != n:
        raise ValueError(f"captions: {len(entries)} conditionings for {n} training images; give one caption per "
                         "image (in image order, e.g. with Conditioning (Combine)) or a single caption for all")
    return entries


def prepare_model_conds(base_model, entries, latents, device):
    """Per image: ``{name: COND}`` from ``model.extra_conds`` for a batch of one (``samplers.encode_model_conds``)."""
    import comfy.sampler_helpers
    import comfy.samplers

    out = []
    for i, entry in enumerate(entries):
        lat = latents[i:i + 1]
        conds = comfy.sampler_helpers.convert_cond([[entry[0].clone() if entry[0] is not None else None,
                                                     _clone_tensors(entry[1])]])
        conds = comfy.samplers.encode_model_conds(base_model.extra_conds, conds, lat, device, "positive",
                                                  latent_image=lat)
        mc = conds[0]["model_conds"]
        out.append({k: v.process_cond(batch_size=1, device=device, area=None) for k, v in mc.items()})
    return out


def _clone_tensors(d):
    return {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in d.items()}


def batch_conds(per_image, idx, device):
    """``{name: tensor}`` for the images ``idx``: the COND objects concatenated (padding cross-attn by repeat)."""
    first = per_image[idx[0]]
    out = {}
    for k, c in first.items():
        others = [per_image[i][k] for i in idx[1:]]
        t = c.concat(others) if others else c.cond
        out[k] = t.to(device) if isinstance(t, torch.Tensor) else t
    return out


class IndexStream:
    """Image indices in epochs: a fresh random permutation of the N images each pass, so images repeat evenly."""

    def __init__(self, n, generator):
        self.n, self.gen, self.buf = n, generator, []

    def take(self, b):
        out = []
        while len(out) < b:
            if not self.buf:
                self.buf = torch.randperm(self.n, generator=self.gen).tolist()
            out.append(self.buf.pop(0))
        return out


# -- progress / interrupt ----------------------------------------------------------------------------------------
def check_interrupt():
    import comfy.model_management

    comfy.model_management.throw_exception_if_processing_interrupted()


def progress_reporter(total, node_id=None):
    """``on_progress(step, total, loss, running)``: ComfyUI progress bar, a progress text where the host supports it,
    and a log line every tenth of the run."""
    import comfy.utils

    pbar = comfy.utils.ProgressBar(total)
    server = None
    if node_id is not None:
        try:
            from server import PromptServer

            server = PromptServer.instance if hasattr(PromptServer.instance, "send_progress_text") else None
        except (ImportError, AttributeError):
            server = None
    every = max(1, total // 10)

    def on_progress(step, total_, loss, running):
        pbar.update_absolute(step, total_)
        text = f"AC-RF step {step}/{total_}  loss {loss:.4f}  running {running:.4f}"
        if server is not None:
            try:
                server.send_progress_text(text, node_id)
            except Exception:  # the UI text is a courtesy; training goes on without it
                server_off()
        if step % every == 0 or step == total_:
            log.info("Forgeline: %s", text)

    def server_off():
        nonlocal server
        server = None

    return on_progress


# -- training ----------------------------------------------------------------------------------------------------
def autograd_ready(module):
    """Replace parameters and buffers that are inference tensors by equal normal tensors; returns how many.

    ComfyUI loads models and runs nodes under ``torch.inference_mode()``, and autograd refuses to save inference
    tensors for backward (every layer between a LoRA and the output needs its weight saved). The values are copied
    bit for bit, one tensor at a time (the old one is freed when nothing else holds it), the same way ComfyUI's
    own unpatching swaps ``Parameter`` objects (``comfy.utils.set_attr_param``). ComfyUI's TrainLoraNode avoids
    the problem by passing every weight of the model through a weight adapter instead."""
    n = 0
    with torch.inference_mode(False):
        for m in module.modules():
            for name, p in list(m._parameters.items()):
                if p is not None and p.is_inference():
                    m._parameters[name] = torch.nn.Parameter(p.detach().clone(), requires_grad=False)
                    n += 1
            for name, b in list(m._buffers.items()):
                if b is not None and b.is_inference():
                    m._buffers[name] = b.clone()
                    n += 1
    return n


def _layer_filter(text):
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    return (lambda name: any(p in name for p in parts)) if parts else None


def train_lora(patcher, latents, conditioning, anchor_sigmas, settings, on_progress=None, interrupt=check_interrupt,
               output_name="", trigger_words=(), model_name=""):
    """Train a LoRA on ``patcher`` (not modified) and return a ``TrainResult`` with the kohya state dict + metadata.

    ``latents``: LATENT samples [N, C, H, W] (raw VAE space); ``conditioning``: CONDITIONING (one entry or one per
    image); ``anchor_sigmas``: the sampling schedule (ending in 0)."""
    import comfy.model_management

    s = settings
    if latents is None or latents.shape[0] == 0:
        raise ValueError("latents: the training set is empty; connect at least one latent or image")
    if s.loss_mode not in ("standard", "frequency", "style", "unified"):
        raise ValueError(f"loss_mode {s.loss_mode!r} is not one of standard, frequency, style, unified")
    n = int(latents.shape[0])
    entries = split_conditioning(conditioning, n)
    anchors = anchor_set(anchor_sigmas, "sigmas" if anchor_sigmas is not None else "scheduler")

    comfy.model_management.load_models_gpu([patcher], force_full_load=True)
    base = patcher.model
    device = patcher.load_device
    ms = patcher.get_model_object("model_sampling")
    prediction = prediction_type(ms)
    table = sigma_table(ms, prediction)
    if prediction == "flow" and float(anchors.max()) > 1.0:
        raise AnchorError("sigmas: this is a flow model but the schedule has sigmas above 1; use its own scheduler")
    dm = base.diffusion_model
    targets = select_targets(dm.named_modules(), s.targets, _layer_filter(s.layer_filter))
    if not targets:
        raise ValueError(f"targets: no {'/'.join(s.targets)} layer of this model matches"
                         + (f" the layer filter {s.layer_filter!r}" if s.layer_filter else ""))
    autograd_ready(dm)
    grad_flags = {name: p.requires_grad for name, p in dm.named_parameters()}
    with torch.inference_mode(False), torch.enable_grad():
        gen = torch.Generator().manual_seed(int(s.seed))
        network = LoraNetwork(targets, s.rank, s.alpha, seed=s.seed, device=device)
        x0_all = base.process_latent_in(latents.detach().clone().float().cpu()).float()
        per_image = prepare_model_conds(base, entries, x0_all.to(device), device)
        stream = IndexStream(n, gen)
        t_opts = dict(patcher.model_options.get("transformer_options", {}))

        def micro_loss(step, g):
            idx = stream.take(s.batch_size)
            if s.timesteps == "uniform":
                sigma = sample_uniform_sigmas(s.batch_size, gen, table)
            else:
                sigma, _ = sample_anchor_sigmas(anchors, s.batch_size, s.eta, s.jitter, gen, table)
            noise = torch.randn((s.batch_size,) + tuple(x0_all.shape[1:]), generator=gen)
            x0 = x0_all[idx].to(device)
            sig = sigma.float().to(device)
            xt = ms.noise_scaling(sig, noise.to(device), x0)
            opts = dict(t_opts, sigmas=sig, cond_or_uncond=[0])
            x0_hat = base.apply_model(xt, sig, transformer_options=opts, **batch_conds(per_image, idx, device))
            view = sig.view(-1, *([1] * (xt.dim() - 1)))
            pred, target = (xt - x0_hat) / view, (xt - x0) / view
            w = min_snr_weight(sig.double(), s.snr_gamma, prediction).float()
            return acrf_loss(s.loss_mode, pred, target, x0_hat, x0, w, s.weights)

        dm.requires_grad_(False)
        network.attach()
        try:
            result = train_loop(network, micro_loss, s.steps, s.grad_accumulation, s.lr, on_progress=on_progress,
                                check_interrupt=interrupt)
        finally:
            network.detach()
            for name, p in dm.named_parameters():
                if not p.is_inference():
                    p.requires_grad_(grad_flags.get(name, p.requires_grad))
        network.requires_grad_(False)
    if result.stopped:
        log.warning("Forgeline: %s", result.stopped)
    names = kohya_names(network.names, dm.state_dict().keys())
    sd = export_kohya(network, names)
    h, w = int(latents.shape[-2]) * 8, int(latents.shape[-1]) * 8
    meta = kohya_metadata(
        rank=s.rank, alpha=network.alpha, base_model_version=base_model_version(base, prediction),
        steps=result.steps_done, num_images=n, output_name=output_name, trigger_words=trigger_words,
        model_name=model_name, resolution=f"({w}, {h})",
        acrf={"anchors": [round(float(a), 6) for a in anchors], "prediction": prediction, "loss_mode": s.loss_mode,
              "snr_gamma": s.snr_gamma, "jitter": s.jitter, "eta": s.eta, "batch_size": s.batch_size,
              "grad_accumulation": s.grad_accumulation, "lr": s.lr, "targets": ",".join(s.targets),
              "layer_filter": s.layer_filter, "seed": s.seed, "final_loss": result.losses[-1] if result.losses else "",
              "stopped": result.stopped or ""},
        extra={"ss_learning_rate": s.lr, "ss_lr_scheduler": "cosine", "ss_seed": s.seed,
               "ss_gradient_accumulation_steps": s.grad_accumulation, "ss_min_snr_gamma": s.snr_gamma,
               "ss_optimizer": "torch.optim.AdamW", "ss_max_grad_norm": 1.0})
    return TrainResult(network, sd, meta, result.losses, result.stopped, prediction, anchors)


# -- output ------------------------------------------------------------------------------------------------------
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def lora_save_path(filename):
    """``(full path, name relative to the loras folder)`` for a new file: the name is reduced to letters, digits,
    ``._ -`` (no folders), gets ``.safetensors``, and ``_2``, ``_3``... when taken. Never leaves the loras folder."""
    import folder_paths

    stem = _SAFE_NAME.sub("_", os.path.basename(str(filename or "").replace("\\", "/"))).strip(" .")
    if stem.lower().endswith(".safetensors"):
        stem = stem[: -len(".safetensors")]
    stem = stem or "forgeline_acrf_lora"
    folder = folder_paths.get_folder_paths("loras")[0]
    os.makedirs(folder, exist_ok=True)
    name, k = f"{stem}.safetensors", 1
    while os.path.exists(os.path.join(folder, name)):
        k += 1
        name = f"{stem}_{k}.safetensors"
    return os.path.join(folder, name), name


def save_lora(state_dict, metadata, filename):
    """Write the kohya file under ``loras/``; returns its name relative to that folder."""
    from safetensors.torch import save_file

    path, name = lora_save_path(filename)
    save_file({k: v.contiguous() for k, v in state_dict.items()}, path, metadata=metadata)
    return name


def apply_lora(patcher, state_dict, strength=1.0):
    """A clone of ``patcher`` with the LoRA applied through ComfyUI's own loader (``load_lora_for_models``)."""
    import comfy.sd

    model, _ = comfy.sd.load_lora_for_models(patcher, None, state_dict, strength, 0)
    return model


def scheduler_names():
    """ComfyUI's scheduler dropdown (Forgeline's schedulers included once registered)."""
    import comfy.samplers

    return list(getattr(comfy.samplers, "SCHEDULER_NAMES", None) or comfy.samplers.KSampler.SCHEDULERS)


def training_latents(latent=None, images=None, vae=None):
    """The training set as LATENT samples: ``latent["samples"]``, else ``images`` encoded with ``vae``."""
    if latent is not None:
        samples = latent.get("samples") if isinstance(latent, dict) else None
        if samples is None or samples.shape[0] == 0:
            raise ValueError("latents: the LATENT batch is empty; connect a batch of encoded images")
        return samples
    if images is not None:
        if vae is None:
            raise ValueError("vae: images were given without a VAE to encode them; connect the checkpoint's VAE")
        return encode_images(vae, images)
    raise ValueError("latents: no training data; connect a LATENT batch, or images plus a VAE")


def train_save_apply(patcher, latents, conditioning, anchor_sigmas, settings, filename, trigger_words=(),
                     node_id=None, model_name=""):
    """The node's work: train, save the kohya file under ``loras/``, apply it to a clone.

    Returns ``(model, lora file name, TrainResult)``."""
    result = train_lora(patcher, latents, conditioning, anchor_sigmas, settings,
                        on_progress=progress_reporter(settings.steps, node_id), interrupt=check_interrupt,
                        output_name=os.path.splitext(os.path.basename(str(filename or "")))[0],
                        trigger_words=trigger_words, model_name=model_name)
    name = save_lora(result.state_dict, result.metadata, filename)
    log.info("Forgeline: AC-RF LoRA saved as loras/%s (%d steps, %d layers)", name, len(result.losses),
             len(result.network.names))
    return apply_lora(patcher, result.state_dict), name, result
