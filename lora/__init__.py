"""Forgeline LoRA core: tag parsing, loractl schedules, block weights, trigger words, scheduled merging, LCM merge.

Pure Python + torch/numpy; no ComfyUI import. Loading/format parsing (part A) lives in ``formats/``, ``keymap``,
``delta``, ``safe_load`` and ``report``.
"""
from .block_weights import (BLOCKID12, BLOCKID17, BLOCKID20, BLOCKID26, INSPIRE_PRESETS, LBW_PRESETS, PRESETS,
                            block_id, block_index, block_multiplier, block_multipliers, block_vector,
                            is_block_weight_spec)
from .formats import (ADAPTER_KINDS, LORA_EXTENSIONS, Adapter, LoadedLora, LoraFileError, LoraReport, adapter_update,
                      build_report, check_fits, check_lora_tensors, clip_lora_key_map, delta_weight, detect_format,
                      dora_axis, dora_weight, family_from_adapters, family_from_metadata, find_target,
                      infer_model_family, ldm_to_diffusers_paths, load_lora, load_lora_file, lora_factors,
                      lora_key_map, match_adapters, module_name_candidates, parse_lora_tensors,
                      raw_delta, read_safetensors_metadata, resolve_lora_path, split_lora_key,
                      unet_lora_key_map)
from .extra_networks import LORA_TAG_TYPES, lora_entries, parse_extra_networks, split_tag_args
from .lcm_merge import DEFAULT_LCM_STRENGTH, DEFAULT_STYLE_STRENGTH
from .loractl import (LoractlStepsError, keyframe_weight, loractl_params, loractl_weights, parse_keyframes,
                      sampler_step_weight, sampler_step_weights)
from .scheduled_delta import ScheduledLayer
from .trigger_words import rank_tag_frequency, trigger_words

__all__ = [
    "BLOCKID12", "BLOCKID17", "BLOCKID20", "BLOCKID26", "INSPIRE_PRESETS", "LBW_PRESETS", "PRESETS",
    "block_id", "block_index", "block_multiplier", "block_multipliers", "block_vector", "is_block_weight_spec",
    "LORA_TAG_TYPES", "lora_entries", "parse_extra_networks", "split_tag_args",
    "DEFAULT_LCM_STRENGTH", "DEFAULT_STYLE_STRENGTH",
    "LoractlStepsError", "keyframe_weight", "loractl_params", "loractl_weights", "parse_keyframes",
    "sampler_step_weight", "sampler_step_weights",
    "ScheduledLayer",
    "rank_tag_frequency", "trigger_words",
    # part A: loading, formats, key mapping, ΔW maths, report
    "ADAPTER_KINDS", "Adapter", "LORA_EXTENSIONS", "LoadedLora", "LoraFileError", "LoraReport", "adapter_update",
    "build_report", "check_fits", "check_lora_tensors", "clip_lora_key_map", "delta_weight", "detect_format",
    "dora_axis", "dora_weight", "family_from_adapters", "family_from_metadata", "find_target", "infer_model_family",
    "ldm_to_diffusers_paths", "load_lora", "load_lora_file", "lora_factors", "lora_key_map", "match_adapters",
    "module_name_candidates", "parse_lora_tensors", "raw_delta",
    "read_safetensors_metadata", "resolve_lora_path", "split_lora_key", "unet_lora_key_map",
]
