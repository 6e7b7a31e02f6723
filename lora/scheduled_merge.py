"""Scheduled LoRA merge engine: per-step strengths applied by re-merging from pristine weights, one GEMM per layer.

Rule (notes lora.md §4.6-§4.7, §5.3-§5.4, §7.2): for every affected weight key keep the pristine ``W0`` and the
low-rank factors of all scheduled LoRAs concatenated, ``Up_cat [out, Σr]`` and ``Down_cat [Σr, in]``, with a
per-column scale vector ``e`` (column block of LoRA ``i`` = ``strength_i · blockw_i(key) · alpha_i / r_i``).
When the effective scale vector of a layer changes the live tensor is rewritten **from pristine**:

    W ← W0' + Up_cat · diag(e) · Down_cat        (one ``addmm``; convs through the ``flatten(1)`` view)

where ``W0' = W0 + Σ constant LoRAs`` is computed once in fp32. It is written with ``copy_`` (or ``addmm(out=)``)
into the same storage, never incrementally (``W += Δs·ΔW`` loses small steps to rounding: §5.3), and
:meth:`ScheduledLoraMerge.restore` copies ``W0`` back bit-exactly. Only layers whose vector changed are touched.

Per layer a cost model (:mod:`.cost_model`) picks *merge* or *bypass*; bypass layers (also every quantised/fp8
weight) are never written and instead add ``((x·Down_catᵀ)·e)·Up_catᵀ`` to the layer output at forward time. Both
paths sit behind one interface: :meth:`weight_for` gives the weight to run the layer with, :meth:`forward_delta`
the term to add to its output (``None`` on merge layers).

Adapters: the loader's :class:`.formats.adapter.Adapter` objects (plain ``lora`` kind → factors from
:func:`.delta.lora_factors`; every other kind and DoRA → :func:`.delta.adapter_update`), or any object with the small
protocol ``low_rank() -> (up [out, r], down [r, in…], scale) | None`` and ``dense_delta(W0) -> ΔW`` at strength 1
(:class:`LowRank`, :class:`DenseDelta`). Non-low-rank adapters (LoHa, LoKr, (IA)³, diff, DoRA) are merged through a
dense update precomputed once from the pristine weight. DoRA is linear in strength in the PEFT/ComfyUI form
``W0 + λ·(W_dora − W0)`` with ``W_dora = m·(W0+ΔW)/‖W0+ΔW‖``, so its dense update is ``W_dora − W0`` from pristine.
"""
import torch
import torch.nn.functional as F

from .cost_model import choose_path
from .delta import adapter_update, lora_factors

QUANTISED_DTYPES = tuple(getattr(torch, name) for name in
                         ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "int8", "uint8")
                         if hasattr(torch, name))


class LowRank:
    """Plain LoRA/LoCon factors: ``ΔW = up·down · alpha/rank`` (rank = ``down.shape[0]``, scale 1 without alpha)."""

    def __init__(self, up, down, alpha=None):
        self.up, self.down = up, down
        rank = down.shape[0]
        self.scale = 1.0 if alpha is None else float(alpha) / rank

    def low_rank(self):
        return self.up.flatten(1), self.down.flatten(1), self.scale

    def dense_delta(self, weight):
        delta = self.up.flatten(1).double() @ self.down.flatten(1).double() * self.scale
        return delta.reshape(weight.shape)


class DenseDelta:
    """A precomputed full ΔW (LoHa, LoKr, ``diff``) at strength 1."""

    def __init__(self, delta):
        self.delta = delta

    def low_rank(self):
        return None

    def dense_delta(self, weight):
        if tuple(self.delta.shape) != tuple(weight.shape):
            raise ValueError(f"dense LoRA delta has shape {tuple(self.delta.shape)}, weight {tuple(weight.shape)}")
        return self.delta


def adapter_parts(adapter, weight):
    """``("low_rank", up, down, scale)`` or ``("dense", ΔW)`` for a loader Adapter or a protocol object."""
    if hasattr(adapter, "low_rank"):
        factors = adapter.low_rank()
        if factors is not None:
            return ("low_rank",) + tuple(factors)
        return ("dense", adapter.dense_delta(weight))
    if getattr(adapter, "kind", None) == "lora" and getattr(adapter, "dora_scale", None) is None:
        up, down = lora_factors(adapter, weight.shape, dtype=weight.dtype, device=weight.device)
        return ("low_rank", up, down, 1.0)
    return ("dense", adapter_update(adapter, weight, dtype=weight.dtype))


def _reference_weight(adapter, live):
    """fp64 weight for the factor/update maths; a plain LoRA needs only its shape, so it gets a zero-stride view
    instead of an fp64 copy of the whole weight (that copy dominated the per-run build time)."""
    plain = (not hasattr(adapter, "low_rank") and getattr(adapter, "kind", None) == "lora"
             and getattr(adapter, "dora_scale", None) is None)
    if plain:
        return torch.zeros((), dtype=torch.float64, device=live.device).expand(live.shape)
    return live.detach().to(torch.float64)


class _Layer:
    """State of one weight key (see module docstring)."""

    def __init__(self, key, live):
        self.key, self.live = key, live
        self.shape = tuple(live.shape)
        self.out_features = self.shape[0]
        self.in_features = live.numel() // self.out_features if self.out_features else 0
        self.pristine = None
        self.base = None            # fp32 W0 + constant LoRAs, merge path only
        self.low_rank = []          # (lora, up [out, r], down [r, in], scale·block)
        self.dense = []             # (lora, ΔW fp32 [out, in], block)
        self.up_cat = self.down_cat = self.col_base = self.col_owner = None
        self.path = "merge"
        self.applied = None         # effective per-LoRA values last written


class ScheduledLoraMerge:
    """Re-merge-from-pristine engine for scheduled LoRAs over a dict of live weight tensors.

    ``weights``: ``{key: tensor}`` whose storage the model runs with (written in place). ``tokens``: optional
    ``{key: tokens per sample}`` for the cost model; ``batch``, ``steps``, ``changes`` describe the run (see
    :func:`.cost_model.choose_path`); ``quantized_keys`` are forced to bypass. ``force_path`` (``"merge"`` /
    ``"bypass"``) overrides the cost model for non-quantised layers.
    """

    def __init__(self, weights, tokens=None, batch=2, steps=1, changes=None, quantized_keys=(), force_path=None,
                 compute_dtype=torch.float32):
        if force_path not in (None, "merge", "bypass"):
            raise ValueError(f"force_path must be None, 'merge' or 'bypass', got {force_path!r}")
        self.weights = dict(weights)
        self.tokens = dict(tokens or {})
        self.batch, self.steps, self.changes = batch, steps, changes
        self.quantized_keys = set(quantized_keys)
        self.force_path = force_path
        self.compute_dtype = compute_dtype
        self.strengths = {}
        self.scheduled = {}
        self._loras = []            # (name, adapters, block)
        self.layers = {}
        self.built = False
        self.gemm_count = 0

    # -- registration ------------------------------------------------------------------------------------------
    def add_lora(self, name, adapters, strength=1.0, scheduled=True, block_multipliers=None):
        """Register LoRA ``name``: ``{key: adapter}``; ``block_multipliers`` is ``{key: ratio}`` or ``key -> ratio``.

        ``scheduled=False`` makes it constant: merged once into the layer base, not changeable by set_scales."""
        if self.built:
            raise ValueError(f"add_lora({name!r}) after the engine was built; register every LoRA first")
        if name in self.strengths:
            raise ValueError(f"LoRA {name!r} is already registered; give each LoRA a unique name")
        unknown = [key for key in adapters if key not in self.weights]
        if unknown:
            raise ValueError(f"LoRA {name!r} patches keys the model does not have: {unknown[:5]}")
        self.strengths[name] = float(strength)
        self.scheduled[name] = bool(scheduled)
        self._loras.append((name, dict(adapters), block_multipliers))

    @staticmethod
    def _block(block_multipliers, key):
        if block_multipliers is None:
            return 1.0
        if callable(block_multipliers):
            return float(block_multipliers(key))
        return float(block_multipliers.get(key, 1.0))

    def _decide_path(self, layer):
        live = layer.live
        if live.dtype in QUANTISED_DTYPES or layer.key in self.quantized_keys:
            return "bypass"
        if not layer.low_rank:
            return "merge"      # a dense-only bypass costs a full extra layer every forward
        if self.force_path is not None:
            return self.force_path
        return choose_path(layer.out_features, layer.in_features, self.tokens.get(layer.key), self.batch,
                           self.steps, self.changes, elem_bytes=live.element_size())

    def build(self):
        """Precompute pristine copies, concatenated factors, constant parts and each layer's path."""
        if self.built:
            return
        cd = self.compute_dtype
        for name, adapters, block_multipliers in self._loras:
            for key, adapter in adapters.items():
                layer = self.layers.get(key)
                if layer is None:
                    layer = self.layers[key] = _Layer(key, self.weights[key])
                block = self._block(block_multipliers, key)
                parts = adapter_parts(adapter, _reference_weight(adapter, layer.live))
                if parts[0] == "low_rank":
                    _, up, down, scale = parts
                    up, down = up.reshape(layer.out_features, -1), down.reshape(down.shape[0], -1)
                    if down.shape[1] != layer.in_features or up.shape[1] != down.shape[0]:
                        raise ValueError(f"LoRA {name!r} on {key!r}: up {tuple(up.shape)} @ down {tuple(down.shape)}"
                                         f" does not fit weight {layer.shape}")
                    layer.low_rank.append((name, up.to(cd), down.to(cd), float(scale) * block))
                else:
                    delta = parts[1]
                    layer.dense.append((name, delta.reshape(layer.out_features, -1).to(cd), block))
        for layer in self.layers.values():
            layer.path = self._decide_path(layer)
            if layer.path == "merge":
                layer.pristine = layer.live.detach().clone()
                constant = [item for item in layer.low_rank + layer.dense if not self.scheduled[item[0]]]
                if constant:
                    base = layer.pristine.reshape(layer.out_features, -1).to(cd).clone()
                    for item in constant:
                        self._accumulate(base, item, self.strengths[item[0]])
                    layer.base = base
                    layer.low_rank = [item for item in layer.low_rank if self.scheduled[item[0]]]
                    layer.dense = [item for item in layer.dense if self.scheduled[item[0]]]
            if layer.low_rank:
                layer.up_cat = torch.cat([up for _, up, _, _ in layer.low_rank], dim=1)
                layer.down_cat = torch.cat([down for _, _, down, _ in layer.low_rank], dim=0)
                layer.col_base = torch.cat([torch.full((up.shape[1],), s, dtype=cd)
                                            for _, up, _, s in layer.low_rank])
                layer.col_owner = torch.cat([torch.full((up.shape[1],), i, dtype=torch.long)
                                             for i, (_, up, _, _) in enumerate(layer.low_rank)])
        self.built = True

    @staticmethod
    def _accumulate(base, item, strength):
        if len(item) == 4:      # low rank
            _, up, down, scale = item
            base.addmm_(up * (scale * strength), down)
        else:
            _, delta, block = item
            base.add_(delta, alpha=block * strength)

    # -- scheduling --------------------------------------------------------------------------------------------
    def _effective(self, layer):
        """Per slot ``strength · (alpha/r · block)``: a LoRA with block weight 0 here never re-merges the layer."""
        return (tuple(self.strengths[item[0]] * item[3] for item in layer.low_rank)
                + tuple(self.strengths[item[0]] * item[2] for item in layer.dense))

    def set_scales(self, scales=None):
        """Set strengths ``{lora: s}`` and re-merge, from pristine, only layers whose effective vector changed.

        Returns the keys that were rewritten. Bypass layers are never written (their scales apply at forward)."""
        self.build()
        for name, value in (scales or {}).items():
            if name not in self.strengths:
                raise ValueError(f"set_scales: unknown LoRA {name!r}; registered: {sorted(self.strengths)}")
            if not self.scheduled[name]:
                raise ValueError(f"set_scales: LoRA {name!r} was added as constant (scheduled=False)")
            self.strengths[name] = float(value)
        changed = []
        for key, layer in self.layers.items():
            effective = self._effective(layer)
            if effective == layer.applied:
                continue
            layer.applied = effective
            if layer.path == "merge":
                self._merge(layer)
                changed.append(key)
        return changed

    def _columns(self, layer):
        strengths = torch.tensor([self.strengths[name] for name, _, _, _ in layer.low_rank],
                                 dtype=self.compute_dtype)
        return layer.col_base * strengths[layer.col_owner]

    def _merge(self, layer):
        cd = self.compute_dtype
        base = layer.base if layer.base is not None else layer.pristine.reshape(layer.out_features, -1)
        live = layer.live
        direct = (not layer.dense and live.dtype == cd and base.dtype == cd and live.is_contiguous())
        if layer.low_rank and direct:
            torch.addmm(base, layer.up_cat * self._columns(layer), layer.down_cat,
                        out=live.detach().view(layer.out_features, -1))
            self.gemm_count += 1
            return
        acc = base.to(cd, copy=True)
        for item in layer.dense:
            acc.add_(item[1], alpha=item[2] * self.strengths[item[0]])
        if layer.low_rank:
            acc.addmm_(layer.up_cat * self._columns(layer), layer.down_cat)
            self.gemm_count += 1
        live.detach().copy_(acc.reshape(layer.shape))

    def restore(self):
        """Put every merged weight back to its pristine bits; the next set_scales re-merges everything."""
        for layer in self.layers.values():
            if layer.pristine is not None:
                layer.live.detach().copy_(layer.pristine)
            layer.applied = None

    # -- the two paths behind one interface --------------------------------------------------------------------
    def path(self, key):
        """``"merge"``, ``"bypass"`` or ``None`` (key untouched by any LoRA)."""
        self.build()
        layer = self.layers.get(key)
        return None if layer is None else layer.path

    def weight_for(self, key):
        """The tensor to run layer ``key`` with (merged on merge layers, untouched on bypass layers)."""
        if key not in self.weights:
            raise ValueError(f"weight_for: unknown key {key!r}")
        return self.weights[key]

    def forward_delta(self, key, x, stride=1, padding=0, dilation=1):
        """Term to add to the output of layer ``key`` for input ``x``; ``None`` on merge layers and untouched keys.

        Linear: ``((x·Downᵀ)·e)·Upᵀ`` (+ ``x·(Σ s·ΔW)ᵀ`` for dense adapters). Conv: ``conv(x, Down)`` with the layer's
        stride/padding/dilation, scaled per channel, then a 1×1 ``conv`` with ``Up``."""
        self.build()
        layer = self.layers.get(key)
        if layer is None or layer.path == "merge":
            return None
        conv = len(layer.shape) > 2
        out = None
        if layer.low_rank:
            down = layer.down_cat.to(x.dtype)
            up = (layer.up_cat * self._columns(layer)).to(x.dtype)
            if conv:
                h = F.conv2d(x, down.reshape((-1,) + layer.shape[1:]), None, stride, padding, dilation)
                out = F.conv2d(h, up[:, :, None, None])
            else:
                out = (x @ down.t()) @ up.t()
        if layer.dense:
            delta = sum(item[1] * (item[2] * self.strengths[item[0]]) for item in layer.dense).to(x.dtype)
            extra = (F.conv2d(x, delta.reshape(layer.shape), None, stride, padding, dilation) if conv
                     else x @ delta.t())
            out = extra if out is None else out + extra
        return out

    def apply(self, key, x, bias=None, stride=1, padding=0, dilation=1):
        """Run layer ``key`` on ``x`` through whichever path it uses (linear or conv2d by weight rank)."""
        weight = self.weight_for(key)
        if weight.dtype in QUANTISED_DTYPES:
            raise ValueError(f"apply({key!r}): quantised weight; run the model's own layer and add forward_delta")
        weight = weight.to(x.dtype)
        if weight.dim() > 2:
            y = F.conv2d(x, weight, bias, stride, padding, dilation)
        else:
            y = F.linear(x, weight, bias)
        delta = self.forward_delta(key, x, stride, padding, dilation)
        return y if delta is None else y + delta
