"""LCM-LoRA merge strengths (Luo et al. 2023, "LCM-LoRA: A Universal Stable-Diffusion Acceleration Module", eq. for
``θ' = θ + λ1·τ_style + λ2·τ_LCM`` with λ1 = 0.8, λ2 = 1.0). The merge itself is the LoRA loader's constant-strength
patch (``host/weight_adapter.py``: summed in fp32, rounded once)."""

DEFAULT_STYLE_STRENGTH = 0.8
DEFAULT_LCM_STRENGTH = 1.0
