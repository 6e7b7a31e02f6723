r"""Editor prompt diagnostics (prompt/lint.py, served at /forgeline/parse) against A1111's rules, derived by hand.

The expected errors below are worked out from A1111 1.10.1's code, not from the pack's parsers:
- ``modules/prompt_parser.py`` grammar: ``start: (prompt | /[][():]/+)*``, ``plain: /([^\\\[\]():|]|\\.)+/``,
  ``alternate: "[" prompt ("|" [prompt])+ "]"``. A ``|`` outside a complete ``[a|b]`` and a backslash that escapes
  nothing match no rule: lark raises, and A1111 drops all prompt editing for that prompt (the error points at the
  character lark stops on).
- ``get_learned_conditioning_prompt_schedules`` ``collect_steps``: ``min(steps, int(when))`` -- ``int(inf)`` raises
  OverflowError, so ``[a:b:1e999]`` stops the generation.
- ``parse_prompt_attention``: ``re_attention`` takes ``:1.2.3)`` / ``:.)`` as a weight and ``float()`` raises; a
  ``)`` or ``:1.2)`` with no open ``(`` is plain text; an unclosed ``(`` weights the rest (a warning, not an error).
- ``modules/extra_networks.py`` + ``extensions-builtin/Lora/extra_networks_lora.py``: ``float("abc")`` for the te
  weight raises and an empty name finds no network; A1111 reports the error and skips that network, so the editor
  marks the whole tag. ``0@0,1@0.5`` is Forgeline's schedule syntax and valid.
"""
import pytest

from forgeline.prompt.lint import lint_prompt
from forgeline.prompt import is_break, parse_prompt_attention

# prompt -> the source text of each error span (empty: A1111 accepts the prompt)
CASES = {
    "a photo of a cat": [],
    "a (cat:1.2) BREAK [dog] <lora:foo:0.5>": [],
    "(a:1.2.3)": [":1.2.3)"],                 # float('1.2.3')
    "a (b:.) c": [":.)"],                     # float('.')
    "a | b": ["|"],                           # '|' is not plain text and not inside [..|..]
    "a \\": ["\\"],                          # '\\.' needs a character after the backslash
    "x [a:b:0.5] y [c|d] AND z:0.5": [],
    "[a:b:1e999]": ["[a:b:1e999]"],           # int(inf) in collect_steps
    "[(a:1.2.3):b:5]": [":1.2.3)"],           # the text before step 5 fails in parse_prompt_attention
    "((a) BREAK b": [],                       # stray '(' is allowed by start's /[][():]/+
    "a) ] stray": [],
    "<lora:x:abc>": ["<lora:x:abc>"],
    "<lora::1>": ["<lora::1>"],
    "<lora:x:0@0,1@0.5>": [],
    "\\(escaped\\) (real)": [],
    "[a:b:0.5]:1.2": [],                      # AND-part weight 1.2 (re_weight), then a valid schedule
    "(a AND b:1.2)": [],                      # parts '(a ' and ' b:1.2)': ':1.2)' has no open '(' -> text
    "a [b|c": ["|"],                          # '[' taken by start's regex, then a bare '|'
}


@pytest.mark.parametrize("text", list(CASES))
def test_errors_are_where_a1111_fails(text):
    errors = [d for d in lint_prompt(text)["diagnostics"] if d["severity"] == "error"]
    assert [text[e["start"]:e["end"]] for e in errors] == CASES[text], (text, errors)


@pytest.mark.parametrize("text, position", [("a | b", 2), ("a \\", 2), ("x [a|b] | c", 8), ("[a:b:0.5] y |", 12)])
def test_schedule_error_is_placed_where_the_grammar_fails(text, position):
    # the character lark stops on, counted by hand
    errors = [d for d in lint_prompt(text)["diagnostics"] if d["severity"] == "error"]
    assert [e["start"] for e in errors] == [position]


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
