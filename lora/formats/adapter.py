"""The normalised adapter: one weight update for one target tensor, whatever file format it came from.

Kinds and their tensors (names after normalisation; sources per kind below):

- ``lora``: ``up [out, r(,1,1)]``, ``down [r, in(,kh,kw)]``, optional Tucker ``mid [r, r, kh, kw]``;
  rank = ``down.shape[0]``; kohya ``networks/lora.py``, LyCORIS ``locon.py``, diffusers/PEFT ``lora_A/B``.
- ``loha``: ``w1a, w1b, w2a, w2b`` and optional CP cores ``t1, t2``; rank = ``w1b.shape[0]`` (LyCORIS ``loha.py``).
- ``lokr``: ``w1`` or ``w1a, w1b``; ``w2`` or ``w2a, w2b`` (+ optional ``t2``); rank from the decomposed factor,
  ``w2b`` taking precedence as in ComfyUI ``weight_adapter/lokr.py``; no decomposed factor → scale 1.
- ``ia3``: ``w`` (one factor per output channel, or per input channel when ``on_input``); no alpha.
- ``diff``: ``diff`` (full-rank ΔW, or a bias/norm delta); scale 1 (LyCORIS ``full.py``, ComfyUI ``diff``).

Scale is ``alpha / rank`` with ``alpha`` missing → 1.0 (kohya ``networks/lora.py`` lines 69-73). ``dora_scale`` (DoRA
magnitude; PEFT ``lora_magnitude_vector`` is stored here too) turns a lora/loha/lokr into a DoRA update.
"""
from dataclasses import dataclass

import torch

ADAPTER_KINDS = ("lora", "loha", "lokr", "ia3", "diff")


@dataclass
class Adapter:
    """One parsed adapter. ``module`` is the LoRA-side module name, ``target`` the model key it patches."""

    module: str
    kind: str
    tensors: dict
    alpha: float = None
    dora_scale: torch.Tensor = None
    on_input: bool = False
    param: str = "weight"
    file_format: str = "kohya"
    source_keys: tuple = ()
    target: str = None

    @property
    def rank(self):
        """Rank used for ``alpha / rank``; ``None`` when the kind has no rank (ia3, diff, full LoKr)."""
        t = self.tensors
        if self.kind == "lora":
            return int(t["down"].shape[0])
        if self.kind == "loha":
            return int(t["w1b"].shape[0])
        if self.kind == "lokr":
            if "w2b" in t:
                return int(t["w2b"].shape[0])
            if "w1b" in t:
                return int(t["w1b"].shape[0])
        return None

    @property
    def scale(self):
        """``alpha / rank``; 1.0 when alpha is missing or the kind has no rank."""
        r = self.rank
        if self.alpha is None or r is None or self.kind in ("ia3", "diff"):
            return 1.0
        return float(self.alpha) / r

    @property
    def is_dora(self):
        return self.dora_scale is not None
