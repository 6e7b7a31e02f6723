"""Forgeline prompt core: A1111 prompt parsing, prompt editing, AND composition, 75-token chunking, emphasis and
the encoding driver, with A1111's names and return shapes (A1111 ``modules/prompt_parser.py``,
``modules/sd_hijack_clip.py``, ``modules/sd_emphasis.py``, ``modules/textual_inversion/textual_inversion.py``).

Pure Python + torch/numpy; no ComfyUI import. ``tokenize_line`` takes a Hugging Face ``CLIPTokenizer`` (ComfyUI's
``SDTokenizer(...).tokenizer``) and uses ``ftfy`` when installed.
"""
from .attention import BREAK_TEXT, BREAK_WEIGHT, is_break, parse_prompt_attention
from .chunking import (
    ClipSpecialIds, PromptChunk, PromptChunkFix, chunk_tokens, clip_special_ids, empty_chunk, tokenize_line,
    tokenize_segments,
)
from .embedding_lookup import EmbeddingRef, build_embedding_lookup, find_embedding_at_position
from .emphasis import EMPHASIS_MODES, emphasis_parses_brackets, emphasize_chunk
from .encode import encode_chunks
from .multicond import get_multicond_prompt_list, split_weight
from .schedule_grammar import ScheduleSyntaxError, parse_schedule_prompt
from .schedules import (ScheduleNumberError, get_learned_conditioning_prompt_schedules, prompt_schedule,
                        prompt_schedule_warnings, schedule_variant_bound)
from .subprompt_schedules import SubpromptSchedule, build_prompt_schedules
from .text_normalize import a1111_clean_text

__all__ = [
    "BREAK_TEXT", "BREAK_WEIGHT", "ClipSpecialIds", "EMPHASIS_MODES", "EmbeddingRef", "PromptChunk", "PromptChunkFix",
    "ScheduleNumberError", "ScheduleSyntaxError", "SubpromptSchedule", "a1111_clean_text", "build_embedding_lookup", "build_prompt_schedules", "chunk_tokens", "clip_special_ids", "emphasis_parses_brackets",
    "emphasize_chunk", "empty_chunk", "encode_chunks", "find_embedding_at_position", "get_learned_conditioning_prompt_schedules", "get_multicond_prompt_list", "is_break", "parse_prompt_attention",
    "parse_schedule_prompt", "prompt_schedule", "prompt_schedule_warnings", "schedule_variant_bound", "split_weight", "tokenize_line", "tokenize_segments",
]
