"""parse_prompt_attention vs A1111: its 6 docstring doctests (A1111 ``modules/prompt_parser.py``), edge cases
derived by hand from its ``re_attention`` regex and loop, and a fuzz comparison with a plain list-based
re-derivation of that algorithm written here."""
import random
import re
import sys

import pytest

from forgeline.prompt import is_break, parse_prompt_attention

# A1111 parse_prompt_attention docstring doctests, verbatim
DOCTESTS = [
    ("normal text", [["normal text", 1.0]]),
    ("an (important) word", [["an ", 1.0], ["important", 1.1], [" word", 1.0]]),
    ("(unbalanced", [["unbalanced", 1.1]]),
    ("\\(literal\\]", [["(literal]", 1.0]]),
    ("(unnecessary)(parens)", [["unnecessaryparens", 1.1]]),
    ("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
     [["a ", 1.0], ["house", 1.5730000000000004], [" ", 1.1], ["on", 1.0], [" a ", 1.1], ["hill", 0.55],
      [", sun, ", 1.1], ["sky", 1.4641000000000006], [".", 1.1]]),
]

# values derived by hand from A1111's parse_prompt_attention
EDGE_CASES = [
    ("(a[b)c]", [["a", 1.1], ["b", 1.0], ["c", 0.9090909090909091]]),   # crossing brackets close their own stack
    ("(time 12:30)", [["time 12", 30.0]]),                              # the colon trap
    ("(a: 1.5 )", [["a", 1.5]]),
    ("(a : 1.5)", [["a ", 1.5]]),
    ("[a:1.5]", [["a:1.5", 0.9090909090909091]]),                     # weights only for round brackets
    ("(a BREAK b)", [["a", 1.1], ["BREAK", -1.1], ["b", 1.1]]),
    ("(\\(a\\))", [["(a)", 1.1]]),
    ("((a:1.5))", [["a", 1.6500000000000001]]),
    ("(((a)))", [["a", 1.3310000000000004]]),
    ("(a:1.21)((b))", [["a", 1.21], ["b", 1.2100000000000002]]),       # no merge: 1.1*1.1 != 1.21
    ("x ([a]) y", [["x a y", 1.0]]),                                   # 1.1*(1/1.1) == 1.0 exactly: merges
    ("a\\b", [["ab", 1.0]]),                                           # a lone backslash disappears
    ("a\\:b", [["a:b", 1.0]]),
    ("", [["", 1.0]]),
    ("a) b] c:", [["a) b] c:", 1.0]]),                                 # stray closers and colons are text
    ("(a:-1)", [["a", -1.0]]),                                         # no clamping
]


@pytest.mark.parametrize("text,expected", DOCTESTS + EDGE_CASES)
def test_matches_a1111_values(text, expected):
    assert parse_prompt_attention(text) == expected


@pytest.mark.parametrize("text", ["(a:1 .5)", "(a:1e2)", "(a:1,5)", "(a:--1)"])
def test_non_numbers_stay_text_and_the_paren_closes_with_1_1(text):
    # not a weight-close (re_attention ':\s*([+-]?[.\d]+)\s*\)'), so the colon part is text and ")" multiplies by 1.1
    assert parse_prompt_attention(text) == [[text[1:-1], 1.1]]


@pytest.mark.parametrize("text", ["(a:1.2.3)", "(a:.)"])
def test_unparsable_weight_raises_value_error_like_a1111(text):
    with pytest.raises(ValueError, match="emphasis weight"):
        parse_prompt_attention(text)


def test_break_marker_is_the_int_minus_one_and_survives_a_weight_of_one():
    res = parse_prompt_attention("a BREAK b")
    assert res == [["a", 1.0], ["BREAK", -1], ["b", 1.0]]
    assert type(res[1][1]) is int
    assert is_break(res[1])
    inside_one = parse_prompt_attention("(a BREAK b:1)")
    assert [text for text, _ in inside_one] == ["a", "BREAK", "b"] and is_break(inside_one[1])
    assert not is_break(parse_prompt_attention("(a BREAK b)")[1])   # −1.1: tokenized as the word "break"


@pytest.mark.parametrize("text,expected", [
    ("BREAK", [["", 1.0], ["BREAK", -1], ["", 1.0]]),
    ("a BREAK BREAK b", [["a", 1.0], ["BREAK", -1], ["", 1.0], ["BREAK", -1], ["b", 1.0]]),
    ("aBREAK b", [["aBREAK b", 1.0]]),         # needs word boundaries
    ("a break b", [["a break b", 1.0]]),       # case-sensitive
    ("a\nBREAK\nb", [["a", 1.0], ["BREAK", -1], ["b", 1.0]]),
])
def test_break_splitting(text, expected):
    assert parse_prompt_attention(text) == expected


def test_non_string_input_is_a_clear_error():
    with pytest.raises(ValueError, match="prompt string"):
        parse_prompt_attention(None)


# --- independent re-derivation of A1111's algorithm: Python lists, multiply_range over the list, pop-based merge ---
_REF_TOKEN = re.compile(r"\\\(|\\\)|\\\[|\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|]|[^\\()\[\]:]+|:")


def reference_attention(text):
    res, rounds, squares = [], [], []

    def scale(start, m):
        for entry in res[start:]:
            entry[1] *= m

    for m in _REF_TOKEN.finditer(text):
        piece, number = m.group(0), m.group(1)
        if piece[0] == "\\":
            res.append([piece[1:], 1.0])
        elif piece == "(":
            rounds.append(len(res))
        elif piece == "[":
            squares.append(len(res))
        elif number is not None and rounds:
            scale(rounds.pop(), float(number))
        elif piece == ")" and rounds:
            scale(rounds.pop(), 1.1)
        elif piece == "]" and squares:
            scale(squares.pop(), 1 / 1.1)
        else:
            for i, part in enumerate(re.split(r"\s*\bBREAK\b\s*", piece)):
                if i:
                    res.append(["BREAK", -1])
                res.append([part, 1.0])
    for start in rounds:
        scale(start, 1.1)
    for start in squares:
        scale(start, 1 / 1.1)
    if not res:
        res = [["", 1.0]]
    i = 0
    while i + 1 < len(res):
        if res[i][1] == res[i + 1][1]:
            res[i][0] += res.pop(i + 1)[0]
        else:
            i += 1
    return res


def test_fuzz_against_reference_rederivation():
    rng = random.Random(1234)
    alphabet = ["a", "b c", "(", ")", "[", "]", ":", ":1.5)", ":0)", ": -2 )", "\\", "\\(", "\\]", "\\\\", " BREAK ",
                "BREAK", ",", ":1.2.3", "0.5", " "]
    checked = 0
    for _ in range(4000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        try:
            expected = reference_attention(text)
        except ValueError:
            with pytest.raises(ValueError):
                parse_prompt_attention(text)
            continue
        got = parse_prompt_attention(text)
        assert got == expected, text
        assert [type(w) for _, w in got] == [type(w) for _, w in expected], text   # int -1 stays int
        checked += 1
    assert checked > 3000


@pytest.mark.parametrize("text", [
    "(" * 10000 + "a" + ")" * 10000,
    "[" * 10000 + "a" + "]" * 10000,
    "(a" * 50000,                              # 50 000 unclosed brackets over 50 000 entries
    "[a" * 50000,
    "(a" * 33333 + ")" * 33333,                # every close rescales a long tail
    "a BREAK " * 12500,
    "".join(f"(a:1.{i:04d})" for i in range(10000)),
    ": " * 50000,
])
def test_pathological_input_is_bounded(text):
    """Bounded by counts, not by the clock: the parser does not recurse (it runs under a recursion limit far
    below the nesting depth) and returns at most one segment per input character."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        parsed = parse_prompt_attention(text)
    finally:
        sys.setrecursionlimit(limit)
    assert 1 <= len(parsed) <= len(text)


def test_deep_nesting_value_matches_sequential_products():
    # 30 nested parens: 1.1 multiplied 30 times in closing order, as a plain loop computes it
    expected = 1.0
    for _ in range(30):
        expected *= 1.1
    assert parse_prompt_attention("(" * 30 + "x" + ")" * 30) == [["x", expected]]


def test_split_break_matches_a1111_regex():
    # A1111 parse_prompt_attention splits text on re.split(r"\s*\bBREAK\b\s*", text); the scan must agree exactly.
    import random
    import re

    from forgeline.prompt.attention import split_break
    regex = re.compile(r"\s*\bBREAK\b\s*", re.S)
    rng = random.Random(3)
    alphabet = ["BREAK", " ", "\t", "\n", "x", "_", "\u00e9", ",", "B", "REAK", "\u3000"]
    for _ in range(20000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        assert split_break(s) == regex.split(s), s


def test_break_followed_by_a_long_mixed_whitespace_run_is_linear():
    # The regex takes minutes on this (quadratic backtracking over " \t" runs); the scan one pass.
    from forgeline.prompt.attention import split_break
    assert split_break("BREAK" + " \t" * 100000 + "x") == ["", "x"]
    assert parse_prompt_attention("a BREAK" + " \t" * 100000 + "b") == [["a", 1.0], ["BREAK", -1], ["b", 1.0]]
