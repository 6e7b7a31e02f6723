"""Editor prompt diagnostics (nodes/prompt_lint.py, served at /forgeline/parse) vs the pack's A1111 parsers.

Two kinds of reference:
1. Agreement: for a shared case list, the editor reports an *error* exactly when A1111's pipeline (as implemented
   in prompt/ and lora/: extra-network tags → AND split → schedule grammar → attention on every scheduled text)
   rejects the prompt, and the error sits where the parser says (ScheduleSyntaxError.position).
2. Hand-derived spans from A1111's grammar (``modules/prompt_parser.py``, ``modules/extra_networks.py``) for
   highlighting and warnings.
"""
import pytest

from forgeline.lora import parse_extra_networks
from forgeline.prompt.lint import lint_prompt
from forgeline.prompt import ScheduleSyntaxError, is_break, parse_prompt_attention, parse_schedule_prompt, prompt_schedule
from forgeline.prompt.multicond import split_weight

CASES = [
    "a photo of a cat",
    "a (cat:1.2) BREAK [dog] <lora:foo:0.5>",
    "(a:1.2.3)",
    "a (b:.) c",
    "a | b",
    "a \\",
    "x [a:b:0.5] y [c|d] AND z:0.5",
    "[a:b:1e999]",
    "[(a:1.2.3):b:5]",
    "((a) BREAK b",
    "a) ] stray",
    "<lora:x:abc>",
    "<lora::1>",
    "<lora:x:0@0,1@0.5>",
    "\\(escaped\\) (real)",
    "[a:b:0.5]:1.2",
    "(a AND b:1.2)",
    "a [b|c",
]


def parser_rejects(text, steps=20):
    """A1111's pipeline with the pack's parsers: True when any stage raises or disables editing."""
    try:
        stripped, _ = parse_extra_networks(text)
    except ValueError:
        return True
    if any(not e["name"].strip() for es in parse_extra_networks(text)[1].values() for e in es):
        return True
    import re
    for part in re.split(r"\bAND\b", stripped):
        part = split_weight(part)[0]
        try:
            parse_schedule_prompt(part)
            texts = [t for _, t in prompt_schedule(part, steps)]
        except (ScheduleSyntaxError, ValueError):
            return True
        for t in texts:
            try:
                parse_prompt_attention(t)
            except ValueError:
                return True
    return False


@pytest.mark.parametrize("text", CASES)
def test_errors_agree_with_the_python_parsers(text):
    errors = [d for d in lint_prompt(text)["diagnostics"] if d["severity"] == "error"]
    assert bool(errors) == parser_rejects(text), (text, errors)


@pytest.mark.parametrize("text", ["a | b", "a \\", "x [a|b] | c", "[a:b:0.5] y |"])
def test_schedule_error_is_placed_where_the_grammar_fails(text):
    with pytest.raises(ScheduleSyntaxError) as info:
        parse_schedule_prompt(text)
    errors = [d for d in lint_prompt(text)["diagnostics"] if d["severity"] == "error"]
    assert [e["start"] for e in errors] == [info.value.position]


def spans(text, result, kind):
    return [text[t["start"]:t["end"]] for t in result["tokens"] if t["kind"] == kind]


def test_highlight_spans_by_hand():
    text = "x (cat:1.2) [a:b:0.5] BREAK [c|d] \\( <lora:foo:0.5> AND z"
    r = lint_prompt(text)
    assert spans(text, r, "weight") == [":1.2)"]
    assert spans(text, r, "emphasis") == ["("]
    assert spans(text, r, "edit") == ["[", ":", ":", "]", "[", "|", "]"]
    assert spans(text, r, "edit-number") == ["0.5"]
    assert spans(text, r, "break") == ["BREAK"]
    assert spans(text, r, "escape") == ["\\("]
    assert spans(text, r, "lora") == ["<lora:foo:0.5>"]
    assert spans(text, r, "and") == ["AND"]
    assert r["diagnostics"] == []


def test_weight_error_marks_the_weight():
    text = "a (b:1.2.3) c"
    (d,) = lint_prompt(text)["diagnostics"]
    assert (d["severity"], text[d["start"]:d["end"]]) == ("error", ":1.2.3)")


def test_warnings_for_legal_but_surprising_a1111_behaviour():
    # A1111: an unclosed '(' weights the rest ×1.1; a ')' with no opener is text; BREAK inside brackets is the
    # word "break" (its weight is multiplied, so is_break fails; A1111 tokenize_line).
    text = "(a BREAK b"
    r = lint_prompt(text)
    got = sorted((d["severity"], text[d["start"]:d["end"]]) for d in r["diagnostics"])
    assert got == [("warning", "("), ("warning", "BREAK")]
    parsed = parse_prompt_attention(text)  # the reference: the marker's weight was multiplied, so no chunk break
    assert ["BREAK", -1.1] in parsed and not any(is_break(e) for e in parsed)
    r = lint_prompt("a) b")
    assert [(d["severity"], d["start"]) for d in r["diagnostics"]] == [("warning", 1)]


def test_unknown_lora_name_warns_only_with_a_known_list():
    text = "a <lora:missing:1> <lora:here:0.5>"
    assert lint_prompt(text)["diagnostics"] == []
    diags = lint_prompt(text, known_loras=["sub/here.safetensors", "here.safetensors"])["diagnostics"]
    assert [(d["severity"], text[d["start"]:d["end"]]) for d in diags] == [("warning", "<lora:missing:1>")]


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="prompt text"):
        lint_prompt(None)


def test_negative_prompt_has_no_and_split():
    # A1111 encodes the negative prompt as one text: "AND" is a word and ":0.5" stays text, not a part weight.
    text = "blurry AND ugly:0.5"
    assert [t["kind"] for t in lint_prompt(text)["tokens"]] == ["and"]
    assert lint_prompt(text, and_split=False)["tokens"] == []
