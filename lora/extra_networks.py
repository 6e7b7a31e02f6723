"""A1111 extra-network tags: ``<type:arg1:arg2:...>`` parsed and stripped from a prompt.

Rules (A1111 ``modules/extra_networks.py`` ``parse_prompt`` / ``ExtraNetworkParams`` and
``extensions-builtin/Lora/extra_networks_lora.py`` ``ExtraNetworkLora.activate``):

- Tag regex ``<(\\w+):([^>]+)>``; every match is replaced by ``""`` (surrounding spaces are kept, so
  ``"a <lora:x:1> b"`` leaves ``"a  b"``). ``<lora:>`` does not match and stays in the text.
- The args are split on ``:``. An item whose ``split('=', 2)`` has exactly two parts is *named*
  (``te=0.5``); anything else (``a=b=c`` too) is positional. A later named key overwrites an earlier one.
- LoRA multipliers, **TE first**: ``te = float(pos[1])`` else 1.0, then ``te=`` overrides;
  ``unet = float(pos[2])`` else ``te`` (after the ``te=`` override), then ``unet=`` overrides;
  ``dyn = int(pos[3])`` else None, then ``dyn=`` overrides. The name is ``pos[0]``.
- ``lyco`` (A1111 alias of the Lora network) and ``loractl`` (loractl's alias) are LoRA tags too
  (:data:`LORA_TAG_TYPES`); other types (``hypernet``, unknown ones) are kept by type with their raw items.

Extensions layered on the same tag, kept so later stages can use them:

- loractl keyframe text (``0@0,1@0.5``) in a te/unet slot stays a *string*; :func:`..loractl.loractl_weights`
  turns it into per-step weights. Plain numbers become floats exactly as A1111's ``float()`` does.
- lora-block-weight: ``lbw=``/``w=`` named, or a third positional item that is a preset name or a 12/17/20/26/61
  value list (lbw ``syntaxdealer``); ``lbwe=``, ``start=``, ``stop=``, ``step=a-b`` are copied as text.
"""
import re

from .block_weights import is_block_weight_spec
from .loractl import parse_keyframes

EXTRA_NETWORK_RE = re.compile(r"<(\w+):([^>]+)>")
LORA_TAG_TYPES = ("lora", "lyco", "loractl")


def split_tag_args(args):
    """A1111 ``ExtraNetworkParams``: ``(items, positional, named)`` from the text after ``<type:``."""
    items = args.split(":")
    positional, named = [], {}
    for item in items:
        parts = item.split("=", 2)
        if len(parts) == 2:
            named[parts[0]] = parts[1]
        else:
            positional.append(item)
    return items, positional, named


def _multiplier(text, tag, slot):
    """A1111 ``float(text)``; loractl keyframe text is kept as a string; anything else is an error."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parse_keyframes(text)
    except ValueError:
        raise ValueError(
            f"LoRA tag {tag!r}: the {slot} weight {text!r} is neither a number nor a loractl schedule "
            "like '0@0,1@0.5'; write a number such as 0.8") from None
    return text


def _lora_entry(tag_type, args, tag):
    items, positional, named = split_tag_args(args)
    if not positional:
        raise ValueError(f"LoRA tag {tag!r} has no name: the first item must be the LoRA name, "
                         f"e.g. <{tag_type}:my_lora:0.8>")
    lbw = named.get("lbw", named.get("w"))
    unet_pos = positional[2] if len(positional) > 2 else None
    if lbw is None and unet_pos is not None and "@" not in unet_pos and is_block_weight_spec(unet_pos):
        # lbw: a preset name or a block vector in A1111's unet slot is a block-weight spec, not a multiplier.
        lbw, unet_pos = unet_pos, None
    te = _multiplier(positional[1], tag, "te") if len(positional) > 1 else 1.0
    if "te" in named:
        te = _multiplier(named["te"], tag, "te")
    unet = _multiplier(unet_pos, tag, "unet") if unet_pos is not None else te
    if "unet" in named:
        unet = _multiplier(named["unet"], tag, "unet")
    dyn = None
    dyn_text = named["dyn"] if "dyn" in named else (positional[3] if len(positional) > 3 else None)
    if dyn_text is not None:
        try:
            dyn = int(dyn_text)
        except ValueError:
            raise ValueError(f"LoRA tag {tag!r}: dyn {dyn_text!r} must be a whole number of rank rows, "
                             "e.g. dyn=16") from None
    return {
        "type": tag_type, "name": positional[0], "te": te, "unet": unet, "dyn": dyn,
        "lbw": lbw, "lbwe": named.get("lbwe"), "start": named.get("start"), "stop": named.get("stop"),
        "step": named.get("step"), "items": items, "positional": positional, "named": named,
        "args": args, "tag": tag,
    }


def _other_entry(tag_type, args, tag):
    items, positional, named = split_tag_args(args)
    entry = {"type": tag_type, "name": positional[0] if positional else None, "items": items,
             "positional": positional, "named": named, "args": args, "tag": tag}
    if tag_type == "hypernet":
        # A1111 extra_networks_hypernet: multiplier = float(pos[1]) if given, else 1.0.
        entry["multiplier"] = float(positional[1]) if len(positional) > 1 else 1.0
    return entry


def parse_extra_networks(prompt):
    """A1111 ``extra_networks.parse_prompt``: ``(prompt_without_tags, {type: [entry, ...]})``.

    Each LoRA entry holds ``name``, ``te``, ``unet``, ``dyn`` (floats/int as A1111 computes them, or the raw loractl
    schedule text), ``lbw``/``lbwe``/``start``/``stop``/``step`` text or None, and the raw ``items``,
    ``positional``, ``named``, ``args`` and ``tag``. Types appear in order of first occurrence; entries in prompt
    order. A malformed LoRA tag raises ValueError naming the tag.
    """
    if not isinstance(prompt, str):
        raise ValueError(f"parse_extra_networks needs the prompt text, got {type(prompt).__name__}")
    networks = {}

    def found(match):
        tag_type, args = match.group(1), match.group(2)
        make = _lora_entry if tag_type in LORA_TAG_TYPES else _other_entry
        networks.setdefault(tag_type, []).append(make(tag_type, args, match.group(0)))
        return ""

    return EXTRA_NETWORK_RE.sub(found, prompt), networks


def lora_entries(networks):
    """All LoRA entries of a parsed prompt, ``lora`` + aliases merged the way A1111 ``lookup_extra_networks`` does
    (per type in first-appearance order). Duplicate names are kept; loractl keeps only the first one's schedule."""
    return [entry for tag_type, entries in networks.items() if tag_type in LORA_TAG_TYPES for entry in entries]
