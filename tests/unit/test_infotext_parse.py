"""infotext.parse against A1111 1.10.1 ``modules/infotext_utils.py: parse_generation_parameters``.

Expected values are worked out by hand from A1111's code (the line/negative rules, ``re_param_code``, ``unquote``,
the image-size split and the defaults block); the function each case exercises is named in its comment.
"""
from forgeline.infotext.parse import parse_generation_parameters as parse
from forgeline.infotext.parse import parse_name_hashes, parse_version

# Every key parse_generation_parameters fills in when absent (the defaults block of infotext_utils.py).
DEFAULTS = {
    "Clip skip": "1", "Hires resize-1": 0, "Hires resize-2": 0, "Hires sampler": "Use same sampler",
    "Hires schedule type": "Use same scheduler", "Hires checkpoint": "Use same checkpoint", "Hires prompt": "",
    "Hires negative prompt": "", "Mask mode": "Inpaint masked", "Masked content": "original",
    "Inpaint area": "Whole picture", "Masked area padding": 32, "RNG": "GPU", "Schedule type": "Automatic",
    "Schedule max sigma": 0, "Schedule min sigma": 0, "Schedule rho": 0, "VAE Encoder": "Full",
    "VAE Decoder": "Full", "FP8 weight": "Disable", "Refiner switch by sampling steps": False,
}


def test_basic_infotext_all_strings_and_defaults():
    # parse_generation_parameters: values stay strings, Size splits into Size-1/Size-2, defaults added.
    text = ("a cat\nNegative prompt: ugly\n"
            "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 965400086, Size: 512x768, Model hash: 45dee52b")
    expected = {"Steps": "20", "Sampler": "Euler a", "CFG scale": "7", "Seed": "965400086", "Size-1": "512",
                "Size-2": "768", "Model hash": "45dee52b", "Prompt": "a cat", "Negative prompt": "ugly",
                **DEFAULTS}
    assert parse(text) == expected


def test_last_line_needs_three_pairs():
    # parse_generation_parameters: len(re_param.findall(lastline)) < 3 -> the line is prompt text.
    res = parse("a cat\nSteps: 20, Sampler: Euler a")
    assert res["Prompt"] == "a cat\nSteps: 20, Sampler: Euler a"
    assert "Steps" not in res and res["Negative prompt"] == ""


def test_multiline_prompt_and_negative_lines_are_stripped():
    # Each line strip()-ed; lines after "Negative prompt:" join the negative with "\n".
    text = "  line one  \n\nline two\nNegative prompt:   bad  \n more bad \nSteps: 5, Sampler: Euler, Seed: 1"
    res = parse(text)
    assert res["Prompt"] == "line one\n\nline two"
    assert res["Negative prompt"] == "bad\nmore bad"


def test_negative_prompt_only_at_line_start():
    # line.startswith("Negative prompt:") - in the middle of a line it is prompt text.
    res = parse("x Negative prompt: y\nSteps: 5, Sampler: Euler, Seed: 1")
    assert res["Prompt"] == "x Negative prompt: y" and res["Negative prompt"] == ""


def test_quoted_values_are_json_unquoted():
    # unquote(): json.loads of a "..." value; commas, colons and \n escapes survive.
    text = ('p\nSteps: 20, Sampler: Euler, Seed: 1, Lora hashes: "a: 0123456789ab, b: ba9876543210", '
            'Hires prompt: "line1\\nline2, \\"q\\"", Version: v1.10.1')
    res = parse(text)
    assert res["Lora hashes"] == "a: 0123456789ab, b: ba9876543210"
    assert res["Hires prompt"] == 'line1\nline2, "q"'
    assert res["Version"] == "v1.10.1"


def test_unquoted_json_is_cut_at_the_first_comma():
    # re_param value alternative [^,]* stops at a comma: unquoted JSON (Civitai extension) is truncated.
    res = parse('p\nSteps: 20, Sampler: Euler, Seed: 1, Hashes: {"model": "a", "lora:x": "b"}')
    assert res["Hashes"] == '{"model": "a"'


def test_broken_quote_kept_raw():
    # unquote(): json.loads fails -> the raw quoted text is kept.
    res = parse('p\nSteps: 20, Sampler: Euler, Seed: 1, Xy: "a\\q"')
    assert res["Xy"] == '"a\\q"'


def test_keys_cut_at_dot_and_duplicates_last_wins():
    # \w[\w \-/]+ keys: "Model.name: x" yields key "name"; a repeated key keeps the last value.
    res = parse("p\nSteps: 20, Sampler: Euler, Seed: 1, Model.name: x, Seed: 2")
    assert res["name"] == "x" and res["Seed"] == "2"


def test_empty_value_is_skipped():
    # v[0] on an empty value raises IndexError inside the loop's try: the key is skipped.
    res = parse("p\nSteps: 20, Sampler: Euler, Foo: , Seed: 3")
    assert "Foo" not in res and res["Seed"] == "3"


def test_old_hires_fix_first_pass_size():
    # restore_old_hires_fix_params + processing.old_hires_fix_first_pass_dimensions:
    # 1024x1536, scale = sqrt(512*512/(1024*1536)) = 0.4082; ceil(418.0/64)*64 = 448, ceil(627.1/64)*64 = 640.
    res = parse("p\nSteps: 20, Sampler: Euler, Seed: 1, Size: 1024x1536, First pass size: 0x0")
    assert (res["Size-1"], res["Size-2"]) == (448, 640)
    assert (res["Hires resize-1"], res["Hires resize-2"]) == (1024, 1536)


def test_emphasis_default_only_when_weights_are_used():
    # "Emphasis": "Original" added only if parse_prompt_attention finds a weight != 1.0 (BREAK excluded).
    assert parse("a (cat)\nSteps: 1, Sampler: Euler, Seed: 1")["Emphasis"] == "Original"
    assert "Emphasis" not in parse("a BREAK cat\nSteps: 1, Sampler: Euler, Seed: 1")
    assert parse("a\nSteps: 1, Sampler: Euler, Seed: 1, Emphasis: No norm")["Emphasis"] == "No norm"


def test_hypernet_appended_to_prompt():
    # res["Prompt"] += <hypernet:NAME:STRENGTH>, strength default "1.0".
    res = parse("p\nSteps: 1, Sampler: Euler, Seed: 1, Hypernet: hn")
    assert res["Prompt"] == "p<hypernet:hn:1.0>"


def test_fp8_adds_cache_default():
    # "Cache FP16 weight for LoRA" = False only when FP8 weight != Disable.
    assert parse("p\nSteps: 1, Sampler: Euler, Seed: 1, FP8 weight: Enable")["Cache FP16 weight for LoRA"] is False
    assert "Cache FP16 weight for LoRA" not in parse("p\nSteps: 1, Sampler: Euler, Seed: 1")


def test_backcompat_by_version():
    # infotext_versions.backcompat: < 1.6.0 with "[" -> Old prompt editing timelines; < v1.7.0-225 -> Downcast.
    res = parse("a [b:c:5]\nSteps: 1, Sampler: DDIM, Seed: 1, Version: v1.5.1")
    assert res["Old prompt editing timelines"] is True and res["Pad conds v0"] is True
    assert res["Downcast alphas_cumprod"] is True
    res = parse("a\nSteps: 1, Sampler: Euler, Seed: 1, Refiner: r [abc], Version: 1.7.0")
    assert res["Refiner switch by sampling steps"] is True
    res = parse("a [b]\nSteps: 1, Sampler: Euler, Seed: 1, Version: v1.10.1")
    assert "Old prompt editing timelines" not in res and "Downcast alphas_cumprod" not in res
    # parse_version: Forge strings do not parse -> no back-compat at all.
    assert parse_version("f2.0.1v1.10.1-previous-669-gdfdcbab6") is None
    assert str(parse_version("v1.6.0-2-g4afaaf8a")) == "1.6.0.post2"


def test_legacy_sampler_name_stays_verbatim():
    # parse_generation_parameters does not split "DPM++ 2M Karras"; Schedule type gets its default.
    res = parse("p\nSteps: 1, Sampler: DPM++ 2M Karras, Seed: 1")
    assert res["Sampler"] == "DPM++ 2M Karras" and res["Schedule type"] == "Automatic"


def test_skip_fields():
    assert "Seed" not in parse("p\nSteps: 1, Sampler: Euler, Seed: 1", skip_fields=["Seed"])


def test_name_hashes():
    # lora_script.infotext_pasted: split on "," then on the first ":".
    assert parse_name_hashes("a: 0123, b c: 4567") == {"a": "0123", "b c": "4567"}
