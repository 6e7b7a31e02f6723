"""A1111 ``AND`` composition: ``get_multicond_prompt_list`` (A1111 ``modules/prompt_parser.py``).

Each prompt is split on ``\\bAND\\b`` (case-sensitive, whole word). Every part, including a prompt with no AND at
all, loses a trailing ``:NUM`` which becomes its composable (CFG) weight, where A1111's rule is the regex
``^((?:\\s|.)*?)(?:\\s*:\\s*([-+]?(?:\\d+\\.?|\\d*\\.\\d+)))?\\s*$``: the text is the shortest prefix after which only
``\\s*:\\s*NUM\\s*`` or only whitespace remains. So trailing whitespace is dropped, leading whitespace kept
(``a AND b`` → ``"a"``, ``" b"``), ``1girl:1.2`` has weight 1.2 and ``time 12:30`` weight 30. Identical texts share
one index in the flat list. The denoiser then adds ``w_i·cfg·(cond_i − uncond)`` for each part (not averaged).

The rule is evaluated directly (last colon, then a full match of what follows) rather than with the lazy regex,
which backtracks quadratically over long whitespace runs; the results are the same.
"""
import re

_AND = re.compile(r"\bAND\b")
_WEIGHT_TAIL = re.compile(r"\s*([-+]?(?:\d+\.?|\d*\.\d+))")


def split_weight(subprompt):
    """``(text, weight)`` of one AND part: a trailing ``:NUM`` is the weight (1.0 when absent), trailing space dropped.

    >>> split_weight("masterpiece, 1girl:1.2 ")
    ('masterpiece, 1girl', 1.2)
    """
    stripped = subprompt.rstrip()
    colon = stripped.rfind(":")
    if colon >= 0:
        tail = _WEIGHT_TAIL.fullmatch(stripped, colon + 1)
        if tail is not None:
            return stripped[:colon].rstrip(), float(tail.group(1))
    return stripped, 1.0


def get_multicond_prompt_list(prompts):
    """A1111's ``(res_indexes, prompt_flat_list, prompt_indexes)`` for a list of prompts.

    ``res_indexes[k]`` lists ``(index, weight)`` for each AND part of ``prompts[k]``; ``prompt_flat_list`` holds each
    distinct part text once, ``prompt_indexes`` maps text → index.

    >>> get_multicond_prompt_list(["a AND b:0.5"])
    ([[(0, 1.0), (1, 0.5)]], ['a', ' b'], {'a': 0, ' b': 1})
    """
    if isinstance(prompts, str):
        raise ValueError(f"prompts must be a list of strings, got the single string {prompts!r}; wrap it: [prompt]")
    res_indexes, prompt_flat_list, prompt_indexes = [], [], {}
    for prompt in prompts:
        if not isinstance(prompt, str):
            raise ValueError(f"each prompt must be a string, got {type(prompt).__name__}: {prompt!r}")
        indexes = []
        for subprompt in _AND.split(prompt):
            text, weight = split_weight(subprompt)
            if text not in prompt_indexes:
                prompt_indexes[text] = len(prompt_flat_list)
                prompt_flat_list.append(text)
            indexes.append((prompt_indexes[text], weight))
        res_indexes.append(indexes)
    return res_indexes, prompt_flat_list, prompt_indexes
