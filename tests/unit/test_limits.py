"""The limits in ``limits/`` (one place): numbers, steps, sizes and prompts are refused before any model work, with
a message naming the input and the limit. The bounds come from ComfyUI (KSampler steps <= 10000, MAX_RESOLUTION
16384, EmptyLatentImage batch <= 4096, LoraLoader strength +/-100); the prompt bounds are the pack's own and the
prompts below are the ones issue 12 found running for minutes or producing NaN images.
"""
import math
import random

import pytest

from forgeline import limits
from forgeline.limits import LimitError
from forgeline.lora import block_vector, parse_keyframes
from forgeline.prompt import prompt_schedule, schedule_variant_bound


def test_limits_are_comfyui_bounds():
    # ComfyUI nodes.py: MAX_RESOLUTION = 16384; KSampler steps max 10000; EmptyLatentImage batch_size max 4096.
    assert (limits.MAX_RESOLUTION, limits.MAX_STEPS, limits.MAX_BATCH) == (16384, 10000, 4096)


@pytest.mark.parametrize("value", [10 ** 9, 100000, 10001, 1e9])
def test_steps_above_the_ksampler_maximum_name_the_limit(value):
    with pytest.raises(LimitError, match=r"steps=.*above the limit of 10000"):
        limits.check_steps("steps", value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), "nan", 1e308])
def test_non_finite_or_huge_floats_are_refused(value):
    msg = limits.check_inputs(cfg=(value, 0.0, 100.0))
    assert msg is not True and msg.startswith("cfg=") and ("finite" in msg or "above the limit" in msg)


def test_check_inputs_passes_good_values_and_skips_linked():
    assert limits.check_inputs(steps=(20, 1, 10000), cfg=(7.0, 0.0, 100.0), denoise=(None, 0.0, 1.0)) is True
    assert "whole number" in limits.check_inputs(steps=(2.5, 1, 10000))


def test_huge_latent_is_refused_with_the_pixel_limit():
    with pytest.raises(LimitError, match=r"16384 x 16384 x 4096 .* above the limit of 1073741824"):
        limits.check_latent_size(16384, 16384, 4096)
    assert limits.check_latent_size(512, 512, 4) == (512, 512, 4)
    assert "width=" in limits.latent_size_problem(width=10 ** 7)


@pytest.mark.parametrize("prompt, needle", [
    ("a BREAK " * 2000, "2001 BREAK keywords|2000 BREAK keywords"),
    ("a AND " * 300, "301 AND sub-prompts"),
    ("x" * 200_000, "200000 characters"),
    ("(" * 5000 + "x", "emphasis weight"),                   # 1.1 ** 5000 = inf
    ("(x:" + "9" * 40 + ")", "emphasis weight"),           # 1e40
    ("cat AND dog:" + "9" * 400, "AND weight inf"),
    ("<lora:x:nan>", r"te weight 'nan' is not a finite"),
    ("<lora:x:1:inf>", r"unet weight 'inf' is not a finite"),
    ("<lora:x:0@0,1e309@1>", "not a finite"),
    ("<hypernet:h:nan>", "not a finite"),
    ("<lora:x:1> " * 65, "65 extra-network tags"),
    ("[a|b|c|d|e|f|g][h|i|j|k|l|m|n|o|p|q|r][s|t|u|v]", "up to 308 different texts"),  # lcm(7, 11, 4) = 308
])
def test_bad_prompts_are_refused_naming_the_input(prompt, needle):
    msg = limits.prompt_problem(prompt, "text", steps=1000)
    assert msg is not True and msg.startswith("text: ")
    import re
    assert re.search(needle, msg), msg


@pytest.mark.parametrize("prompt", [
    "masterpiece, (cat:1.2), [dog:wolf:0.5] BREAK sky AND sea:0.8 <lora:style:0.7:te=0.5>",
    "((((((((((a))))))))))",                          # 1.1 ** 10 = 2.59
    "[a|b] [c|d|e]",
    "(x:1e30)",                                      # A1111's weight regex has no exponent: this is plain text
    "<lora:x:abc> a bad tag is skipped, not refused",
])
def test_ordinary_prompts_pass(prompt):
    assert limits.prompt_problem(prompt, "text", steps=30, hires_steps=15) is True


def test_negative_prompt_does_not_split_and_or_tags():
    assert limits.prompt_problem("a AND " * 300, negative=True) is True


def test_schedule_variant_bound_is_never_below_the_real_count():
    rng = random.Random(12)
    pieces = ["a", "b ", "[x|y]", "[x|y|z]", "[p:q:3]", "[p:q:0.5]", "[r:7]", "(w:1.1)", ":", "|", "]"]
    for _ in range(400):
        prompt = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
        steps = rng.randint(1, 40)
        try:
            texts = {t for _, t in prompt_schedule(prompt, steps)}
        except ValueError:
            continue
        assert schedule_variant_bound(prompt, steps) >= len(texts), prompt


def test_prompt_schedule_of_many_alternations_renders_each_state_once():
    # A1111 get_learned_conditioning_prompt_schedules: [a|b] alternates every step, so 10000 steps give 10000
    # entries but only two texts; step 1 shows option 0, step 2 option 1.
    schedule = prompt_schedule("[a|b]" * 3000, 10000)
    assert len(schedule) == 10000
    assert schedule[0] == [1, "a" * 3000] and schedule[1] == [2, "b" * 3000] and schedule[-1] == [10000, "b" * 3000]


@pytest.mark.parametrize("text", ["nan", "0@0,inf@1", "0@nan", "1e309", "0@0,1@1e9", "101"])
def test_loractl_keyframes_must_be_finite_and_bounded(text):
    with pytest.raises(LimitError, match="not a finite number within"):
        parse_keyframes(text)


@pytest.mark.parametrize("spec", ["nan" + ",1" * 16, "1" + ",1" * 15 + ",inf", "1e300" + ",0" * 11])
def test_block_weights_must_be_finite_and_bounded(spec):
    with pytest.raises(LimitError, match="block weights .* not a\\s+finite number"):
        block_vector(spec)


def test_lora_strengths():
    limits.check_lora_strengths("x", 0.8, -1.0)
    with pytest.raises(LimitError, match="LoRA 'x': strength_clip=nan"):
        limits.check_lora_strengths("x", 1.0, math.nan)


def test_chunk_limits_after_tokenization():
    class Chunk:
        multipliers = [1.0] * 77
    limits.check_encode_chunks({"a": [Chunk()] * 64})
    with pytest.raises(LimitError, match="65 chunks of 75 tokens"):
        limits.check_encode_chunks({"a": [Chunk()] * 65})
    with pytest.raises(LimitError, match="2112 chunk encodes"):
        limits.check_encode_chunks({str(i): [Chunk()] * 64 for i in range(33)})

    class Bad:
        multipliers = [1.0, float("inf")]
    with pytest.raises(LimitError, match="token weight of inf"):
        limits.check_encode_chunks({"a": [Bad()]})
