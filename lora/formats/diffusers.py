"""diffusers LoRA keys, old attn-processor and current forms.

Source: ``huggingface/diffusers:src/diffusers/utils/state_dict_utils.py``:

- old attn-processor: ``unet.<path>.attn1.processor.to_q_lora.up.weight`` / ``.down.weight`` (``to_out_lora`` for
  ``to_out.0``), text encoder ``text_encoder.<path>.q_proj.lora_linear_layer.up.weight``;
- current: ``unet.<path>.to_q.lora.up.weight`` / ``.lora.down.weight`` (``PEFT_TO_DIFFUSERS`` table);
- prefixes ``unet.``, ``text_encoder.``, ``text_encoder_2.``. Alpha, when present, is ``<module>.alpha``.

ComfyUI 0.3.75 loads the old form but drops ``.lora.up/down`` attention keys (Comfy-Org/ComfyUI#9753).
"""

DIFFUSERS_SUFFIXES = {
    ".lora.up.weight": ("lora", "up"),
    ".lora.down.weight": ("lora", "down"),
    "_lora.up.weight": ("lora", "up"),
    "_lora.down.weight": ("lora", "down"),
    ".lora_linear_layer.up.weight": ("lora", "up"),
    ".lora_linear_layer.down.weight": ("lora", "down"),
}

DIFFUSERS_NAME_PREFIXES = ("unet.", "text_encoder.", "text_encoder_2.")


def canonical_diffusers_module(module):
    """Modern dotted form of a diffusers module name: drops ``.processor`` and maps a trailing ``to_out`` to
    ``to_out.0`` (old attn-processor names), so ``unet.…attn1.processor.to_out`` → ``unet.…attn1.to_out.0``."""
    name = module.replace(".processor.", ".")
    if name.endswith(".to_out"):
        name += ".0"
    return name
