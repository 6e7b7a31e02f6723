"""A1111 extra-network tags: ``<type:arg1:arg2:...>`` parsed and stripped from a prompt.

Rules (A1111 ``modules/extra_networks.py`` ``parse_prompt`` / ``ExtraNetworkParams``,
``extensions-builtin/Lora/extra_networks_lora.py`` ``ExtraNetworkLora.activate`` and
``modules/extra_networks_hypernet.py`` ``ExtraNetworkHypernet.activate``):

- A tag is what A1111's regex ``<(\\w+):([^>]+)>`` matches; every match is replaced by ``""`` (surrounding spaces
  are kept, so ``"a <lora:x:1> b"`` leaves ``"a  b"``). ``<lora:>`` does not match and stays in the text. The
  regex is evaluated by a linear scan (:func:`find_tags`), not by ``re``: on ``"<a:" * 70000`` (no ``>``) the
  backtracking engine re-scans the rest of the text from every ``<``, which is quadratic (minutes for 200 KB).
- The args are split on ``:``. An item whose ``split('=', 2)`` has exactly two parts is *named*
  (``te=0.5``); anything else (``a=b=c`` too) is positional. A later named key overwrites an earlier one.
- LoRA multipliers, **TE first**: ``te = float(pos[1])`` else 1.0, then ``te=`` overrides;
  ``unet = float(pos[2])`` else ``te`` (after the ``te=`` override), then ``unet=`` overrides;
  ``dyn = int(pos[3])`` else None, **then** ``dyn=`` overrides (so a fourth positional that is not a whole number
  is an error even when ``dyn=`` is given: ``<lora::7:0::dyn=6>`` fails on ``int('')``). The name is ``pos[0]``.
- Hypernetworks take the name from the first *item* and ``float(items[1])`` (items, not positional:
  ``<hypernet:n=1:0.5>`` is the hypernetwork ``n=1`` at 0.5).
- ``lyco`` (A1111 alias of the Lora network) and ``loractl`` (loractl's alias) are LoRA tags too
  (:data:`LORA_TAG_TYPES`); other types (unknown ones) are kept by type with their raw items.
- A bad tag: A1111's ``activate`` raises on it and ``extra_networks.activate`` only displays the error, so the
  prompt still generates. With ``strict=False`` (the prompt and LoRA-tag nodes) a bad tag becomes an entry with
  an ``"error"`` message, skipped by :func:`lora_entries` and listed by :func:`tag_warnings`; the rest of the prompt
  and the other tags apply. (A1111 drops *every* LoRA of that prompt when one tag is bad, since one exception ends
  its loop; Forgeline skips only the bad tag. See README.) ``strict=True`` raises ValueError naming the tag.

Extensions layered on the same tag, kept so later stages can use them:

- loractl keyframe text (``0@0,1@0.5``) in a te/unet slot stays a *string*; :func:`..loractl.loractl_weights`
  turns it into per-step weights. Plain numbers become floats exactly as A1111's ``float()`` does.
- lora-block-weight: ``lbw=``/``w=`` named, or a third positional item that is a preset name or a 12/17/20/26/61
  value list (lbw ``syntaxdealer``); ``lbwe=``, ``start=``, ``stop=``, ``step=a-b`` are copied as text.
"""
import math

from ..limits.checks import LimitError
from ..limits.values import MAX_STRENGTH
from .block_weights import is_block_weight_spec
from .loractl import parse_keyframes

LORA_TAG_TYPES = ("lora", "lyco", "loractl")


class TagMatch:
    """One tag found by :func:`find_tags`, shaped like an ``re.Match`` of A1111's ``<(\\w+):([^>]+)>``."""

    __slots__ = ("string", "_start", "_colon", "_end")

    def __init__(self, string, start, colon, end):
        self.string, self._start, self._colon, self._end = string, start, colon, end

    def start(self):
        return self._start

    def end(self):
        return self._end

    def span(self):
        return self._start, self._end

    def group(self, index=0):
        if index == 0:
            return self.string[self._start:self._end]
        if index == 1:
            return self.string[self._start + 1:self._colon]
        if index == 2:
            return self.string[self._colon + 1:self._end - 1]
        raise IndexError("no such group")


def _is_word(ch):
    """Python ``re``'s ``\\w`` for str patterns: Unicode alphanumerics and the underscore."""
    return ch == "_" or ch.isalnum()


def find_tags(text):
    """Yield every match of ``<(\\w+):([^>]+)>`` in ``text``, left to right, non-overlapping (``re.finditer``).

    Linear: a ``<`` starts a match only if a non-empty run of word characters follows it, then ``:``, then at
    least one character before the next ``>`` (``[^>]+`` takes everything up to the first ``>``, newlines and
    ``<`` included). The position of the next ``>`` is remembered, so the text is scanned for it once."""
    n, i, gt = len(text), 0, -1
    while True:
        p = text.find("<", i)
        if p < 0:
            return
        q = p + 1
        while q < n and _is_word(text[q]):
            q += 1
        if q == p + 1 or q >= n or text[q] != ":":
            i = max(q, p + 1)
            continue
        if gt <= q:  # the remembered '>' lies before this tag's arguments: look again from here
            gt = text.find(">", q + 1)
            if gt < 0:
                return  # no '>' after this point: no later '<' can match either
        if gt == q + 1:  # "<a:>": [^>]+ needs one character
            i = q + 1
            continue
        yield TagMatch(text, p, q, gt + 1)
        i = gt + 1


def fullmatch_tag(text):
    """The :class:`TagMatch` when the whole of ``text`` is one tag (``re.fullmatch`` of the tag regex), else None."""
    for match in find_tags(text):
        return match if match.start() == 0 and match.end() == len(text) else None
    return None


class _TagPattern:
    """``EXTRA_NETWORK_RE`` kept for callers of the former compiled regex: ``finditer`` and ``sub``, linear."""

    pattern = r"<(\w+):([^>]+)>"

    def finditer(self, text):
        return find_tags(text)

    def sub(self, repl, text):
        out, last = [], 0
        for match in find_tags(text):
            out.append(text[last:match.start()])
            out.append(repl(match) if callable(repl) else repl)
            last = match.end()
        out.append(text[last:])
        return "".join(out)


EXTRA_NETWORK_RE = _TagPattern()


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


class TagNumberError(ValueError):
    """A tag number that is NaN, inf or beyond ``limits.MAX_STRENGTH``: refused (A1111 would apply it and produce a
    NaN or burnt image), never skipped."""


def _multiplier(text, tag, slot):
    """A1111 ``float(text)``; loractl keyframe text is kept as a string; anything else is an error."""
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value) or abs(value) > MAX_STRENGTH:
            raise TagNumberError(f"LoRA tag {tag!r}: the {slot} weight {text!r} is not a finite number within "
                                 f"+/-{MAX_STRENGTH:g}; write a weight such as 0.8")
        return value
    try:
        parse_keyframes(text)
    except LimitError as e:
        raise TagNumberError(f"LoRA tag {tag!r}: {e}") from None
    except ValueError:
        raise ValueError(
            f"LoRA tag {tag!r}: the {slot} weight {text!r} is neither a number nor a loractl schedule "
            "like '0@0,1@0.5'; write a number such as 0.8") from None
    return text


def _whole(text, tag, what):
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"LoRA tag {tag!r}: {what} {text!r} must be a whole number of rank rows (A1111 calls int() "
                         "on it), e.g. dyn=16; leave the fourth item out if you give dyn=") from None


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
    # A1111 order: int(positional[3]) first (it raises even when dyn= follows), then dyn= overrides.
    dyn = _whole(positional[3], tag, "the fourth item (dyn)") if len(positional) > 3 else None
    if "dyn" in named:
        dyn = _whole(named["dyn"], tag, "dyn")
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
        # A1111 extra_networks_hypernet: name = items[0], multiplier = float(items[1]) if given, else 1.0.
        entry["name"] = items[0]
        try:
            entry["multiplier"] = float(items[1]) if len(items) > 1 else 1.0
        except ValueError:
            raise ValueError(f"hypernetwork tag {tag!r}: the multiplier {items[1]!r} is not a number; write "
                             "<hypernet:name:0.8>") from None
        if not math.isfinite(entry["multiplier"]) or abs(entry["multiplier"]) > MAX_STRENGTH:
            raise TagNumberError(f"hypernetwork tag {tag!r}: the multiplier {items[1]!r} is not a finite number "
                                 f"within +/-{MAX_STRENGTH:g}; write a multiplier such as 0.8")
    return entry


def parse_extra_networks(prompt, strict=True):
    """A1111 ``extra_networks.parse_prompt``: ``(prompt_without_tags, {type: [entry, ...]})``.

    Each LoRA entry holds ``name``, ``te``, ``unet``, ``dyn`` (floats/int as A1111 computes them, or the raw loractl
    schedule text), ``lbw``/``lbwe``/``start``/``stop``/``step`` text or None, and the raw ``items``,
    ``positional``, ``named``, ``args`` and ``tag``. Types appear in order of first occurrence; entries in prompt
    order. A malformed tag raises ValueError naming the tag when ``strict``; otherwise it becomes
    ``{"type", "tag", "args", "error"}`` (A1111 skips it; see :func:`tag_warnings`). A NaN/inf/huge number raises
    :class:`TagNumberError` either way. The tag is removed from the text in both cases, as in A1111.
    """
    if not isinstance(prompt, str):
        raise ValueError(f"parse_extra_networks needs the prompt text, got {type(prompt).__name__}")
    networks = {}

    def found(match):
        tag_type, args = match.group(1), match.group(2)
        make = _lora_entry if tag_type in LORA_TAG_TYPES else _other_entry
        try:
            entry = make(tag_type, args, match.group(0))
        except TagNumberError:
            raise
        except ValueError as e:
            if strict:
                raise
            entry = {"type": tag_type, "tag": match.group(0), "args": args, "error": str(e)}
        networks.setdefault(tag_type, []).append(entry)
        return ""

    return EXTRA_NETWORK_RE.sub(found, prompt), networks


def tag_warnings(networks):
    """One warning per skipped (bad) tag of a ``parse_extra_networks(..., strict=False)`` result."""
    return [f"skipped the tag {e['tag']!r} (A1111 skips it too): {e['error']}"
            for entries in networks.values() for e in entries if "error" in e]


def lora_entries(networks):
    """All LoRA entries of a parsed prompt, ``lora`` + aliases merged the way A1111 ``lookup_extra_networks`` does
    (per type in first-appearance order). Duplicate names are kept; loractl keeps only the first one's schedule.
    Skipped (bad) tags are left out."""
    return [entry for tag_type, entries in networks.items() if tag_type in LORA_TAG_TYPES for entry in entries
            if "error" not in entry]


def usable_entries(entries, resolve):
    """``(entries whose name ``resolve`` finds, warnings for the others)``: A1111 ``networks.load_networks`` logs
    "Networks not found" for a missing name and applies the rest; ``resolve(name)`` raises ValueError when the
    file is missing or outside the LoRA folders."""
    found, warnings = [], []
    for entry in entries:
        try:
            resolve(entry["name"])
        except ValueError as e:
            warnings.append(f"skipped the tag {entry.get('tag') or entry['name']!r} (A1111 skips a LoRA it cannot "
                            f"find too): {e}")
            continue
        found.append(entry)
    return found, warnings
