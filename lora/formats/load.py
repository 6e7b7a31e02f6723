"""Load a LoRA file for one model: safe read → parse → map names to target keys → check shapes → report.

Name lookup: the module name as written, then with PEFT's ``base_model.model.``
stripped, then in modern diffusers form (``.processor.`` dropped, ``to_out`` → ``to_out.0``); the key map from
``keymap.lora_key_map`` answers kohya, LyCORIS, old/new diffusers and PEFT spellings. A ``diff_b`` / ``b_norm``
adapter patches the ``.bias`` next to the mapped ``.weight``. Each match is shape-checked by running the real ΔW
formula on the ``meta`` device, so an adapter that does not fit is reported, never applied. Files are read through
the process-wide LRU of :mod:`..file_cache` (keyed by path, size and mtime), so queued jobs re-use parsed files.
"""
from dataclasses import dataclass, field

import torch

from ..delta import delta_weight, dora_axis
from ..file_cache import shared_cache
from ..keymap import infer_model_family, lora_key_map
from ..report import build_report
from ..safe_load import PICKLE_EXTENSIONS, LoraFileError, load_lora_file
from .diffusers import canonical_diffusers_module
from .parse import detect_format, parse_lora_tensors
from .peft import strip_peft_prefix


@dataclass
class LoadedLora:
    """Matched adapters (``adapter.target`` set), grouped per target key, plus the report and file metadata."""

    adapters: list
    report: object
    metadata: dict
    by_target: dict = field(default_factory=dict)


def module_name_candidates(module):
    """Spellings to try in the key map for a LoRA module name, most literal first."""
    out = [module]
    bare = strip_peft_prefix(module)
    for name in (bare, canonical_diffusers_module(module), canonical_diffusers_module(bare)):
        if name not in out:
            out.append(name)
    return out


def find_target(adapter, key_map):
    """The model key ``adapter`` patches, or ``None``."""
    for name in module_name_candidates(adapter.module):
        target = key_map.get(name)
        if target is None:
            continue
        if adapter.param == "bias":
            return target[: -len(".weight")] + ".bias" if target.endswith(".weight") else None
        return target
    return None


def check_fits(adapter, shape):
    """``None`` if ``adapter`` fits a target of ``shape``, else the reason (checked on the meta device)."""
    shape = tuple(int(d) for d in shape)
    try:
        if adapter.kind == "ia3":
            delta_weight(adapter, weight=torch.empty(shape, device="meta"), device="meta")
        else:
            delta_weight(adapter, shape=shape, device="meta")
        if adapter.dora_scale is not None:
            dora_axis(adapter.dora_scale, shape)
    except (LoraFileError, RuntimeError) as e:
        return f"shape mismatch with target of shape {shape}: {e}"
    return None


def match_adapters(adapters, key_map, target_shapes=None):
    """``(matched_adapters, unmatched)``: set ``adapter.target``; unmatched maps module → reason."""
    matched, unmatched = [], {}
    for a in adapters:
        label = a.module if a.param == "weight" else f"{a.module} (bias)"
        target = find_target(a, key_map)
        if target is None:
            unmatched[label] = "no matching layer in this model"
            continue
        a.target = target
        if target_shapes is not None:
            if target not in target_shapes:
                a.target = None
                unmatched[label] = f"maps to '{target}', which this model does not have"
                continue
            reason = check_fits(a, target_shapes[target])
            if reason:
                a.target = None
                unmatched[label] = reason
                continue
        matched.append(a)
    return matched, unmatched


def load_lora(path, target_shapes, family=None):
    """Load the LoRA at ``path`` for a model whose keys → shapes are ``target_shapes`` (a dict; a plain list of
    keys skips the shape checks). ``family`` (``sd1``/``sd2``/``sdxl``) defaults to one inferred from the keys.
    Returns :class:`LoadedLora`; raises :class:`LoraFileError` for unreadable or invalid files."""
    tensors, metadata = shared_cache().get(path, load_lora_file)   # parsed files kept across jobs (file_cache.py)
    shapes = dict(target_shapes) if isinstance(target_shapes, dict) else None
    keys = list(target_shapes)
    family = family or infer_model_family(keys)
    adapters, unrecognised = parse_lora_tensors(tensors)
    if not adapters:
        raise LoraFileError(f"LoRA file '{path}' has no tensors in a known LoRA format (kohya, diffusers, PEFT, "
                            f"LyCORIS); first keys: {', '.join(list(tensors)[:3])}. It may be a full checkpoint or "
                            "an embedding; load it with the matching node.")
    matched, unmatched = match_adapters(adapters, lora_key_map(keys), shapes)
    unmatched.update(unrecognised)
    report = build_report(path, metadata, adapters, {f"{a.module}:{a.kind}:{a.param}": a.target for a in matched},
                          unmatched, detect_format(adapters), model_family=family,
                          pickle_loaded=str(path).lower().endswith(PICKLE_EXTENSIONS))
    by_target = {}
    for a in matched:
        by_target.setdefault(a.target, []).append(a)
    return LoadedLora(adapters=matched, report=report, metadata=metadata, by_target=by_target)
