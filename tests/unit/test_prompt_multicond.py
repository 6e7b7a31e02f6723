"""AND composition vs A1111 (``modules/prompt_parser.py`` ``get_multicond_prompt_list``): hand-derived examples, a
fuzz comparison with A1111's own ``re_weight`` regex used directly as the oracle, and the node-facing schedule
helper."""
import random
import re

import pytest

from forgeline.prompt import build_prompt_schedules, get_multicond_prompt_list, split_weight

# A1111 modules/prompt_parser.py re_weight, verbatim, used here as the reference
RE_WEIGHT = re.compile(r"^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$")


def reference_split(subprompt):
    text, weight = RE_WEIGHT.search(subprompt).groups()
    return text, float(weight) if weight is not None else 1.0


@pytest.mark.parametrize("subprompt,expected", [
    ("masterpiece, 1girl:1.2", ("masterpiece, 1girl", 1.2)),   # a prompt without AND still loses :w
    ("time 12:30", ("time 12", 30.0)),
    (" b", (" b", 1.0)),                                        # leading space kept
    ("a  ", ("a", 1.0)),                                        # trailing space dropped
    ("a : -0.5 ", ("a", -0.5)),                                 # negative weights allowed
    ("a:1.", ("a", 1.0)),
    ("a:.5", ("a", 0.5)),
    ("a:1.2.3", ("a:1.2.3", 1.0)),
    ("a:1e2", ("a:1e2", 1.0)),
    ("[a:b:0.5]", ("[a:b:0.5]", 1.0)),
    ("", ("", 1.0)),
])
def test_split_weight_examples(subprompt, expected):
    assert split_weight(subprompt) == expected


def test_multicond_list_shape_and_dedup():
    res = get_multicond_prompt_list(["a AND b:0.5", "b:2 AND a", "x AND", "ANDROID ANDa aAND"])
    res_indexes, flat, indexes = res
    assert flat == ["a", " b", "b", " a", "x", "", "ANDROID ANDa aAND"]
    assert res_indexes == [[(0, 1.0), (1, 0.5)], [(2, 2.0), (3, 1.0)], [(4, 1.0), (5, 1.0)], [(6, 1.0)]]
    assert indexes == {text: i for i, text in enumerate(flat)}


def test_fuzz_against_a1111_regex():
    rng = random.Random(7)
    alphabet = ["a", " ", ":", "1", ".", "-", "+", "2", "\n", "\t", "b c", "٣"]
    for _ in range(5000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        assert split_weight(s) == reference_split(s), repr(s)


def test_long_whitespace_splits_like_a1111():
    # A1111's lazy regex backtracks quadratically here; the direct scan gives its answer (time: bench, not here)
    prompt = "a" + " " * 200000 + "b:1.5"
    (indexes,), flat, _ = get_multicond_prompt_list([prompt])
    assert indexes == [(0, 1.5)] and flat == ["a" + " " * 200000 + "b"]


def test_build_prompt_schedules_positive_and_negative():
    parts = build_prompt_schedules("a [b:c:2] AND [x|y]:0.5", 4)
    assert [(p.text, p.weight) for p in parts] == [("a [b:c:2]", 1.0), (" [x|y]", 0.5)]
    assert parts[0].schedule == [(2, "a b"), (4, "a c")]
    assert parts[1].schedule == [(1, " x"), (2, " y"), (3, " x"), (4, " y")]
    assert parts[1].texts == [" x", " y"]
    negative = build_prompt_schedules("blurry AND ugly:2", 4, split_and=False)
    assert [(p.text, p.weight, p.schedule) for p in negative] == [("blurry AND ugly:2", 1.0, [(4, "blurry AND ugly:2")])]


def test_build_prompt_schedules_reports_disabled_editing():
    (part,) = build_prompt_schedules("x | y [a:b:0.5]", 10)
    assert part.schedule == [(10, "x | y [a:b:0.5]")]
    assert part.warnings and "disables ALL prompt editing" in part.warnings[0]


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="list of strings"):
        get_multicond_prompt_list("a AND b")
    with pytest.raises(ValueError, match="must be a string"):
        get_multicond_prompt_list([None])


def test_text_normalisation_rules_and_ftfy_fallback(monkeypatch):
    import sys
    import warnings

    from forgeline.prompt import text_normalize

    # slow CLIPTokenizer: whitespace_clean(ftfy.fix_text(t)).lower()
    assert text_normalize.a1111_clean_text("  A\tB\n\nC  ") == "a b c"
    assert text_normalize.a1111_clean_text("“Hi” &amp; ﬁne") == '"hi" & fine'
    monkeypatch.setattr(text_normalize, "_ftfy_checked", False)
    monkeypatch.setattr(text_normalize, "_ftfy_fix_text", None)
    monkeypatch.setitem(sys.modules, "ftfy", None)          # import ftfy now fails
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert text_normalize.a1111_clean_text("  A\tB ") == "a b"
        assert text_normalize.a1111_clean_text("&amp;") == "&amp;"   # documented difference without ftfy
    assert any("ftfy is not installed" in str(w.message) for w in caught)
