"""LyCORIS adapter keys: LoHa, LoKr, (IA)³, full ``diff`` and norm diffs.

Source: ``KohakuBlueleaf/LyCORIS:lycoris/modules/{loha,lokr,ia3,full,norms}.py`` and ComfyUI
``comfy/weight_adapter/{loha,lokr}.py`` / ``comfy/lora.py:load_lora`` for ``diff`` / ``diff_b`` / ``w_norm`` /
``b_norm``. Module naming is kohya's (``lora_unet_``, ``lora_te*_``) or ``lycoris_``; PEFT-wrapped LyCORIS uses
``base_model.model.<path>`` (Comfy-Org/ComfyUI#9753).

- LoHa: ΔW = (w1a·w1b) ⊙ (w2a·w2b), scale alpha / w1b.shape[0]; CP form with ``hada_t1``/``hada_t2``.
- LoKr: ΔW = kron(w1, w2), each factor full or ``a·b`` (``lokr_t2`` CP core), scale alpha / r of the
  decomposed factor, 1 when both are full.
- (IA)³: W' = W·(1 + m·w) per output channel (per input channel with ``on_input``).
- full: ΔW = ``diff`` (weight), ``diff_b`` (bias); ``w_norm`` / ``b_norm`` are the same for norm layers.
GLoRA and OFT/BOFT are recognised so that the report can name them, but are not supported.
"""

LYCORIS_SUFFIXES = {
    ".hada_w1_a": ("loha", "w1a"),
    ".hada_w1_b": ("loha", "w1b"),
    ".hada_w2_a": ("loha", "w2a"),
    ".hada_w2_b": ("loha", "w2b"),
    ".hada_t1": ("loha", "t1"),
    ".hada_t2": ("loha", "t2"),
    ".lokr_w1": ("lokr", "w1"),
    ".lokr_w1_a": ("lokr", "w1a"),
    ".lokr_w1_b": ("lokr", "w1b"),
    ".lokr_w2": ("lokr", "w2"),
    ".lokr_w2_a": ("lokr", "w2a"),
    ".lokr_w2_b": ("lokr", "w2b"),
    ".lokr_t2": ("lokr", "t2"),
    ".on_input": ("ia3", "on_input"),
    ".weight": ("ia3", "w"),
    ".diff": ("diff", "diff"),
    ".diff_b": ("diff", "diff_b"),
    ".w_norm": ("diff", "diff"),
    ".b_norm": ("diff", "diff_b"),
}

UNSUPPORTED_SUFFIXES = {
    ".a1.weight": "GLoRA", ".a2.weight": "GLoRA", ".b1.weight": "GLoRA", ".b2.weight": "GLoRA",
    ".bm.weight": "GLoRA", ".oft_blocks": "OFT/BOFT", ".oft_diag": "OFT", ".rescale": "OFT/BOFT",
    ".set_weight": "set_weight",
}
