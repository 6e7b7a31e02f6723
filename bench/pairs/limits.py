"""Reliability pairs (in-process, no model): the pack's linear scans against the regular expressions A1111 uses
for the same rule, on an ordinary prompt (the price of linearity) and on an adversarial 21 KB one (what it buys).

- ``extra_network_scan``: ``lora.parse_extra_networks`` vs A1111 ``modules/extra_networks.py`` ``re_extra_net``
  ``re.sub`` (the regex re-scans to the end from every ``<``: quadratic on ``"<a:" * 7000``).
- ``prompt_limits_check``: ``limits.check_prompt`` (what ``validate_inputs`` adds per prompt) vs the pack's own
  prompt front half that every encode runs anyway (``build_prompt_schedules``), on an ordinary prompt.
"""
from __future__ import annotations

import re

from harness import InProcessPair

from forgeline import limits
from forgeline.lora import parse_extra_networks
from forgeline.prompt import build_prompt_schedules

A1111_RE = re.compile(r"<(\w+):([^>]+)>")
ORDINARY = ("masterpiece, best quality, (a red fox:1.2) in a [snowy:misty:0.4] forest, <lora:style_a:0.7> "
            "<lora:detail:0.5:0.3> soft light BREAK depth of field, bokeh, 35mm AND a moon:0.6 ") * 3
ADVERSARIAL = "<a:" * 7000


def _a1111_sub(text):
    """A1111 ``parse_prompt``: ``re.sub`` with a callback that splits the args into items / positional / named."""
    found = {}

    def callback(match):
        positional, named = [], {}
        for item in match.group(2).split(":"):
            parts = item.split("=", 2)
            if len(parts) == 2:
                named[parts[0]] = parts[1]
            else:
                positional.append(item)
        found.setdefault(match.group(1), []).append((positional, named))
        return ""
    return A1111_RE.sub(callback, text), found


PAIRS = [
    InProcessPair(
        id="extra_network_scan_ordinary",
        description="parse_extra_networks (linear scan) vs A1111's re_extra_net re.sub, ordinary 600-char prompt",
        pack=lambda: parse_extra_networks(ORDINARY, strict=False), baseline=lambda: _a1111_sub(ORDINARY),
        runs=9, pack_label="Forgeline tag scan", baseline_label="A1111 regex",
    ),
    InProcessPair(
        id="extra_network_scan_adversarial",
        description="parse_extra_networks vs A1111's re_extra_net re.sub on '<a:' * 7000 (21 KB, no '>')",
        pack=lambda: parse_extra_networks(ADVERSARIAL, strict=False), baseline=lambda: _a1111_sub(ADVERSARIAL),
        runs=3, pack_label="Forgeline tag scan", baseline_label="A1111 regex",
    ),
    InProcessPair(
        id="prompt_limits_check",
        description="limits.check_prompt (validation) vs build_prompt_schedules (the encode's own parse), 20 steps",
        pack=lambda: limits.check_prompt(ORDINARY, steps=20),
        baseline=lambda: build_prompt_schedules(ORDINARY, 20),
        runs=9, pack_label="limits.check_prompt", baseline_label="build_prompt_schedules",
    ),
]
