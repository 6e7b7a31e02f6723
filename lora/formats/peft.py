"""PEFT LoRA keys: ``lora_A`` / ``lora_B`` and DoRA's ``lora_magnitude_vector``.

Source: ``huggingface/peft:src/peft/tuners/lora/layer.py`` and ``dora.py``.
``<prefix><path>.lora_A.weight [r, in]`` is the down projection, ``lora_B.weight [out, r]`` the up projection;
an in-memory adapter name may remain (``lora_A.default.weight``). Prefixes: ``unet.``, ``text_encoder.``,
``base_model.model.`` (also ``unet.base_model.model.``) or none. PEFT keeps alpha in the adapter config, not in the
file, so a missing alpha means scale 1 (the same default kijai/ComfyUI-KJNodes#110 describes).
``lora_magnitude_vector [out]`` is DoRA's magnitude on the output axis (PEFT normalises ``W + s·BA`` per output row),
stored here as ``dora_scale [out, 1, …]``.
"""

PEFT_SUFFIXES = {
    ".lora_A.weight": ("lora", "down"),
    ".lora_B.weight": ("lora", "up"),
    ".lora_A.default.weight": ("lora", "down"),
    ".lora_B.default.weight": ("lora", "up"),
    ".lora_magnitude_vector": (None, "magnitude"),
    ".lora_magnitude_vector.weight": (None, "magnitude"),
    ".lora_magnitude_vector.default": (None, "magnitude"),
    ".lora_magnitude_vector.default.weight": (None, "magnitude"),
}

PEFT_NAME_PREFIXES = ("unet.base_model.model.", "base_model.model.")


def strip_peft_prefix(module):
    """Remove PEFT's ``base_model.model.`` wrapper prefix (kept names: ``unet.``/``text_encoder.``/bare paths)."""
    for p in PEFT_NAME_PREFIXES:
        if module.startswith(p):
            return module[len(p):]
    return module
