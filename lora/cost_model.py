"""Per-layer merge-vs-bypass cost model for scheduled LoRA strength (notes lora.md §4.6-§4.7, §7.2).

For a layer with weight ``d × k`` (``k`` includes ``9·cin`` for 3×3 convs), ``T`` tokens per sample and batch ``B``:

- re-merge from pristine with one ``addmm(W0, B·diag(s), A, out=W)``: ``2·e·d·k`` bytes per change (read W0, write
  W; the factors are tiny) and ``r·d·k`` MACs;
- bypass (``y += (x·Aᵀ·s)·Bᵀ``): ``e·T·B·(k + 2d)`` bytes of activation traffic per forward (re-read x,
  read-modify-write y) and ``T·B·r·(d + k)`` MACs,

with ``e`` the element size (2 for fp16/bf16). Over a run of ``steps`` forwards in which the strength changes
``changes`` times, bypass is chosen when ``steps·bypass ≤ changes·merge``; for a per-step ramp (``changes ==
steps``) this is the notes' rule ``T·B ≤ 2dk/(k + 2d)``. Quantised/fp8 weights always bypass (merging would
requantise), and layers whose token count is unknown merge.
"""


def merge_bytes(out_features, in_features, elem_bytes=2):
    """Bytes moved by one fused re-merge ``W ← W0 + B·diag(s)·A`` (read W0 + write W)."""
    return 2 * elem_bytes * out_features * in_features


def bypass_bytes(out_features, in_features, tokens, batch, elem_bytes=2):
    """Extra activation bytes per forward of the low-rank bypass (re-read x, read-modify-write y)."""
    return elem_bytes * tokens * batch * (in_features + 2 * out_features)


def merge_macs(out_features, in_features, rank):
    """MACs of the ``B·A`` product of one re-merge."""
    return rank * out_features * in_features


def bypass_macs(out_features, in_features, tokens, batch, rank):
    """MACs per forward of ``(x·Aᵀ)·Bᵀ``."""
    return tokens * batch * rank * (out_features + in_features)


def choose_path(out_features, in_features, tokens=None, batch=2, steps=1, changes=None, quantized=False,
                elem_bytes=2):
    """``"merge"`` or ``"bypass"`` for one layer (rule in the module docstring). ``changes`` defaults to ``steps``."""
    if quantized:
        return "bypass"
    if tokens is None:
        return "merge"
    changes = steps if changes is None else changes
    merge_total = changes * merge_bytes(out_features, in_features, elem_bytes)
    bypass_total = steps * bypass_bytes(out_features, in_features, tokens, batch, elem_bytes)
    return "bypass" if bypass_total <= merge_total else "merge"
