"""parse_extra_networks against A1111 semantics, expected values derived by hand from A1111's regex
``<(\\w+):([^>]+)>``, ``ExtraNetworkParams`` (``split('=', 2)`` → exactly 2 parts is named) and
``ExtraNetworkLora.activate`` (te = pos[1]/te=, unet = pos[2]/unet= else te, dyn = pos[3]/dyn=)."""
import pytest

from forgeline.lora import lora_entries, parse_extra_networks, split_tag_args


def only_lora(prompt):
    text, nets = parse_extra_networks(prompt)
    return text, nets["lora"]


def test_tag_removed_and_surrounding_spaces_kept():
    text, loras = only_lora("a <lora:x:0.5> b")
    assert text == "a  b"
    assert (loras[0]["name"], loras[0]["te"], loras[0]["unet"], loras[0]["dyn"]) == ("x", 0.5, 0.5, None)


def test_defaults_te_one_unet_follows_te():
    _, loras = only_lora("<lora:x>")
    assert (loras[0]["te"], loras[0]["unet"]) == (1.0, 1.0)


def test_positional_te_unet_dyn_order_is_te_first():
    _, loras = only_lora("<lora:x:0.5:0.25:16>")
    assert (loras[0]["te"], loras[0]["unet"], loras[0]["dyn"]) == (0.5, 0.25, 16)


def test_named_overrides_and_unet_cascades_from_named_te():
    _, loras = only_lora("<lora:x:unet=0.3:te=0.7><lora:y:te=0.4><lora:z:0.9:te=0.2:dyn=8>")
    assert [(e["te"], e["unet"]) for e in loras] == [(0.7, 0.3), (0.4, 0.4), (0.2, 0.2)]
    assert loras[2]["dyn"] == 8


def test_non_matching_tags_stay_in_text():
    text, nets = parse_extra_networks("<lora:> <lo-ra:x:1> <lora:x:1")
    assert text == "<lora:> <lo-ra:x:1> <lora:x:1"
    assert nets == {}


def test_other_types_kept_by_type_in_first_appearance_order():
    text, nets = parse_extra_networks("<hypernet:h:0.3>cat<foo:bar:baz><lora:l:1><hypernet:g>")
    assert text == "cat"
    assert list(nets) == ["hypernet", "foo", "lora"]
    assert [e["name"] for e in nets["hypernet"]] == ["h", "g"]
    assert [e["multiplier"] for e in nets["hypernet"]] == [0.3, 1.0]
    assert nets["foo"][0]["items"] == ["bar", "baz"]


def test_item_with_two_equals_is_positional():
    items, positional, named = split_tag_args("x:a=b=c:k=v")
    assert items == ["x", "a=b=c", "k=v"]
    assert positional == ["x", "a=b=c"]
    assert named == {"k": "v"}


def test_loractl_schedule_text_is_kept_raw():
    _, loras = only_lora("<lora:x:0@0,1@0.5:hr=1@0,0@1>")
    assert loras[0]["te"] == "0@0,1@0.5" and loras[0]["unet"] == "0@0,1@0.5"
    assert loras[0]["named"] == {"hr": "1@0,0@1"}


def test_readme_semicolon_hr_quirk_becomes_a_named_item():
    # "0@0,1@1;hr=1@0,0@1".split("=", 2) has two parts, so A1111 files it as a named key; te stays 1.0.
    _, loras = only_lora("<lora:network:0@0,1@1;hr=1@0,0@1>")
    assert loras[0]["named"] == {"0@0,1@1;hr": "1@0,0@1"}
    assert loras[0]["te"] == 1.0


def test_lbw_forms():
    _, loras = only_lora("<lora:a:1:lbw=MIDD><lora:b:0.5:MIDD><lora:c:1:" + ",".join(["1"] * 17) + ">")
    assert [e["lbw"] for e in loras] == ["MIDD", "MIDD", ",".join(["1"] * 17)]
    assert [(e["te"], e["unet"]) for e in loras] == [(1.0, 1.0), (0.5, 0.5), (1.0, 1.0)]


def test_lyco_alias_merged_by_lora_entries():
    _, nets = parse_extra_networks("<lora:a:1> <lyco:b:0.5> <lora:c:1>")
    assert [e["name"] for e in lora_entries(nets)] == ["a", "c", "b"]


@pytest.mark.parametrize("prompt, needle", [
    ("<lora:x:abc>", "abc"),
    ("<lora:te=1>", "no name"),
    ("<lora:x:1:1:1.5>", "1.5"),
])
def test_bad_tags_raise_value_error_naming_the_text(prompt, needle):
    with pytest.raises(ValueError, match=needle):
        parse_extra_networks(prompt)
