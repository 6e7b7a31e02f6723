"""Weight updates ΔW of each adapter kind, DoRA re-normalisation, and the from-pristine merge.

Formulas (ComfyUI ``comfy/weight_adapter/*``, kohya ``networks/lora.py``,
LyCORIS ``lycoris/modules/*``). ``s = alpha / rank`` (alpha missing → 1). ΔW is reshaped to the target weight.

- LoRA: ``ΔW = s · up.flatten(1) @ down.flatten(1)``. Conv 1×1 and k×k work unchanged because ``up`` is always
  1×1: kohya's ``conv2d(down.permute(1,0,2,3), up).permute(1,0,2,3)`` equals this reshape (kohya ``merge_to``). Tucker:
  ``ΔW[o,i,h,w] = s · Σ_ab up[o,a] · mid[a,b,h,w] · down[b,i]``.
- LoHa: ``ΔW = s · (w1a @ w1b) ⊙ (w2a @ w2b)``, ``s = alpha / w1b.shape[0]``; CP form
  ``Wk[p,r,h,w] = Σ_ij t_k[i,j,h,w] · wkb[j,r] · wka[i,p]``.
- LoKr: ``ΔW = s · kron(w1, w2)`` with 2-D ``w1`` unsqueezed to 4-D when ``w2`` is 4-D; ``w2`` CP form as LoHa.
- (IA)³: ``ΔW = W · w`` broadcast on the output axis (input axis with ``on_input``), so ``W' = W·(1 + m·w)``.
- diff: ``ΔW = diff``.
- DoRA (magnitude ``m``): ``W_dora = m · (W + ΔW) / ‖W + ΔW‖`` with the norm over every axis except the output
  axis (``m`` shaped ``[out, 1, …]``) or except the input axis (``m`` shaped ``[1, in, …]``) — the norm of the
  *updated* weight, as in LyCORIS ``locon.py`` and PEFT ``dora.py``, not ComfyUI 0.3.75's ``‖W‖`` on the output
  axis (ComfyUI ``comfy/weight_adapter/base.py`` ``weight_decompose``, Comfy-Org/ComfyUI#15458). Strength interpolates
  ``W → W_dora`` (ComfyUI/sd-webui semantics, Comfy-Org/ComfyUI#3298, and PEFT ``dora.py``'s forward taken at strength
  λ, ``(1+λ(c−1))⊙Wx + λ·c⊙ΔWx``): strength 0 leaves W.

``merged_weight`` follows ComfyUI ``comfy/model_patcher.py`` ``patch_weight_to_device``: start from the pristine W every
time, accumulate in fp32 (fp64 in tests), ``W' = W + Σ_i λ_i · U_i(W)`` where ``U_i = ΔW_i`` or ``W_dora,i − W`` (DoRA
terms are taken against the pristine
W, so the result is linear in every λ and independent of order), and round once.
"""
import torch

from .safe_load import LoraFileError


def _f(t, dtype, device):
    return t.to(device=device, dtype=dtype)


def _cp(t, wb, wa):
    """CP/Tucker rebuild ``W[p,r,h,w] = Σ_ij t[i,j,h,w]·wb[j,r]·wa[i,p]`` (LyCORIS ``rebuild_tucker``)."""
    return torch.einsum("ijhw,jr,ip->prhw", t, wb, wa)


def raw_delta(adapter, dtype=torch.float32, device="cpu"):
    """ΔW of ``adapter`` *without* alpha/rank scale and in its natural (unreshaped) shape."""
    t = {k: _f(v, dtype, device) for k, v in adapter.tensors.items()}
    kind = adapter.kind
    if kind == "lora":
        up, down = t["up"], t["down"]
        if "mid" in t:
            mid = t["mid"]
            return torch.einsum("oa,abhw,bi->oihw", up.flatten(1), mid, down.flatten(1))
        return up.flatten(1) @ down.flatten(1)
    if kind == "loha":
        if "t1" in t and "t2" in t:
            return _cp(t["t1"], t["w1b"], t["w1a"]) * _cp(t["t2"], t["w2b"], t["w2a"])
        return (t["w1a"] @ t["w1b"]) * (t["w2a"] @ t["w2b"])
    if kind == "lokr":
        w1 = t["w1"] if "w1" in t else t["w1a"] @ t["w1b"]
        if "w2" in t:
            w2 = t["w2"]
        elif "t2" in t:
            w2 = _cp(t["t2"], t["w2b"], t["w2a"])
        else:
            w2 = t["w2a"] @ t["w2b"]
        if w2.dim() == 4:
            w1 = w1.reshape(*w1.shape, 1, 1)
        return torch.kron(w1, w2)
    if kind == "diff":
        return t["diff"]
    raise LoraFileError(f"Adapter kind '{kind}' of module '{adapter.module}' has no weight-independent delta.")


def _fit(delta, shape, adapter):
    shape = tuple(shape)
    if tuple(delta.shape) == shape:
        return delta
    if delta.numel() != _numel(shape) or (delta.dim() >= 1 and len(shape) >= 1 and delta.shape[0] != shape[0]):
        raise LoraFileError(f"LoRA module '{adapter.module}' ({adapter.kind}) gives an update of shape "
                            f"{tuple(delta.shape)} but the target '{adapter.target}' has shape {shape}; the LoRA was "
                            "made for a different model (e.g. an SDXL LoRA on SD1.5). Use a LoRA for this model.")
    return delta.reshape(shape)


def _numel(shape):
    n = 1
    for d in shape:
        n *= int(d)
    return n


def delta_weight(adapter, weight=None, shape=None, dtype=torch.float32, device=None):
    """ΔW (alpha/rank applied, strength not) shaped like the target; ``weight`` is required for (IA)³.

    Give either the target ``weight`` tensor or its ``shape``. ``device`` defaults to the weight's device.
    """
    if weight is not None:
        shape = tuple(weight.shape)
        device = device if device is not None else weight.device
    if shape is None:
        raise ValueError(f"delta_weight for module '{adapter.module}' needs the target weight or its shape.")
    device = device if device is not None else "cpu"
    if adapter.kind == "ia3":
        if weight is None:
            raise ValueError(f"(IA)³ module '{adapter.module}' scales the base weight; pass the target weight.")
        w = _f(adapter.tensors["w"], dtype, device).reshape(-1)
        axis = 1 if adapter.on_input else 0
        if len(shape) <= axis or w.numel() != shape[axis]:
            raise LoraFileError(f"(IA)³ module '{adapter.module}' has {w.numel()} factors but target "
                                f"'{adapter.target}' has shape {tuple(shape)} (axis {axis}); the LoRA was made for "
                                "a different model.")
        view = [1] * len(shape)
        view[axis] = -1
        return _f(weight, dtype, device) * w.reshape(view)
    return _fit(raw_delta(adapter, dtype, device), shape, adapter) * adapter.scale


def dora_axis(dora_scale, shape):
    """0 (output axis) or 1 (input axis) for a DoRA magnitude against a weight of ``shape``.

    ComfyUI ``weight_decompose``: output axis when ``dora_scale.shape[0] == out``; LyCORIS ``wd_on_out=False``
    stores ``[1, in, 1, 1]``; PEFT magnitudes are ``[out]``.
    """
    out, inp = int(shape[0]), int(shape[1]) if len(shape) > 1 else 1
    n = dora_scale.numel()
    if dora_scale.dim() >= 2 and dora_scale.shape[0] == 1 and dora_scale.shape[1] == inp and n == inp and out != 1:
        return 1
    if n == out and dora_scale.shape[0] == out:
        return 0
    if n == inp:
        return 1
    raise LoraFileError(f"DoRA magnitude of shape {tuple(dora_scale.shape)} fits neither the output ({out}) nor the "
                        f"input ({inp}) axis of a weight of shape {tuple(shape)}; the LoRA does not fit this model.")


def dora_weight(weight, delta, magnitude):
    """``W_dora = m · (W + ΔW) / (‖W + ΔW‖ + eps)`` on the axis :func:`dora_axis` picks (norm of the *updated*
    weight, LyCORIS/PEFT); eps = machine epsilon of the compute dtype, as ComfyUI."""
    wc = weight + delta
    axis = dora_axis(magnitude, wc.shape)
    view = [1] * wc.dim()
    view[axis] = -1
    dims = [d for d in range(wc.dim()) if d != axis]
    norm = wc.pow(2).sum(dim=dims, keepdim=True).sqrt() if dims else wc.abs()
    m = magnitude.to(device=wc.device, dtype=wc.dtype).reshape(view)
    return wc * (m / (norm + torch.finfo(wc.dtype).eps))


def adapter_update(adapter, weight, dtype=torch.float32):
    """``U(W)``, the strength-1 update of ``adapter`` to the pristine ``weight``: ``W' = W + λ·U``.

    Plain adapters: ``U = ΔW``. DoRA: ``U = W_dora − W``. ``weight`` is cast to ``dtype`` for the maths.
    """
    w = weight.to(dtype)
    delta = delta_weight(adapter, weight=w, dtype=dtype)
    if adapter.dora_scale is None:
        return delta
    return dora_weight(w, delta, adapter.dora_scale.to(device=w.device, dtype=dtype)) - w


def lora_factors(adapter, shape, dtype=torch.float32, device="cpu"):
    """``(B, A)`` with ``B @ A == ΔW.flatten(1)`` for a plain (non-DoRA) ``lora`` adapter, scale folded into B and a
    Tucker core folded into A — the factors a fused ``addmm(W0, B·diag(λ), A)`` re-merge needs."""
    if adapter.kind != "lora" or adapter.dora_scale is not None:
        raise ValueError(f"lora_factors: module '{adapter.module}' is {adapter.kind}"
                         f"{' with DoRA' if adapter.dora_scale is not None else ''}, not a plain LoRA.")
    up = _f(adapter.tensors["up"], dtype, device).flatten(1)
    down = _f(adapter.tensors["down"], dtype, device)
    if "mid" in adapter.tensors:
        mid = _f(adapter.tensors["mid"], dtype, device)
        down = torch.einsum("abhw,bi->aihw", mid, down.flatten(1))
    a = down.flatten(1)
    if up.shape[0] * a.shape[1] != _numel(shape) or up.shape[0] != shape[0]:
        raise LoraFileError(f"LoRA module '{adapter.module}' gives [{up.shape[0]}, {a.shape[1]}] but the target has "
                            f"shape {tuple(shape)}; the LoRA was made for a different model.")
    return up * adapter.scale, a
