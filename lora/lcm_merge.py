"""LCM-LoRA + style LoRA merged once: ``θ' = θ_pre + λ1·τ_style + λ2·τ_LCM``.

Source: LCM-LoRA technical report (Luo et al. 2023) §5.2 ("combination of LCM-LoRA and style LoRA", λ1 = 0.8,
λ2 = 1.0 in its figures; diffusers' recipe ``set_adapters(["lcm", "style"], [1.0, 0.8])``); notes lora.md §5.2.
Like ComfyUI's ``calculate_weight`` the sum is formed in fp32 from the original weight and rounded once to the
weight's dtype. Pure: the input weights are not modified. A task vector ``τ`` is a full ΔW tensor or an adapter
with ``dense_delta(W)`` (see :mod:`.scheduled_merge`); a key missing from one side contributes nothing.
"""
import torch

DEFAULT_STYLE_STRENGTH = 0.8
DEFAULT_LCM_STRENGTH = 1.0


def _delta(tau, weight, key, what):
    if tau is None:
        return None
    delta = tau.dense_delta(weight) if hasattr(tau, "dense_delta") else tau
    if not isinstance(delta, torch.Tensor) or tuple(delta.shape) != tuple(weight.shape):
        shape = tuple(delta.shape) if isinstance(delta, torch.Tensor) else type(delta).__name__
        raise ValueError(f"lcm_merge: {what} delta for {key!r} has shape {shape}, weight has {tuple(weight.shape)}")
    return delta


def lcm_merge_weight(weight, style=None, lcm=None, style_strength=DEFAULT_STYLE_STRENGTH,
                     lcm_strength=DEFAULT_LCM_STRENGTH, key="weight"):
    """One tensor: ``round(θ + λ1·τ_style + λ2·τ_LCM)`` computed in fp32 (fp64 if θ is fp64)."""
    compute = torch.float64 if weight.dtype == torch.float64 else torch.float32
    acc = weight.detach().to(compute, copy=True)
    for tau, strength, what in ((style, style_strength, "style"), (lcm, lcm_strength, "LCM")):
        delta = _delta(tau, weight, key, what)
        if delta is not None:
            acc.add_(delta.to(compute), alpha=float(strength))
    return acc.to(weight.dtype)


def lcm_merge(weights, style=None, lcm=None, style_strength=DEFAULT_STYLE_STRENGTH, lcm_strength=DEFAULT_LCM_STRENGTH):
    """``{key: θ'}`` for every key either task vector touches (``style``/``lcm``: ``{key: ΔW or adapter}``)."""
    style, lcm = style or {}, lcm or {}
    unknown = [key for key in list(style) + list(lcm) if key not in weights]
    if unknown:
        raise ValueError(f"lcm_merge: task vectors name keys the model does not have: {unknown[:5]}")
    return {key: lcm_merge_weight(weights[key], style.get(key), lcm.get(key), style_strength, lcm_strength, key)
            for key in dict.fromkeys(list(lcm) + list(style))}
