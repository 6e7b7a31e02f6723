"""Reading A1111 infotext: ``parse_generation_parameters`` as A1111 1.10.1 runs it, with its keys and values.

Source: AUTOMATIC1111/stable-diffusion-webui v1.10.1 ``modules/infotext_utils.py`` (``parse_generation_parameters``,
``unquote``, ``restore_old_hires_fix_params``, ``re_param_code``), ``modules/infotext_versions.py`` (``backcompat``)
and ``modules/processing.py: old_hires_fix_first_pass_dimensions``. The rules:

1. ``text.strip().split("\\n")``; the last line is the parameters line only when ``re_param`` finds at least three
   ``key: value`` pairs in it, otherwise it is one more prompt line.
2. Every other line is ``strip()``-ed. A line *starting* with ``Negative prompt:`` switches to the negative (the
   rest of that line, stripped, is its first line); lines before it are the prompt, joined with ``\\n``.
3. Pairs: ``\\s*(\\w[\\w \\-/]+):\\s*("(?:\\\\.|[^\\\\"])+"|[^,]*)(?:,|$)``. A value that starts and ends with ``"``
   is ``json.loads``-ed (kept raw when that fails); a value ``^\\d+x\\d+$`` becomes ``<key>-1`` / ``<key>-2``.
   Values stay strings; a repeated key keeps the last value.
4. Defaults for missing keys (Clip skip "1", Hires/inpaint/RNG/schedule/VAE/FP8 defaults, ``Emphasis: Original``
   only when the prompts use attention weights, ``Refiner switch by sampling steps: False``), the old-hires-fix
   conversion (``First pass size``), then the version back-compat flags.

Styles: A1111 removes styles of its ``styles.csv`` found in the prompts; Forgeline has no styles database, which is
A1111's behaviour with an empty styles file (nothing removed, no ``Styles array``).
"""
from __future__ import annotations

import json
import math
import re

from ..prompt.attention import parse_prompt_attention

RE_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
RE_IMAGESIZE = re.compile(r"^(\d+)x(\d+)$")
NEGATIVE_PREFIX = "Negative prompt:"

DEFAULTS_HIRES = {
    "Hires sampler": "Use same sampler",
    "Hires schedule type": "Use same scheduler",
    "Hires checkpoint": "Use same checkpoint",
    "Hires prompt": "",
    "Hires negative prompt": "",
    "Mask mode": "Inpaint masked",
    "Masked content": "original",
    "Inpaint area": "Whole picture",
    "Masked area padding": 32,
}
DEFAULTS_SAMPLING = {
    "Schedule type": "Automatic",
    "Schedule max sigma": 0,
    "Schedule min sigma": 0,
    "Schedule rho": 0,
    "VAE Encoder": "Full",
    "VAE Decoder": "Full",
    "FP8 weight": "Disable",
}


def unquote(text):
    """A1111 ``infotext_utils.unquote``: ``json.loads`` of a ``"…"`` value, the raw text when that fails."""
    if len(text) == 0 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        return json.loads(text)
    except Exception:
        return text


def split_infotext(text):
    """``(prompt, negative_prompt, parameters line)`` by A1111's line rules (steps 1 and 2 above)."""
    *lines, lastline = text.strip().split("\n")
    if len(RE_PARAM.findall(lastline)) < 3:
        lines.append(lastline)
        lastline = ""
    prompt, negative, in_negative = [], [], False
    for line in lines:
        line = line.strip()
        if line.startswith(NEGATIVE_PREFIX):
            in_negative = True
            line = line[len(NEGATIVE_PREFIX):].strip()
        (negative if in_negative else prompt).append(line)
    return "\n".join(prompt), "\n".join(negative), lastline


def parse_pairs(line):
    """The ``key: value`` pairs of a parameters line as A1111 reads them, in order (before size splitting).

    A pair with an empty value is dropped: A1111's ``v[0]`` raises on it and its ``except`` skips the key."""
    pairs = []
    for key, value in RE_PARAM.findall(line):
        if not value:
            continue
        if value[0] == '"' and value[-1] == '"':
            value = unquote(value)
        pairs.append((key, value))
    return pairs


def old_hires_fix_first_pass_dimensions(width, height):
    """A1111 ``processing.old_hires_fix_first_pass_dimensions``: scale to about 512*512 pixels, ceil to 64."""
    scale = math.sqrt(512 * 512 / (width * height))
    return math.ceil(scale * width / 64) * 64, math.ceil(scale * height / 64) * 64


def _restore_old_hires_fix_params(res):
    first_w, first_h = res.get("First pass size-1"), res.get("First pass size-2")
    if first_w is None or first_h is None:
        return
    first_w, first_h = int(first_w), int(first_h)
    width, height = int(res.get("Size-1", 512)), int(res.get("Size-2", 512))
    if first_w == 0 or first_h == 0:
        first_w, first_h = old_hires_fix_first_pass_dimensions(width, height)
    res["Size-1"], res["Size-2"] = first_w, first_h
    res["Hires resize-1"], res["Hires resize-2"] = width, height


def parse_version(text):
    """A1111 ``infotext_versions.parse_version``: the first two dash-separated parts, as a PEP 440 version; None
    when missing or unparseable (Forge ``f2.0.1v1.10.1-…``, ``classic``, ``ComfyUI``)."""
    if text is None:
        return None
    m = re.match(r"([^-]+-[^-]+)-.*", text)
    if m:
        text = m.group(1)
    try:
        from packaging import version
        return version.parse(text)
    except Exception:
        return None


def _backcompat(res):
    ver = parse_version(res.get("Version"))
    if ver is None:
        return
    from packaging import version
    v160, v170_tsnr, v180 = version.parse("1.6.0"), version.parse("v1.7.0-225"), version.parse("1.8.0")
    if ver < v160 and "[" in res.get("Prompt", ""):
        res["Old prompt editing timelines"] = True
    if ver < v160 and res.get("Sampler", "") in ("DDIM", "PLMS"):
        res["Pad conds v0"] = True
    if ver < v170_tsnr:
        res["Downcast alphas_cumprod"] = True
    if ver < v180 and res.get("Refiner"):
        res["Refiner switch by sampling steps"] = True


def _uses_emphasis(prompt, negative_prompt):
    attention = parse_prompt_attention(prompt) + parse_prompt_attention(negative_prompt)
    return len(attention) != len([p for p in attention if p[1] == 1.0 or p[0] == "BREAK"])


def parse_generation_parameters(text, skip_fields=()):
    """The dict A1111 1.10.1's ``parse_generation_parameters`` returns for ``text`` (no styles database).

    >>> parse_generation_parameters("a cat\\nSteps: 20, Sampler: Euler a, Size: 512x768")["Size-2"]
    '768'
    """
    if not isinstance(text, str):
        raise ValueError(f"infotext must be a string, got {type(text).__name__}")
    prompt, negative_prompt, lastline = split_infotext(text)
    res = {}
    for key, value in parse_pairs(lastline):
        m = RE_IMAGESIZE.match(value)
        if m is not None:
            res[f"{key}-1"] = m.group(1)
            res[f"{key}-2"] = m.group(2)
        else:
            res[key] = value

    res["Prompt"] = prompt
    res["Negative prompt"] = negative_prompt
    res.setdefault("Clip skip", "1")
    hypernet = res.get("Hypernet")
    if hypernet is not None:
        res["Prompt"] += f"<hypernet:{hypernet}:{res.get('Hypernet strength', '1.0')}>"
    if "Hires resize-1" not in res:
        res["Hires resize-1"] = 0
        res["Hires resize-2"] = 0
    for key, value in DEFAULTS_HIRES.items():
        res.setdefault(key, value)
    _restore_old_hires_fix_params(res)
    res.setdefault("RNG", "GPU")
    for key, value in DEFAULTS_SAMPLING.items():
        res.setdefault(key, value)
    if "Cache FP16 weight for LoRA" not in res and res["FP8 weight"] != "Disable":
        res["Cache FP16 weight for LoRA"] = False
    if "Emphasis" not in res and _uses_emphasis(prompt, negative_prompt):
        res["Emphasis"] = "Original"
    res.setdefault("Refiner switch by sampling steps", False)
    _backcompat(res)
    for key in skip_fields:
        res.pop(key, None)
    return res


def parse_name_hashes(value):
    """``{name: hash}`` from a ``Lora hashes`` / ``TI hashes`` value (``"name: hash, name2: hash2"``), as A1111's
    ``lora_script.infotext_pasted`` splits it (on ``,`` then on the first ``:``, both sides stripped)."""
    out = {}
    if not isinstance(value, str):
        return out
    for item in value.split(","):
        name, sep, digest = item.partition(":")
        if sep and name.strip():
            out[name.strip()] = digest.strip()
    return out
