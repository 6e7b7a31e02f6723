"""`train_step_vs_native`: one AC-RF training update (Forgeline ``host.training.train_lora``, 1 step) vs ComfyUI's
``TrainLoraNode`` (1 step) on the same data, rank and batch, in process on the SD1.5 stand-in.

Same for both: 4 latents of 64x64 images, one caption, rank 8, batch 1, 1 update, fp32 compute and LoRA weights,
AdamW, no gradient checkpointing. Each side is a whole call (LoRA creation, conditioning setup, one forward +
backward + optimizer step). What differs is each method's own design: TrainLoraNode puts a weight adapter on every
weight of the UNet (each forward rebuilds W + up@down per layer) and an MSE loss on uniformly drawn timesteps;
AC-RF trains the attention projections only (forward hooks) with anchor timesteps, Min-SNR weight and the
composite loss. ``extra`` gives the trainable-parameter counts of both. The latents go to TrainLoraNode as a list
of one-image LATENTs (its single-LATENT path fails in ComfyUI 0.3.75: ``multi_res`` is unset).
"""
from __future__ import annotations

from harness import InProcessPair

RANK, BATCH = 8, 1
_state: dict = {}


def _setup():
    import torch
    import comfy.sd
    from forgeline.scripts.comfy_server import MODELS_CACHE

    path = MODELS_CACHE / "checkpoints" / "forgeline_random_sd15_standin.safetensors"
    model, clip, vae, _ = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=True, output_clip=True)
    images = torch.rand(4, 64, 64, 3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        latents = vae.encode(images).detach()
    cond = clip.encode_from_tokens_scheduled(clip.tokenize("a photo of sks"))
    _state.update(model=model, latents=latents, cond=cond)


def _pack():
    import torch
    from forgeline.host import training as ht

    s = _state
    sig = ht.scheduler_sigmas(s["model"], "karras", 10)
    settings = ht.TrainSettings(steps=1, batch_size=BATCH, rank=RANK, alpha=RANK, seed=len(s))
    with torch.inference_mode():
        res = ht.train_lora(s["model"], s["latents"], s["cond"], sig, settings)
    s["pack_params"] = sum(p.numel() for p in res.network.parameters())


def _baseline():
    import torch
    from comfy_extras.nodes_train import TrainLoraNode

    s = _state
    kwargs = dict(
        model=[s["model"]], latents=[{"samples": s["latents"][i:i + 1]} for i in range(4)], positive=[s["cond"]],
        batch_size=[BATCH],
        grad_accumulation_steps=[1], steps=[1], learning_rate=[1e-4], rank=[RANK], optimizer=["AdamW"],
        loss_function=["MSE"], seed=[0], training_dtype=["fp32"], lora_dtype=["fp32"], algorithm=["LoRA"],
        gradient_checkpointing=[False], existing_lora=["[None]"])
    # inputs a newer ComfyUI added (0.33: quantized_backward, checkpoint_depth, offloading, bucket_mode,
    # bypass_mode) at the node's own defaults, as the editor would send them
    added = {i.id: [i.default] for i in TrainLoraNode.define_schema().inputs
             if i.id not in kwargs and getattr(i, "default", None) is not None}
    s["native_defaults"] = sorted(added)
    with torch.inference_mode():
        out = TrainLoraNode.execute(**kwargs, **added)
    result = out.result if hasattr(out, "result") else out
    # 0.3.75 returns (model, lora, loss map, steps), 0.33 (lora, loss map, steps): the dict with LoRA keys
    lora = next(r for r in result if isinstance(r, dict) and any("lora" in str(k) for k in r))
    s["baseline_params"] = _numel(lora)


def _numel(value):
    """Elements of the tensors in TrainLoraNode's LoRA output (a dict of tensors; 0.33 nests lists)."""
    if isinstance(value, dict):
        return sum(_numel(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_numel(v) for v in value)
    return value.numel() if hasattr(value, "numel") else 0


def _extra():
    return {"trainable_params_pack": _state.get("pack_params"), "trainable_params_native": _state.get("baseline_params"),
            "rank": RANK, "batch": BATCH, "image": "64x64 (latent 8x8)",
            "native_inputs_at_default": ", ".join(_state.get("native_defaults") or []) or "none"}


PAIRS = [
    InProcessPair(
        id="train_step_vs_native",
        description="one LoRA training update, AC-RF (attention LoRA) vs ComfyUI TrainLoraNode, SD1.5 stand-in",
        pack=_pack,
        baseline=_baseline,
        setup=_setup,
        runs=5,
        goal=1.10,
        extra=_extra,
        pack_label="Train LoRA (AC-RF), 1 update",
        baseline_label="ComfyUI TrainLoraNode, 1 update",
    ),
]
