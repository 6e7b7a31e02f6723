"""The load report: what a LoRA file is, what it patched, what it left out, and whether it fits the model.

Fields: detected format, matched / unmatched keys, rank histogram, alpha values,
base model from metadata (kohya ``ss_base_model_version`` — ``sd_v1``, ``sd_v2``, ``sd_v2_v``, ``sdxl_base_v1-0``
— and Stability's ``modelspec.architecture`` — ``stable-diffusion-v1``, ``stable-diffusion-xl-v1-base/lora`` …,
kohya-ss/sd-scripts ``train_network.py``, ``library/sai_model_spec.py``), and an architecture inferred from the keys and
shapes themselves:

- the cross-attention context width, read from an ``attn2.to_k`` adapter's input dim: 768 → SD1, 1024 → SD2,
  2048 → SDXL (the UNet ``context_dim`` of each family);
- ``lora_te2_`` / ``text_encoder_2.`` keys → SDXL (only SDXL has a second text encoder);
- a text-encoder width of 1024 → SD2 (OpenCLIP ViT-H), 1280 → SDXL's ViT-bigG.

A warning is raised when metadata or keys name another family than the model's, and when adapters do not fit.
"""
import re
from collections import Counter
from dataclasses import dataclass, field

METADATA_FAMILIES = (
    ("ss_base_model_version", r"^sdxl", "sdxl"), ("ss_base_model_version", r"^sd_v2", "sd2"),
    ("ss_base_model_version", r"^sd_v1", "sd1"),
    ("modelspec.architecture", r"^stable-diffusion-xl", "sdxl"),
    ("modelspec.architecture", r"^stable-diffusion-v2", "sd2"),
    ("modelspec.architecture", r"^stable-diffusion-v1", "sd1"),
)
CONTEXT_DIM_FAMILY = {768: "sd1", 1024: "sd2", 2048: "sdxl"}
FAMILY_NAMES = {"sd1": "SD1.x", "sd2": "SD2.x", "sdxl": "SDXL"}


@dataclass
class LoraReport:
    """Everything known about one LoRA load; ``warnings`` are user-facing sentences."""

    path: str
    formats: list
    matched: dict = field(default_factory=dict)      # LoRA module (+kind) → target key
    unmatched: dict = field(default_factory=dict)    # LoRA key or module → reason
    ranks: dict = field(default_factory=dict)        # rank → count
    alphas: dict = field(default_factory=dict)       # alpha → count (None = missing → scale 1)
    kinds: dict = field(default_factory=dict)        # adapter kind → count
    base_model: str = None                           # from metadata, e.g. "sdxl_base_v1-0"
    metadata_family: str = None                      # sd1 / sd2 / sdxl from metadata
    key_family: str = None                           # sd1 / sd2 / sdxl inferred from keys and shapes
    model_family: str = None                         # the target model's family
    pickle_loaded: bool = False
    warnings: list = field(default_factory=list)

    def summary(self):
        """One-paragraph human-readable summary."""
        return (f"{self.path}: format {'+'.join(self.formats) or 'unknown'}, {len(self.matched)} patched, "
                f"{len(self.unmatched)} not loaded, ranks {dict(sorted(self.ranks.items()))}, "
                f"base model {self.base_model or 'unknown'}" + "".join(f"\nWARNING: {w}" for w in self.warnings))


def family_from_metadata(metadata):
    """``(base_model_string, family)`` from kohya / modelspec metadata; ``(None, None)`` when absent."""
    metadata = metadata or {}
    for key, pattern, family in METADATA_FAMILIES:
        value = metadata.get(key)
        if isinstance(value, str) and re.match(pattern, value):
            return value, family
    value = metadata.get("ss_base_model_version") or metadata.get("modelspec.architecture")
    return value, None


def _input_width(adapter):
    """Input width of a linear adapter (LoRA ``down``, LoHa ``w1b``, diff), or ``None``."""
    t = adapter.tensors
    src = t.get("down") if adapter.kind == "lora" else t.get("w1b") if adapter.kind == "loha" else t.get("diff")
    if src is None or src.dim() != 2 or (adapter.kind == "diff" and adapter.param != "weight"):
        return None
    return int(src.shape[1])


def family_from_adapters(adapters):
    """Family implied by the LoRA's own keys and shapes (see module docstring); ``None`` if undecidable."""
    votes = Counter()
    for a in adapters:
        name = a.module
        if name.startswith(("lora_te2_", "text_encoder_2.")):
            votes["sdxl"] += 1
        width = _input_width(a)
        if width and re.search(r"attn2[._](processor[._])?to_k$", name):
            fam = CONTEXT_DIM_FAMILY.get(width)
            if fam:
                votes[fam] += 1
        if width and re.search(r"(self_attn|mlp)[._](q_proj|fc1)$", name):
            if width == 1024:
                votes["sd2"] += 1
            elif width == 1280:
                votes["sdxl"] += 1
    return votes.most_common(1)[0][0] if votes else None


def build_report(path, metadata, adapters, matched, unmatched, formats, model_family=None, pickle_loaded=False):
    """Assemble a :class:`LoraReport` and its warnings from a parsed and matched LoRA."""
    base, meta_family = family_from_metadata(metadata)
    key_family = family_from_adapters(adapters)
    rep = LoraReport(path=str(path), formats=list(formats), matched=dict(matched), unmatched=dict(unmatched),
                     ranks=dict(Counter(a.rank for a in adapters if a.rank is not None)),
                     alphas=dict(Counter(a.alpha for a in adapters if a.kind in ("lora", "loha", "lokr"))),
                     kinds=dict(Counter(a.kind for a in adapters)), base_model=base,
                     metadata_family=meta_family, key_family=key_family, model_family=model_family,
                     pickle_loaded=pickle_loaded)
    if model_family:
        for source, fam in (("metadata", meta_family), ("keys and shapes", key_family)):
            if fam and fam != model_family:
                rep.warnings.append(f"this LoRA targets {FAMILY_NAMES.get(fam, fam)} (from its {source}) but the "
                                    f"model is {FAMILY_NAMES.get(model_family, model_family)}; its effect will be "
                                    "wrong or partial. Use a LoRA made for this model.")
                break
    shape_bad = sum(1 for r in unmatched.values() if "shape" in r)
    if shape_bad:
        rep.warnings.append(f"{shape_bad} LoRA module(s) have shapes that do not fit the model (made for another "
                            "architecture?); they were skipped.")
    if adapters and not matched:
        rep.warnings.append("no LoRA module matched this model: nothing will change. Check that the LoRA is for "
                            "this model family.")
    elif unmatched:
        rep.warnings.append(f"{len(unmatched)} LoRA key(s)/module(s) were not loaded (see report.unmatched).")
    if pickle_loaded:
        rep.warnings.append("loaded from a pickle file with torch.load(weights_only=True); prefer .safetensors.")
    return rep
