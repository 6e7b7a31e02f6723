"""LoRA file formats and weight math (part A of the LoRA core): safe loading, format parsing, key mapping, ΔW.

Public API (re-exported from ``lora/__init__.py``):

- files: ``load_lora_file``, ``read_safetensors_metadata``, ``resolve_lora_path``, ``check_lora_tensors``,
  ``LoraFileError`` (``safe_load.py``);
- formats: ``Adapter``, ``parse_lora_tensors``, ``split_lora_key``, ``detect_format`` (``formats/``);
- key mapping: ``lora_key_map``, ``unet_lora_key_map``, ``clip_lora_key_map``, ``ldm_to_diffusers_paths``,
  ``infer_model_family``, ``preferred_lora_names`` (``keymap.py``);
- loading for a model: ``load_lora`` → ``LoadedLora(adapters, report, metadata, by_target)``, ``match_adapters``;
- maths: ``delta_weight``, ``raw_delta``, ``adapter_update``, ``merged_weight``, ``dora_weight``, ``dora_axis``,
  ``lora_factors`` (``delta.py``);
- report: ``LoraReport``, ``build_report``, ``family_from_metadata``, ``family_from_adapters`` (``report.py``).
"""
from ..delta import adapter_update, delta_weight, dora_axis, dora_weight, lora_factors, raw_delta
from ..keymap import (clip_lora_key_map, infer_model_family, ldm_to_diffusers_paths, lora_key_map,
                      unet_lora_key_map)
from ..report import LoraReport, build_report, family_from_adapters, family_from_metadata
from ..safe_load import (LORA_EXTENSIONS, LoraFileError, check_lora_tensors, load_lora_file,
                         read_safetensors_metadata, resolve_lora_path)
from .adapter import ADAPTER_KINDS, Adapter
from .load import LoadedLora, check_fits, find_target, load_lora, match_adapters, module_name_candidates
from .parse import detect_format, parse_lora_tensors, split_lora_key

__all__ = [
    "ADAPTER_KINDS", "Adapter", "LORA_EXTENSIONS", "LoadedLora", "LoraFileError", "LoraReport", "adapter_update",
    "build_report", "check_fits", "check_lora_tensors", "clip_lora_key_map", "delta_weight", "detect_format",
    "dora_axis", "dora_weight", "family_from_adapters", "family_from_metadata", "find_target", "infer_model_family",
    "ldm_to_diffusers_paths", "load_lora", "load_lora_file", "lora_factors", "lora_key_map", "match_adapters",
    "module_name_candidates", "parse_lora_tensors", "raw_delta",
    "read_safetensors_metadata", "resolve_lora_path", "split_lora_key", "unet_lora_key_map",
]
