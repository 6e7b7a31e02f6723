"""Scheduled LoRA strength as a weight function: ``W_run = W + Σ_i s_i(step) · U_i`` computed from the weight the host
hands over, never written back (pure torch; the ComfyUI side is ``host/lora_schedule.py``, which routes the dense
formats here and runs low-rank LoRA/LoCon on the activations with ``lora.batched.BatchedLora`` instead).

Rule: for one weight key with scheduled LoRAs ``i`` (strength ``s_i`` this step, block weight ``b_i``):

    W_run = round( W + Σ_i s_i · b_i · U_i )

with ``U_i`` the strength-1 update of each adapter (LoHa, LoKr, (IA)³, full ``diff``, DoRA as ``W_dora − W``, and
plain LoRA as ``up·down·alpha/r`` when one reaches here; AUTOMATIC1111/stable-diffusion-webui
``extensions-builtin/Lora/network_*.py``, ``lora.delta.adapter_update``) computed once from the first weight seen, the
sum formed in fp32 and rounded once to the weight's dtype. ``W`` is whatever the host computes the layer with (its
own constant patches already applied; under ComfyUI's dynamic VRAM a cast copy of a read-only file-backed tensor), so
nothing the host owns is ever modified (ComfyUI 0.33 ``comfy/ops.py`` ``cast_bias_weight`` applies
``weight_function`` entries to the cast weight on both the classic and the dynamic path).

Cost: one pass over the weight per update when the strengths change, done in place on a scratch copy the host hands
over (``merged(..., owned=True)``; ComfyUI's classic cast path makes a fresh copy for every forward of a module with a
weight function). Where the same tensor comes back (same object, same version counter: the dynamic-VRAM resident
weight) with unchanged strengths, the merged weight is reused at the cost of a lookup.
"""
from __future__ import annotations

import weakref

import torch

from .delta import adapter_update


def _version(tensor):
    """The tensor's in-place version counter; None for inference-mode tensors (ComfyUI loads weights under
    ``torch.inference_mode``), which have none — the host keeps them unchanged within a run, and the cache is
    dropped after every run."""
    try:
        return tensor._version
    except RuntimeError:
        return None


class ScheduledLayer:
    """The scheduled LoRAs of one weight key; ``merged(weight, scales)`` gives the weight to run with."""

    def __init__(self, key, shape):
        self.key, self.shape = key, tuple(shape)
        self.out_features = self.shape[0]
        self.updates = []       # (name, adapter, block)
        self._deltas = None     # strength-1 updates U_i, fp32, [out, -1], from the first weight seen
        self.names = []
        self._cache = None      # (weakref to weight, version, effective, merged)
        self.merges = 0

    def add(self, name, adapter, ratio=1.0):
        """Register ``adapter`` (a ``lora.formats`` Adapter) for LoRA ``name`` with block weight ``ratio``."""
        if name not in self.names:
            self.names.append(name)
        self.updates.append((name, adapter, float(ratio)))
        self._deltas = None

    def move_to(self, device):
        """Move the updates to ``device``; returns the bytes they take (ComfyUI's ``weight_function.move_to``)."""
        if self._deltas is not None:
            self._deltas = [d.to(device) for d in self._deltas]
        return sum(d.numel() * d.element_size() for d in self._deltas or [])

    def effective(self, scales):
        """The per-LoRA strengths this layer sees (a LoRA with block weight 0 here never changes it)."""
        return tuple(float(scales.get(n, 0.0)) for n in self.names)

    def merged(self, weight, scales, owned=False):
        """``round(W + Σ s·U)`` for ``weight`` at ``scales`` ``{lora name: strength}`` (see module docstring).

        ``owned=True``: ``weight`` is a scratch copy the caller made for this call (ComfyUI's classic cast path
        copies the weight whenever a weight function is installed, ``comfy/ops.py`` ``cast_bias_weight``
        ``copy=weight_has_function``); an fp32 contiguous one is then merged in place (the same values, one pass
        and one allocation fewer). Never set it for a weight someone else keeps (a resident VRAM copy)."""
        effective = self.effective(scales)
        version = _version(weight)
        cache = self._cache
        if cache is not None and cache[0]() is weight and cache[1] == version and cache[2] == effective:
            return cache[3]
        if not any(effective):
            out = weight
        else:
            out = self._compute(weight, effective, owned)
            version = _version(weight)          # after an in-place merge: ``weight`` now holds the result
        self._cache = (weakref.ref(weight), version, effective, out)
        return out

    def _compute(self, weight, effective, owned=False):
        w = weight.to(torch.float32)
        if self._deltas is None or self._deltas[0].device != w.device:
            self._deltas = [adapter_update(a, w, dtype=torch.float32).reshape(self.out_features, -1)
                            for _, a, _ in self.updates]        # from W, before any in-place update
        in_place = (owned or w is not weight) and w.is_contiguous()     # a dtype conversion is a fresh tensor too
        acc = w.view(self.out_features, -1) if in_place else w.reshape(self.out_features, -1).clone()
        for (name, _, block), delta in zip(self.updates, self._deltas):
            acc.add_(delta, alpha=block * effective[self.names.index(name)])
        self.merges += 1
        return acc.reshape(self.shape).to(weight.dtype)
