"""Forgeline prompt core: A1111 prompt parsing, prompt editing, AND composition, 75-token chunking, emphasis and
the encoding driver, with A1111's names and return shapes (prompt-syntax.md §1–§8).

Pure Python + torch/numpy; no ComfyUI import. ``tokenize_line`` takes a Hugging Face ``CLIPTokenizer`` (ComfyUI's
``SDTokenizer(...).tokenizer``) and uses ``ftfy`` when installed.
"""
from .attention import BREAK_TEXT, BREAK_WEIGHT, is_break, parse_prompt_attention
from .chunking import (
    ClipSpecialIds, PromptChunk, PromptChunkFix, chunk_tokens, clip_special_ids, empty_chunk, tokenize_line,
    tokenize_segments,
)
from .embedding_lookup import EmbeddingRef, build_embedding_lookup, find_embedding_at_position
from .emphasis import EMPHASIS_MODES, apply_emphasis, emphasis_parses_brackets, emphasize_chunk
from .encode import encode_chunks, encode_texts
from .multicond import get_multicond_prompt_list, split_weight
from .schedule_grammar import ScheduleSyntaxError, parse_schedule_prompt
from .schedules import (
    ScheduleNumberError, get_learned_conditioning_prompt_schedules, prompt_schedule, prompt_schedule_warnings,
    schedule_variant_bound, step_to_schedule_index,
)
from .subprompt_schedules import SubpromptSchedule, build_prompt_schedules
from .text_normalize import a1111_clean_text, ftfy_available

__all__ = [
    "BREAK_TEXT", "BREAK_WEIGHT", "ClipSpecialIds", "EMPHASIS_MODES", "EmbeddingRef", "PromptChunk", "PromptChunkFix",
    "ScheduleNumberError", "ScheduleSyntaxError", "SubpromptSchedule", "a1111_clean_text", "apply_emphasis",
    "build_embedding_lookup", "build_prompt_schedules", "chunk_tokens", "clip_special_ids", "emphasis_parses_brackets",
    "emphasize_chunk", "empty_chunk", "encode_chunks", "encode_texts", "find_embedding_at_position", "ftfy_available",
    "get_learned_conditioning_prompt_schedules", "get_multicond_prompt_list", "is_break", "parse_prompt_attention",
    "parse_schedule_prompt", "prompt_schedule", "prompt_schedule_warnings", "schedule_variant_bound", "split_weight", "step_to_schedule_index",
    "tokenize_line", "tokenize_segments",
]
