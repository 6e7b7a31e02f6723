"""LoRA Block Weight (hako-mikan/sd-webui-lora-block-weight): per-block LoRA ratios with lbw's fixed-ID semantics.

Source: lbw ``scripts/lora_block_weight.py`` (``BLOCKID26/17/12/20``, ``DEF_WEIGHT_PRESET``, ``to26``,
``ratiodealer``, ``loradealer``), ComfyUI-Inspire-Pack ``resources/lbw-preset.txt``.

- A spec is a preset name or a comma list of 12 (SDXL LoRA), 17 (SD1.x LoRA), 20 (SDXL LyCORIS) or 26 (SD1.x
  LyCORIS) values in that set's block-ID order. Lists that are not 26 long are expanded by block ID into the
  26-slot order; **IDs the list does not name get 0** (lbw ``to26``), so a 17-vector zeroes IN00, IN03, IN06,
  IN09-11 and OUT00-02 (only resnets/samplers live there).
- ``R`` = random in [0, 1) and ``U`` = random in [−0.5, 1.5] (both rounded to 3 places, as lbw does), ``X``/``X+a``/
  ``X-a`` = the ``x`` value (lbw: ``x=`` or the 4th tag item) plus/minus ``a``.
- Key → block (lbw ``ratiodealer`` on ComfyUI names): text-encoder keys (``clip_l.``, ``clip_g.``, ``clip_h.``,
  ``t5xxl.``, ``text_encoders.``, or containing ``encoder``/``embedders``/``transformer_resblocks``) → BASE;
  ``input_blocks.N.`` → IN{N:02}; ``middle_block.`` → M00; ``output_blocks.N.`` → OUT{N:02}; anything else
  (``time_embed``, ``label_emb``, ``out.``) is unknown and keeps **ratio 1**.
- Presets: lbw's 17-value set (``NONE``, ``ALL``, ``INS``, ``IND``, ``INALL``, ``MIDD``, ``OUTD``, ``OUTS``,
  ``OUTALL``, ``ALL0.5``) and Inspire's fixed-number ``SD-*`` (17) and ``SDXL-*`` (12) names. Inspire's ``LyC`` sets
  (27/21 values, occupancy order) and ``A``/``B`` presets do not follow fixed IDs and are not offered.
"""
import math
import random
import re

from ..limits.checks import LimitError
from ..limits.values import MAX_STRENGTH

BLOCKID26 = ["BASE"] + [f"IN{i:02}" for i in range(12)] + ["M00"] + [f"OUT{i:02}" for i in range(12)]
BLOCKID17 = ["BASE", "IN01", "IN02", "IN04", "IN05", "IN07", "IN08", "M00"] + [f"OUT{i:02}" for i in range(3, 12)]
BLOCKID12 = ["BASE", "IN04", "IN05", "IN07", "IN08", "M00"] + [f"OUT{i:02}" for i in range(6)]
BLOCKID20 = ["BASE"] + [f"IN{i:02}" for i in range(9)] + ["M00"] + [f"OUT{i:02}" for i in range(9)]
BLOCK_SETS = {12: BLOCKID12, 17: BLOCKID17, 20: BLOCKID20, 26: BLOCKID26}


def _ones(*indices, n=17, value="1"):
    return ",".join(value if i in indices else "0" for i in range(n))


LBW_PRESETS = {
    "NONE": _ones(),
    "ALL": _ones(*range(17)),
    "INS": _ones(0, 1, 2, 3),
    "IND": _ones(0, 4, 5, 6),
    "INALL": _ones(*range(7)),
    "MIDD": _ones(0, 4, 5, 6, 7, 8, 9, 10, 11),
    "OUTD": _ones(0, 8, 9, 10, 11),
    "OUTS": _ones(0, 12, 13, 14, 15, 16),
    "OUTALL": _ones(0, *range(8, 17)),
    "ALL0.5": _ones(*range(17), value="0.5"),
}
INSPIRE_PRESETS = {f"SD-{name}": vector for name, vector in LBW_PRESETS.items()}
INSPIRE_PRESETS.update({
    "SD-MIDD0.2": "1,0,0,0,0,0,0.2,0.4,0.4,0.2,0,0,0,0,0,0,0",
    "SD-MIDD0.8": "1,0,0,0,0,0.5,0.8,0.8,0.4,0,0,0,0,0,0,0,0",
    "SD-MOUT": "1,0,0,0,0,0,1,1,1,1,1,1,1,1,0.5,0,0",
    "SD-ROUT": "1,1,1,1,1,1,1,1,R,R,R,R,R,R,R,R,R",
    "SDXL-NONE": _ones(n=12),
    "SDXL-ALL": _ones(*range(12), n=12),
    "SDXL-INALL": _ones(0, 1, 2, 3, 4, n=12),
    "SDXL-MIDALL": _ones(0, 5, n=12),
    "SDXL-OUTALL": _ones(0, *range(6, 12), n=12),
})
PRESETS = {**LBW_PRESETS, **INSPIRE_PRESETS}

_INHERITED = re.compile(r"X([+-])?([\d.]+)?")
_TE_PREFIXES = ("clip_l.", "clip_g.", "clip_h.", "t5xxl.", "text_encoders.", "cond_stage_model.", "conditioner.")
_IN = re.compile(r"(?:^|[._])input_blocks[._](\d+)[._]")
_MID = re.compile(r"(?:^|[._])middle_block[._]")
_OUT = re.compile(r"(?:^|[._])output_blocks[._](\d+)[._]")


def is_block_weight_spec(text):
    """lbw's test: a known preset name, or a list whose comma count is one less than a block-set length."""
    text = str(text).strip()
    return text in PRESETS or any(text.count(",") == n - 1 for n in BLOCK_SETS)


def _value(item, x, rng, spec):
    item = item.strip()
    if item == "R":
        return round(rng.random(), 3)
    if item == "U":
        return round(rng.uniform(-0.5, 1.5), 3)
    if item.startswith("X"):
        match = _INHERITED.fullmatch(item)
        if match is None or (match.group(1) and not match.group(2)):
            raise ValueError(f"block weight {item!r} in {spec!r}: write X, X+0.2 or X-0.2")
        offset = float(match.group(2)) if match.group(1) else 0.0
        return float(x) + offset if match.group(1) != "-" else float(x) - offset
    try:
        return float(item)
    except ValueError:
        raise ValueError(f"block weight {item!r} in {spec!r} is not a number, R, U or X") from None


def block_vector(spec, x=1.0, seed=None):
    """A block-weight spec → 26 floats in ``BLOCKID26`` order (lbw ``to26``: unnamed IDs are 0).

    ``x`` fills ``X`` items; ``seed`` makes ``R``/``U`` reproducible. Raises ValueError naming a bad spec."""
    text = str(spec).strip()
    values_text = PRESETS.get(text, text)
    items = values_text.split(",")
    if len(items) not in BLOCK_SETS:
        names = ", ".join(sorted(PRESETS))
        raise ValueError(f"block weights {text!r}: give a preset ({names}) or 12/17/20/26 comma-separated values "
                         f"(got {len(items)})")
    rng = random.Random(seed)
    values = [_value(item, x, rng, text) for item in items]
    for index, value in enumerate(values):
        if not math.isfinite(value) or abs(value) > MAX_STRENGTH:
            raise LimitError(f"block weights {text[:60]!r}: value {index + 1} ({items[index].strip()[:30]!r}) is not a "
                             f"finite number within +/-{MAX_STRENGTH:g}; write weights such as 1,0,0.5,...")
    if len(values) == 26:
        return values
    out = [0.0] * 26
    for block_id, value in zip(BLOCK_SETS[len(values)], values):
        out[BLOCKID26.index(block_id)] = value
    return out


def block_index(key):
    """Index into ``BLOCKID26`` of a ComfyUI weight key, or None for keys lbw leaves at ratio 1."""
    if key.startswith(_TE_PREFIXES) or any(part in key for part in ("encoder", "embedders", "transformer_resblocks")):
        return 0
    match = _IN.search(key)
    if match:
        n = int(match.group(1))
        return 1 + n if n < 12 else None
    if _MID.search(key):
        return 13
    match = _OUT.search(key)
    if match:
        n = int(match.group(1))
        return 14 + n if n < 12 else None
    return None


def block_id(key):
    """lbw block name (``BASE``, ``IN04``, ``M00``, ``OUT11`` …) of a key, or None if lbw does not know it."""
    index = block_index(key)
    return None if index is None else BLOCKID26[index]


def block_multiplier(key, vector):
    """Ratio lbw applies to ``key``: ``vector[block_index(key)]``, 1.0 for unknown keys. ``vector`` may be a spec."""
    if not isinstance(vector, (list, tuple)):
        vector = block_vector(vector)
    if len(vector) != 26:
        raise ValueError(f"block_multiplier needs a 26-value vector from block_vector(), got {len(vector)} values")
    index = block_index(key)
    return 1.0 if index is None else float(vector[index])


def block_multipliers(keys, spec, x=1.0, seed=None):
    """``{key: ratio}`` for every key under one spec (one random draw shared by all keys, as in lbw)."""
    vector = block_vector(spec, x=x, seed=seed) if not isinstance(spec, (list, tuple)) else list(spec)
    return {key: block_multiplier(key, vector) for key in keys}
