"""Extra-network tags on bad input, against A1111's own code (read from AUTOMATIC1111/stable-diffusion-webui):

- ``modules/extra_networks.py``: ``re_extra_net = re.compile(r"<(\\w+):([^>]+)>")``, ``parse_prompt`` replaces
  every match by "" and splits its args on ":"; ``ExtraNetworkParams`` makes an item named when
  ``item.split('=', 2)`` has two parts. ``activate`` wraps each network's ``activate`` in try/except and only
  displays the error, so a bad tag never fails the generation.
- ``extensions-builtin/Lora/extra_networks_lora.py`` ``activate``: name ``positional[0]``, ``te = float(pos[1])``,
  ``float(named['te'])``, ``unet = float(pos[2])`` else te, ``float(named['unet'])``, ``dyn = int(pos[3])``
  **then** ``int(named['dyn'])``.
- ``modules/extra_networks_hypernet.py`` ``activate``: name ``items[0]``, multiplier ``float(items[1])``.

The expected values below are what those lines compute, worked by hand.
"""
import random
import re

import pytest

from forgeline.lora import lora_entries, parse_extra_networks
from forgeline.lora.extra_networks import (EXTRA_NETWORK_RE, TagNumberError, find_tags, fullmatch_tag, tag_warnings,
                                           usable_entries)

A1111_RE = re.compile(r"<(\w+):([^>]+)>")  # A1111 modules/extra_networks.py re_extra_net, verbatim


def test_linear_scanner_matches_a1111_regex_on_random_text():
    rng = random.Random(7)
    alphabet = "<>:ab_=\u00e9 \n1<"
    for _ in range(20000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        want = [(m.span(), m.group(1), m.group(2)) for m in A1111_RE.finditer(s)]
        got = [(m.span(), m.group(1), m.group(2)) for m in find_tags(s)]
        assert got == want, s
        assert (fullmatch_tag(s) is None) == (A1111_RE.fullmatch(s) is None), s
        assert EXTRA_NETWORK_RE.sub("", s) == A1111_RE.sub("", s), s


@pytest.mark.parametrize("text", ["<a:" * 70000, "<" * 200000, "<lora:" + "x" * 200000, "<a:>" * 50000])
def test_adversarial_200k_prompts_finish(text):
    # The regex re-scans to the end from every '<' (quadratic: minutes for 200 KB); the scanner is one pass. None of
    # these holds a tag for A1111's regex (no '>' after the ':', or an empty argument), so the text stays as it is.
    stripped, nets = parse_extra_networks(text, strict=False)
    assert stripped == text and nets == {}
    assert A1111_RE.sub("", text[:3001]) == text[:3001]


def test_hypernet_name_is_the_first_item():
    # extra_networks_hypernet: names.append(params.items[0]); float(params.items[1]) -> "n=1" at 0.5.
    _, nets = parse_extra_networks("<hypernet:n=1:0.5>")
    (entry,) = nets["hypernet"]
    assert (entry["name"], entry["multiplier"]) == ("n=1", 0.5)


def test_non_integer_fourth_positional_fails_before_dyn_applies():
    # items ['', '7', '0', '', 'dyn=6']: positional ['', '7', '0', ''] -> int('') raises before named dyn is read.
    with pytest.raises(ValueError, match=r"fourth item \(dyn\) ''"):
        parse_extra_networks("<lora::7:0::dyn=6>")
    _, nets = parse_extra_networks("<lora:x:1:0.5:8:dyn=6>")
    assert nets["lora"][0]["dyn"] == 6 and nets["lora"][0]["unet"] == 0.5


def test_bad_tag_is_skipped_with_a_warning_and_the_rest_applies():
    text, nets = parse_extra_networks("a <lora:x:abc> b <lora:y:0.5> <hypernet:h:zz> c", strict=False)
    assert text == "a  b   c"
    assert [e["name"] for e in lora_entries(nets)] == ["y"]
    warnings = tag_warnings(nets)
    assert len(warnings) == 2 and "'<lora:x:abc>'" in warnings[0] and "'<hypernet:h:zz>'" in warnings[1]


@pytest.mark.parametrize("tag", ["<lora::7:0::dyn=6>", "<lora:te=1>", "<lora:x:1:1:1.5>", "<hypernet:h:x>"])
def test_strict_mode_still_raises_naming_the_tag(tag):
    with pytest.raises(ValueError, match=re.escape(tag)):
        parse_extra_networks(tag)
    _, nets = parse_extra_networks(tag, strict=False)
    assert tag_warnings(nets) and not lora_entries(nets)


@pytest.mark.parametrize("tag", ["<lora:x:nan>", "<lora:x:1:unet=inf>", "<lora:x:1e400>", "<lora:x:0@0,nan@1>",
                                 "<hypernet:h:1e999>", "<lora:x:101>"])
def test_non_finite_numbers_are_refused_not_skipped(tag):
    with pytest.raises(TagNumberError, match="not a finite number"):
        parse_extra_networks(tag, strict=False)


def test_missing_lora_is_skipped_like_a1111_networks_not_found():
    _, nets = parse_extra_networks("<lora:here:1> <lora:gone:1>")

    def resolve(name):
        if name != "here":
            raise ValueError(f"LoRA '{name}' not found")
    found, warnings = usable_entries(lora_entries(nets), resolve)
    assert [e["name"] for e in found] == ["here"] and "'<lora:gone:1>'" in warnings[0]
