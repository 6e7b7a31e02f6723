"""Forgeline's LoRA update as a ComfyUI weight adapter (``comfy.weight_adapter.base.WeightAdapterBase``).

``ForgelinePatch`` is what ``ModelPatcher.add_patches`` / ``CLIP.add_patches`` receive for constant-strength LoRAs:
per key, ``W' = W + strength · Σ ratio_i · U_i(W)`` with ``U = ΔW`` (alpha/rank applied) or, for DoRA,
``W_dora − W`` with the norm of the updated weight (``lora.adapter_update``).

Host contract (ComfyUI 0.33.0 ``comfy/lora.py`` ``prefetch_prepared_value``, used by ``LowVramPatch.prepare`` on
the dynamic-VRAM and low-VRAM paths): an adapter is rebuilt as ``type(adapter)(adapter.loaded_keys, weights)``
where ``weights`` is ``adapter.weights`` with every tensor moved into a prepared device buffer (tuples and lists
are walked; other values are passed through). So the constructor takes exactly ``(loaded_keys, weights)``, and
``weights`` holds *all* state: a tuple of items ``(ratio, spec, tensors)`` with ``spec`` the adapter's non-tensor
fields and ``tensors`` a tuple of ``(name, tensor)`` pairs. ``from_adapters`` builds one from parsed adapters.

Precision (decided against float64 references, tests/host/test_weight_adapter.py): ComfyUI 0.3.75 hands
``calculate_weight`` an fp32 copy of the weight; 0.33 hands it one in ``lora_compute_dtype`` (fp16 on most GPUs,
``comfy/model_patcher.py`` ``patch_weight_to_device``). Forgeline sums ``W + strength·Σ ratio·U`` in fp32 whatever
it is given and rounds once to the given dtype, so a LoRA merge rounds once on both hosts (ComfyUI's own adapters on
0.33 add an fp16 delta to an fp16 weight: two roundings). The host may round once more to the model's dtype.
"""
from __future__ import annotations

import torch

from ..lora import adapter_update
from ..lora.formats.adapter import Adapter

try:
    from comfy.weight_adapter.base import WeightAdapterBase
except ImportError:  # ComfyUI before weight adapters (< 0.3.3x): calculate_weight then only takes tuples
    WeightAdapterBase = object

_SPEC_FIELDS = ("module", "kind", "alpha", "on_input", "param", "file_format", "target")


def _adapter_weights(adapter, ratio):
    spec = tuple((name, getattr(adapter, name)) for name in _SPEC_FIELDS)
    tensors = tuple(adapter.tensors.items())
    if adapter.dora_scale is not None:
        tensors += (("__dora_scale__", adapter.dora_scale),)
    return (float(ratio), spec, tensors)


def _adapter_from(spec, tensors):
    fields = dict(spec)
    named = dict(tensors)
    dora = named.pop("__dora_scale__", None)
    return Adapter(tensors=named, dora_scale=dora, **fields)


class ForgelinePatch(WeightAdapterBase):
    """One key's LoRA updates; see the module docstring for the constructor contract and the precision rule."""

    name = "forgeline"

    def __init__(self, loaded_keys, weights):
        self.loaded_keys = set(loaded_keys or ())
        self.weights = tuple(weights)

    @classmethod
    def from_adapters(cls, items):
        """A patch from ``[(adapter, ratio), …]`` (``lora.formats`` adapters)."""
        return cls(set(), tuple(_adapter_weights(a, r) for a, r in items))

    @property
    def items(self):
        """``[(Adapter, ratio), …]`` rebuilt from ``weights`` (tensors wherever the host put them)."""
        return [(_adapter_from(spec, tensors), ratio) for ratio, spec, tensors in self.weights]

    def update(self, weight):
        """``Σ ratio_i · U_i(W)`` in fp32 (None when every ratio is 0)."""
        acc = None
        for adapter, ratio in self.items:
            if ratio == 0:
                continue
            u = adapter_update(adapter, weight, dtype=torch.float32) * ratio
            acc = u if acc is None else acc.add_(u)
        return acc

    def calculate_weight(self, weight, key, strength, strength_model, offset, function,
                         intermediate_dtype=torch.float32, original_weight=None):
        if strength == 0:
            return weight
        u = self.update(weight)
        if u is None:
            return weight
        merged = weight.to(torch.float32) + function(strength * u)
        return merged.to(weight.dtype)


def patches_for(by_target, ratios=None, keep=lambda key: True):
    """``{key: ForgelinePatch}`` for the loaded LoRA's ``by_target`` map; ``ratios`` = block weights per key."""
    return {key: ForgelinePatch.from_adapters([(a, 1.0 if ratios is None else ratios.get(key, 1.0)) for a in adapters])
            for key, adapters in by_target.items() if keep(key)}
