"""ComfyUI CLIP access for A1111 Prompt Encode: which encoders a CLIP has, and an ``encode_rows`` that runs them the
way ComfyUI's own ``CLIP.encode_from_tokens`` does (``comfy/sd.py``).

What the host's entry point sets, set here too: ``reset_clip_options()``, the hidden layer (CLIP skip),
``load_model()`` (``model_management.load_models_gpu`` with the CLIP patcher, so text-encoder LoRA patches are
applied), and — on hosts whose ``SDClipModel`` has an ``execution_device`` option (ComfyUI >= 0.3.7x, upstream
comfyanonymous/ComfyUI#11095; 0.33.0 ``comfy/sd1_clip.py``) — ``execution_device = clip.patcher.load_device`` inside
``model_management.cuda_device_context``. Without it a dynamic-VRAM CLIP (comfy-aimdo, the 0.33 default on NVIDIA)
starts on the offload device, so the encoder would run on the CPU and skip the lowvram LoRA patches.
"""
from __future__ import annotations

import contextlib

import torch

import comfy.model_management as mm

from ..prompt.conditioning import clip_layers


def clip_family(clip):
    """``("sd1", ("l",))`` or ``("sdxl", ("l", "g"))`` for a ComfyUI CLIP object, else a clear error."""
    model = clip.cond_stage_model
    if hasattr(model, "clip_l") and hasattr(model, "clip_g"):
        return "sdxl", ("l", "g")
    if hasattr(model, "clip_l") and hasattr(clip.tokenizer, "clip_l"):
        return "sd1", ("l",)
    raise ValueError(f"A1111 Prompt Encode supports SD1.x and SDXL text encoders; this CLIP is "
                     f"{type(model).__name__}. Use ComfyUI's CLIPTextEncode for other model families.")


def clip_tokenizer(clip):
    """The CLIP-L Hugging Face tokenizer (A1111 tokenizes with CLIP-L's vocabulary for both SDXL encoders)."""
    return clip.tokenizer.clip_l.tokenizer


def has_execution_device(clip) -> bool:
    """True on hosts whose encoders take an ``execution_device`` clip option (feature test, not a version test)."""
    return hasattr(clip.cond_stage_model.clip_l, "execution_device")


def _device_context(device):
    context = getattr(mm, "cuda_device_context", None)
    return context(device) if context is not None else contextlib.nullcontext()


@contextlib.contextmanager
def prepared_encoders(clip, family, opts):
    """Load ``clip`` as ``encode_from_tokens`` does and yield ``encode_rows(encoder, rows)``; options reset after."""
    model = clip.cond_stage_model
    layers = clip_layers(family, opts)
    model.reset_clip_options()
    clip.load_model()
    device = clip.patcher.load_device
    execution = has_execution_device(clip)
    if execution:
        model.set_clip_options({"execution_device": device})

    def encode_rows(encoder, rows):
        module = getattr(model, f"clip_{encoder}")
        layer = layers.get(encoder)
        if layer is not None:
            module.set_clip_options({"layer": layer})
        try:
            with torch.no_grad():
                z, pooled = module.encode(rows)[:2]
        finally:
            if layer is not None:
                module.reset_clip_options()
                if execution:
                    module.set_clip_options({"execution_device": device})
        mm.throw_exception_if_processing_interrupted()
        out = mm.intermediate_device()
        return z.float().to(out), (pooled.float().to(out) if pooled is not None else None)

    try:
        with _device_context(device):
            yield encode_rows
    finally:
        model.reset_clip_options()


def to_conditioning(clip, entries, lora_tags=(), lora_key="forgeline_lora_tags"):
    """ComfyUI CONDITIONING ``[[z, extra], …]`` from ``prompt.conditioning`` entries (the CLIP's hooks attached, as
    ComfyUI's ``CLIPTextEncode`` does through ``encode_from_tokens_scheduled``)."""
    out = []
    for entry in entries:
        extra = dict(entry.extra, pooled_output=entry.pooled)
        if lora_tags:
            extra[lora_key] = list(lora_tags)
        out.append([entry.z, clip.add_hooks_to_dict(extra)])
    return out
