"""A1111 attention syntax: ``parse_prompt_attention`` (A1111 ``modules/prompt_parser.py``, v1.10).

The text is cut left to right into these pieces, the first that fits winning:

    ``\\(`` ``\\)`` ``\\[`` ``\\]`` ``\\\\``   escapes: the character after the backslash, as text
    ``\\``                       a lone backslash: an empty text piece (the backslash disappears)
    ``(``  ``[``                 open a bracket (remember where the result list stood)
    ``:NUM)``                    weight-close, ``NUM = [+-]?[.\\d]+`` with ``\\s*`` on both sides
    ``)``  ``]``                 close a bracket
    a run without ``\\ ( ) [ ] :``, or a single ``:``      text

Closing multiplies every result entry appended since the matching open: ``(`` by 1.1, ``[`` by ``1/1.1``
(= 0.9090909090909091), ``(…:NUM)`` by ``float(NUM)``. A closer with no open bracket of its kind is text; the weight
of a text piece starts at 1.0. Text is split on ``\\s*\\bBREAK\\b\\s*`` with ``["BREAK", -1]`` (an int) between the
parts, and the marker is multiplied like text. At the end every unclosed ``(`` multiplies from its position by 1.1,
then every unclosed ``[`` by 1/1.1, bottom of the stack first. An empty result becomes ``[["", 1.0]]``; neighbours
whose weights are exactly equal (float ``==``) are concatenated, keeping the first weight.

Products are formed in closing order, so the floats are A1111's to the last bit (``((a:1.5))`` → 1.6500000000000001,
``(a:1.21)((b))`` does not merge). A weight that ``float`` rejects (``(a:1.2.3)``, ``(a:.)``) raises ``ValueError``
as in A1111. Unlike A1111 (quadratic ``multiply_range`` and ``list.pop``), the weights live in a float64 array that
is multiplied by slices and the merge is one pass, so 100 000 characters parse in well under a second.
"""
import re

import numpy as np

BREAK_TEXT = "BREAK"
BREAK_WEIGHT = -1
ROUND_BRACKET_MULTIPLIER = 1.1
SQUARE_BRACKET_MULTIPLIER = 1 / 1.1

_PIECE = re.compile(r"""
      (?P<escape>\\[()\[\]\\]?)            # \( \) \[ \] \\  or a lone backslash
    | (?P<open>[(\[])
    | :\s*(?P<weight>[+-]?[.\d]+)\s*\)     # (text:1.3)
    | (?P<close>[)\]])
    | [^\\()\[\]:]+ | :                    # text
""", re.X)


def _is_word(ch):
    """Python ``re``'s ``\\w`` for str patterns: Unicode alphanumerics and the underscore."""
    return ch == "_" or ch.isalnum()


def split_break(text):
    """A1111's ``re.split(r"\\s*\\bBREAK\\b\\s*", text)``, by a linear scan.

    The regex backtracks: from every whitespace position it grows ``\\s*`` to the end of the run and retries
    shorter, so ``"BREAK" + " \\t" * 10000`` costs seconds (quadratic). A match is a whole-word ``BREAK`` with the
    whitespace runs on both sides (the left run not reaching back past the previous match)."""
    parts, last, n = [], 0, len(text)
    i = text.find(BREAK_TEXT)
    while i >= 0:
        end = i + len(BREAK_TEXT)
        if (i == 0 or not _is_word(text[i - 1])) and (end == n or not _is_word(text[end])):
            start = i
            while start > last and text[start - 1].isspace():
                start -= 1
            while end < n and text[end].isspace():
                end += 1
            parts.append(text[last:start])
            last = end
            i = text.find(BREAK_TEXT, end)
        else:
            i = text.find(BREAK_TEXT, i + 1)
    parts.append(text[last:])
    return parts


def is_break(entry):
    """True for the marker that makes ``tokenize_line`` start a new chunk: text ``BREAK`` with weight ``== -1``.

    A BREAK inside brackets keeps its text but its weight is multiplied (``(a BREAK b)`` → −1.1), so it is then
    tokenized as the word "break" (A1111 ``tokenize_line`` only breaks on ``weight == -1``).
    """
    text, weight = entry
    return text == BREAK_TEXT and weight == BREAK_WEIGHT


def parse_prompt_attention(text):
    """Parse A1111 emphasis syntax into ``[[text, weight], …]`` exactly as A1111's ``parse_prompt_attention``.

    >>> parse_prompt_attention('an (important) word')
    [['an ', 1.0], ['important', 1.1], [' word', 1.0]]
    """
    if not isinstance(text, str):
        raise ValueError(f"parse_prompt_attention expects a prompt string, got {type(text).__name__}: {text!r}")
    pieces = []                      # entry texts
    weights = _GrowingWeights()
    breaks = []                      # indices of BREAK markers
    ranges = []                      # (start, end) of every multiplication, to know which markers were touched
    round_open, square_open = [], []

    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for m in _PIECE.finditer(text):
            kind = m.lastgroup
            if kind == "escape":
                pieces.append(m.group(0)[1:])
                weights.append(1.0)
            elif kind == "open":
                (round_open if m.group(0) == "(" else square_open).append(len(pieces))
            elif kind == "weight" and round_open:
                start = round_open.pop()
                weights.multiply(start, _weight_value(m.group("weight"), m.group(0), text))
                ranges.append((start, len(pieces)))
            elif kind == "close" and (round_open if m.group(0) == ")" else square_open):
                stack = round_open if m.group(0) == ")" else square_open
                start = stack.pop()
                weights.multiply(start, ROUND_BRACKET_MULTIPLIER if stack is round_open else SQUARE_BRACKET_MULTIPLIER)
                ranges.append((start, len(pieces)))
            else:
                _append_text(m.group(0), pieces, weights, breaks)

        for start in round_open:
            weights.multiply(start, ROUND_BRACKET_MULTIPLIER)
            ranges.append((start, len(pieces)))
        for start in square_open:
            weights.multiply(start, SQUARE_BRACKET_MULTIPLIER)
            ranges.append((start, len(pieces)))

    if not pieces:
        return [["", 1.0]]
    values = weights.values().tolist()
    for index in _untouched(breaks, ranges, len(pieces)):
        values[index] = BREAK_WEIGHT
    return _merge_equal_neighbours(pieces, values)


def _append_text(chunk, pieces, weights, breaks):
    parts = split_break(chunk) if "BREAK" in chunk else [chunk]
    for i, part in enumerate(parts):
        if i:
            breaks.append(len(pieces))
            pieces.append(BREAK_TEXT)
            weights.append(float(BREAK_WEIGHT))
        pieces.append(part)
        weights.append(1.0)


def _weight_value(number, match_text, prompt):
    try:
        return float(number)
    except ValueError:
        raise ValueError(f"invalid emphasis weight {number!r} in {match_text!r} of prompt {prompt!r} (A1111 fails the "
                         "same way): write one number such as (text:1.2), or escape the colon/brackets") from None


def _untouched(breaks, ranges, count):
    """Indices of BREAK markers no multiplication covered: they keep A1111's int ``-1``."""
    if not breaks:
        return []
    if not ranges:
        return breaks
    cover = np.zeros(count + 1, dtype=np.int64)
    spans = np.asarray(ranges, dtype=np.int64)
    np.add.at(cover, spans[:, 0], 1)
    np.add.at(cover, spans[:, 1], -1)
    covered = np.cumsum(cover)
    return [b for b in breaks if covered[b] == 0]


def _merge_equal_neighbours(pieces, values):
    merged = [[pieces[0], values[0]]]
    for piece, value in zip(pieces[1:], values[1:]):
        if merged[-1][1] == value:
            merged[-1][0] += piece
        else:
            merged.append([piece, value])
    return merged


class _GrowingWeights:
    """A float64 array that grows by doubling; ``multiply(start, m)`` scales ``[start:len)`` in place."""

    def __init__(self):
        self._data = np.empty(64, dtype=np.float64)
        self._len = 0

    def append(self, value):
        if self._len == len(self._data):
            self._data = np.concatenate([self._data, np.empty(len(self._data), dtype=np.float64)])
        self._data[self._len] = value
        self._len += 1

    def multiply(self, start, multiplier):
        if start < self._len:
            self._data[start:self._len] *= multiplier

    def values(self):
        return self._data[:self._len]
