"""Every limit Forgeline enforces, in one place, and the checks that apply them before any model work.

The numbers are the pack's own choice where no upstream bound exists; where ComfyUI has one, it is used:

==============================  =========  ==================================================================
limit                           value      why / source
==============================  =========  ==================================================================
MAX_STEPS                       10000      ComfyUI ``nodes.py`` KSampler ``steps`` max
MAX_RESOLUTION                  16384      ComfyUI ``nodes.py`` ``MAX_RESOLUTION``
MAX_BATCH                       4096       ComfyUI ``EmptyLatentImage`` ``batch_size`` max
MAX_LATENT_PIXELS               2**30      width x height x batch of one latent (1 Gpx: 16 images of 8192x8192);
                                           above it torch fails with "can't allocate memory"
MAX_PROMPT_CHARS                20000      one prompt text (about 5000 CLIP tokens, 66 chunks)
MAX_CHUNKS                      64         75-token chunks of one prompt text (A1111 encodes one per chunk)
MAX_BREAKS                      63         ``BREAK`` keywords in one prompt (each starts a chunk)
MAX_AND_PARTS                   32         ``AND`` sub-prompts (one model call each per step)
MAX_SCHEDULE_VARIANTS           256        distinct texts one AND part takes over its steps ([a|b], [a:b:n])
MAX_ENCODE_CHUNKS               2048       chunks one prompt node encodes in total (parts x variants x chunks)
MAX_LORA_TAGS                   64         ``<lora:...>`` tags in one prompt
MAX_STRENGTH                    100        abs LoRA strength / loractl weight / block weight / tag strength
                                           (ComfyUI ``LoraLoader`` strength range)
MAX_SCHEDULE_POSITION           100000     abs loractl keyframe position (fractions <= 1, absolute steps)
MAX_PROMPT_WEIGHT               100        abs effective emphasis weight of a prompt span, and AND ``:w`` weight
MAX_SAFETENSORS_HEADER          100000000  header bytes (the safetensors library's own limit)
MAX_HEADER_DEPTH                64         JSON nesting depth of a safetensors header (a real one has 3)
MAX_LORA_TENSORS                50000      tensors in one LoRA file (an SDXL LoRA has about 2200)
==============================  =========  ==================================================================

Every number must also be finite: NaN and inf are refused wherever a number is read (widgets, schedule text, tags,
block weights, prompt weights). Every error names the input (or the prompt span / file) and says what to write.
"""
from .checks import (LimitError, check_batch_size, choice_problem, check_finite, check_inputs, check_latent_size,
                     check_lora_strengths, check_number, check_steps, latent_size_problem, output_prefix_problem)
from .prompt_limits import check_chunk_count, check_encode_chunks, check_prompt, prompt_problem
from .values import (MAX_AND_PARTS, MAX_BATCH, MAX_BREAKS, MAX_CHUNKS, MAX_ENCODE_CHUNKS, MAX_HEADER_DEPTH,
                     MAX_LATENT_PIXELS, MAX_LORA_TAGS, MAX_LORA_TENSORS, MAX_PROMPT_CHARS, MAX_PROMPT_WEIGHT,
                     MAX_RESOLUTION, MAX_SAFETENSORS_HEADER, MAX_SCHEDULE_POSITION, MAX_SCHEDULE_VARIANTS, MAX_STEPS,
                     MAX_STRENGTH)

__all__ = [
    "LimitError", "check_batch_size", "choice_problem", "check_finite", "check_inputs", "check_latent_size", "check_lora_strengths",
    "check_number", "check_steps", "latent_size_problem", "output_prefix_problem", "check_chunk_count", "check_encode_chunks", "check_prompt", "prompt_problem",
    "MAX_AND_PARTS", "MAX_BATCH", "MAX_BREAKS", "MAX_CHUNKS", "MAX_ENCODE_CHUNKS", "MAX_HEADER_DEPTH",
    "MAX_LATENT_PIXELS", "MAX_LORA_TAGS", "MAX_LORA_TENSORS", "MAX_PROMPT_CHARS", "MAX_PROMPT_WEIGHT",
    "MAX_RESOLUTION", "MAX_SAFETENSORS_HEADER", "MAX_SCHEDULE_POSITION", "MAX_SCHEDULE_VARIANTS", "MAX_STEPS",
    "MAX_STRENGTH",
]
