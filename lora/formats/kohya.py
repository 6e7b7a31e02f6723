"""kohya-ss sd-scripts LoRA / LoCon keys (also written by LyCORIS' ``lycoris.kohya`` and the LCM-LoRA script).

Source: ``kohya-ss/sd-scripts:networks/lora.py``. Module names are ``lora_unet_`` /
``lora_te_`` (SD1/SD2) / ``lora_te1_`` + ``lora_te2_`` (SDXL) + the module path with ``.`` → ``_``; LyCORIS'
standalone wrapper uses ``lycoris_``. Per module: ``lora_down.weight [r, in(,kh,kw)]``, ``lora_up.weight
[out, r(,1,1)]``, optional Tucker ``lora_mid.weight [r, r, kh, kw]``, a 0-d ``alpha`` and LyCORIS DoRA
``dora_scale``. Scale = alpha / r.
"""

KOHYA_NAME_PREFIXES = ("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_", "lora_prior_te_", "lycoris_")

# suffix → (kind, role); kind None marks per-module attributes shared by all kinds
KOHYA_SUFFIXES = {
    ".lora_up.weight": ("lora", "up"),
    ".lora_down.weight": ("lora", "down"),
    ".lora_mid.weight": ("lora", "mid"),
    ".alpha": (None, "alpha"),
    ".dora_scale": (None, "dora_scale"),
}


def is_kohya_name(module):
    """True for kohya/LyCORIS underscore-joined module names."""
    return module.startswith(KOHYA_NAME_PREFIXES)
