"""A1111 X/Y/Z plot value syntax: the text of one axis -> the list of values its cells take.

Rules (AUTOMATIC1111/stable-diffusion-webui:scripts/xyz_grid.py, ``Script.run.process_axis``):

* The text is CSV (``csv_string_to_list_strip``): Python's ``csv.reader`` over every line, all rows chained, each
  field stripped. Quotes protect commas: ``"a, b", c`` is two values.
* Integer axes, per value: ``a-b`` is ``range(a, b + 1)``; ``a-b (+s)`` / ``a-b (-s)`` is ``range(a, b + 1, s)``
  (so ``10-1 (-3)`` is 10, 7, 4: the end stays ``b + 1`` even when counting down); ``a-b [n]`` is
  ``int()`` of ``numpy.linspace(a, b, n)`` (truncation, not rounding); anything else goes through ``int()``.
* Float axes: ``a-b`` / ``a-b (+s)`` is ``numpy.arange(a, b + s, s)`` (step 1 when not given; float steps can
  overshoot by one, as numpy's length rule ``ceil((stop - start) / step)`` says); ``a-b [n]`` is
  ``numpy.linspace(a, b, n)`` with ``n`` through ``int()``; anything else through ``float()``.
* The range patterns are A1111's ``re_range``, ``re_range_count``, ``re_range_float``, ``re_range_count_float``,
  matched against the whole value. The float patterns' decimal separator is an unescaped ``.`` (any character), as
  upstream; a value that matches but is not a number fails in ``float()`` as it does there.
* ``Prompt order``: every permutation of the listed tokens (``itertools.permutations``), in its order.
* Seeds (``fix_axis_seeds``): on ``Seed`` and ``Var. seed`` axes a value of -1 becomes
  ``random.randrange(4294967294)`` before any cell runs.

A value that cannot be read raises :class:`AxisValueError`, whose message names the value and the expected form.
"""
from __future__ import annotations

import csv
import io
import itertools
import random
import re

import numpy as np

SEED_RANDOM_RANGE = 4294967294  # random.randrange bound in A1111 fix_axis_seeds

_INT = r"[+-]?\s*\d+"
_FLOAT = r"[+-]?\s*\d+(?:.\d*)?"  # '.' unescaped on purpose: A1111's re_range_float
INT_RANGE = re.compile(rf"\s*({_INT})\s*-\s*({_INT})(?:\s*\(([+-]\d+)\s*\))?\s*")
INT_RANGE_COUNT = re.compile(rf"\s*({_INT})\s*-\s*({_INT})(?:\s*\[(\d+)\s*])?\s*")
FLOAT_RANGE = re.compile(rf"\s*({_FLOAT})\s*-\s*({_FLOAT})(?:\s*\(([+-]\d+(?:.\d*)?)\s*\))?\s*")
FLOAT_RANGE_COUNT = re.compile(rf"\s*({_FLOAT})\s*-\s*({_FLOAT})(?:\s*\[(\d+(?:.\d*)?)\s*])?\s*")

INT_FORMS = "an integer (5), a range (1-5), a stepped range (1-10 (+2), 10-1 (-3)) or a counted range (1-10 [5])"
FLOAT_FORMS = "a number (7.5), a range (1-3), a stepped range (0-1 (+0.25)) or a counted range (0-1 [5])"


class AxisValueError(ValueError):
    """An axis value A1111's syntax cannot read; the message names the value and the accepted forms."""


def split_values(text: str) -> list[str]:
    """CSV fields of every line, stripped (A1111 ``csv_string_to_list_strip``)."""
    try:
        rows = list(csv.reader(io.StringIO(text or "")))
    except csv.Error as e:
        raise AxisValueError(f"cannot read {text!r} as comma-separated values: {e}") from e
    return [field.strip() for field in itertools.chain.from_iterable(rows)]


def _to_int(text: str, value: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise AxisValueError(f"{value!r} is not {INT_FORMS}") from None


def _to_float(text: str, value: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise AxisValueError(f"{value!r} is not {FLOAT_FORMS}") from None


def expand_int(value) -> list[int]:
    """One integer-axis value -> its integers (A1111 ``process_axis``, ``opt.type == int`` branch)."""
    if not isinstance(value, str):
        return [int(value)]
    m = INT_RANGE.fullmatch(value)
    if m is not None:
        start, end = _to_int(m.group(1), value), _to_int(m.group(2), value) + 1
        step = _to_int(m.group(3), value) if m.group(3) is not None else 1
        if step == 0:
            raise AxisValueError(f"{value!r}: a range step cannot be 0")
        return list(range(start, end, step))
    m = INT_RANGE_COUNT.fullmatch(value)
    if m is not None:
        start, end = _to_int(m.group(1), value), _to_int(m.group(2), value)
        num = _to_int(m.group(3), value) if m.group(3) is not None else 1
        return [int(x) for x in np.linspace(start=start, stop=end, num=num).tolist()]
    return [_to_int(value, value)]


def expand_float(value) -> list[float]:
    """One float-axis value -> its numbers (A1111 ``process_axis``, ``opt.type == float`` branch)."""
    if not isinstance(value, str):
        return [float(value)]
    m = FLOAT_RANGE.fullmatch(value)
    if m is not None:
        start, end = _to_float(m.group(1), value), _to_float(m.group(2), value)
        step = _to_float(m.group(3), value) if m.group(3) is not None else 1.0
        if step == 0:
            raise AxisValueError(f"{value!r}: a range step cannot be 0")
        return [float(x) for x in np.arange(start, end + step, step).tolist()]
    m = FLOAT_RANGE_COUNT.fullmatch(value)
    if m is not None:
        start, end = _to_float(m.group(1), value), _to_float(m.group(2), value)
        num = _to_int(m.group(3), value) if m.group(3) is not None else 1
        return [float(x) for x in np.linspace(start=start, stop=end, num=num).tolist()]
    return [_to_float(value, value)]


def parse_ints(text: str) -> list[int]:
    return [v for item in split_values(text) for v in expand_int(item)]


def parse_floats(text: str) -> list[float]:
    return [v for item in split_values(text) for v in expand_float(item)]


def parse_strings(text: str) -> list[str]:
    return split_values(text)


def parse_permutations(text: str) -> list[tuple[str, ...]]:
    """``Prompt order``: every ordering of the listed tokens (A1111 ``str_permutations`` + ``permutations``)."""
    return list(itertools.permutations(split_values(text)))


def fix_seeds(values: list, rng: random.Random | None = None) -> list:
    """A1111 ``fix_axis_seeds``: -1 (or an empty value) becomes ``randrange(4294967294)``; others are kept."""
    draw = (rng or random).randrange
    return [int(draw(SEED_RANDOM_RANGE)) if v is None or v == "" or v == -1 else v for v in values]


def replace_prompt(prompt: str, negative: str, search: str, value: str) -> tuple[str, str]:
    """``Prompt S/R`` (A1111 ``apply_prompt``): every occurrence of the axis's first value is replaced by this
    cell's value, in the prompt and in the negative prompt."""
    if search not in prompt and search not in negative:
        raise AxisValueError(f"Prompt S/R did not find {search!r} in prompt or negative prompt.")
    return prompt.replace(search, value), negative.replace(search, value)


def reorder_prompt(prompt: str, order: tuple[str, ...]) -> str:
    """``Prompt order`` (A1111 ``apply_order``): the listed tokens trade places so that they appear in ``order``;
    the text between them stays where it was. Each token is looked up at its first occurrence."""
    for token in order:
        if token not in prompt:
            raise AxisValueError(f"Prompt order: {token!r} is not in the prompt.")
    positions = sorted((prompt.find(token), token) for token in order)
    rest, parts = prompt, []
    for _, token in positions:  # cut the text before each token, earliest token first
        n = rest.find(token)
        parts.append(rest[:n])
        rest = rest[n + len(token):]
    return "".join(part + order[i] for i, part in enumerate(parts)) + rest
