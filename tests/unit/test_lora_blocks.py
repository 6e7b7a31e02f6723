"""Block weights vs the published lbw tables (hako-mikan/sd-webui-lora-block-weight ``scripts/lora_block_weight.py``:
BLOCKID lists, DEF_WEIGHT_PRESET strings, its ``BLOCKS`` key → block table in ComfyUI key form) and Inspire's
``lbw-preset.txt`` SDXL rows."""
import pytest

from forgeline.lora import (BLOCKID12, BLOCKID17, BLOCKID26, PRESETS, block_id, block_multiplier, block_multipliers,
                            block_vector, is_block_weight_spec)

PUBLISHED_PRESETS = """\
NONE:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
ALL:1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1
INS:1,1,1,1,0,0,0,0,0,0,0,0,0,0,0,0,0
IND:1,0,0,0,1,1,1,0,0,0,0,0,0,0,0,0,0
INALL:1,1,1,1,1,1,1,0,0,0,0,0,0,0,0,0,0
MIDD:1,0,0,0,1,1,1,1,1,1,1,1,0,0,0,0,0
OUTD:1,0,0,0,0,0,0,0,1,1,1,1,0,0,0,0,0
OUTS:1,0,0,0,0,0,0,0,0,0,0,0,1,1,1,1,1
OUTALL:1,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1,1
ALL0.5:0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5
SDXL-NONE:0,0,0,0,0,0,0,0,0,0,0,0
SDXL-ALL:1,1,1,1,1,1,1,1,1,1,1,1
SDXL-INALL:1,1,1,1,1,0,0,0,0,0,0,0
SDXL-MIDALL:1,0,0,0,0,1,0,0,0,0,0,0
SDXL-OUTALL:1,0,0,0,0,0,1,1,1,1,1,1
SD-MIDD:1,0,0,0,1,1,1,1,1,1,1,1,0,0,0,0,0"""


@pytest.mark.parametrize("line", PUBLISHED_PRESETS.splitlines())
def test_presets_match_published_strings(line):
    name, values = line.split(":")
    assert PRESETS[name] == values


def test_block_id_lists_match_notes():
    assert BLOCKID17 == "BASE,IN01,IN02,IN04,IN05,IN07,IN08,M00,OUT03,OUT04,OUT05,OUT06,OUT07,OUT08,OUT09,OUT10,OUT11".split(",")
    assert BLOCKID12 == "BASE,IN04,IN05,IN07,IN08,M00,OUT00,OUT01,OUT02,OUT03,OUT04,OUT05".split(",")
    assert len(BLOCKID26) == 26 and BLOCKID26[13] == "M00" and BLOCKID26[-1] == "OUT11"


def test_17_vector_expansion_zeroes_the_unlisted_blocks():
    vector = block_vector("ALL")
    zero = {"IN00", "IN03", "IN06", "IN09", "IN10", "IN11", "OUT00", "OUT01", "OUT02"}
    assert vector == [0.0 if name in zero else 1.0 for name in BLOCKID26]


def test_sdxl_12_vector_lands_on_its_named_slots():
    vector = block_vector("SDXL-INALL")
    ones = {"BASE", "IN04", "IN05", "IN07", "IN08"}
    assert vector == [1.0 if name in ones else 0.0 for name in BLOCKID26]


@pytest.mark.parametrize("key, expected", [
    ("diffusion_model.input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight", "IN04"),
    ("diffusion_model.input_blocks.1.0.in_layers.2.weight", "IN01"),
    ("diffusion_model.input_blocks.10.0.in_layers.2.weight", "IN10"),
    ("diffusion_model.middle_block.1.proj_in.weight", "M00"),
    ("diffusion_model.middle_block.2.out_layers.3.weight", "M00"),
    ("diffusion_model.output_blocks.11.1.transformer_blocks.0.ff.net.2.weight", "OUT11"),
    ("diffusion_model.output_blocks.5.2.conv.weight", "OUT05"),
    ("clip_l.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight", "BASE"),
    ("clip_g.transformer.text_model.encoder.layers.31.mlp.fc2.weight", "BASE"),
    ("diffusion_model.time_embed.0.weight", None),
    ("diffusion_model.label_emb.0.0.weight", None),
    ("diffusion_model.out.2.weight", None),
])
def test_key_to_block_table(key, expected):
    assert block_id(key) == expected


def test_multiplier_per_key_under_midd_and_unknown_keys_keep_one():
    keys = ["diffusion_model.input_blocks.5.1.proj_in.weight", "diffusion_model.input_blocks.1.1.proj_in.weight",
            "diffusion_model.output_blocks.3.1.proj_out.weight", "diffusion_model.output_blocks.7.1.proj_out.weight",
            "clip_l.transformer.text_model.encoder.layers.0.mlp.fc1.weight", "diffusion_model.time_embed.2.weight"]
    assert list(block_multipliers(keys, "MIDD").values()) == [1.0, 0.0, 1.0, 0.0, 1.0, 1.0]


def test_random_and_inherited_items():
    vector = block_vector("R,U,X,X+0.25,X-0.5,1,1,1,1,1,1,1", x=0.5, seed=3)
    r, u = vector[0], vector[BLOCKID26.index("IN04")]
    assert 0 <= r < 1 and -0.5 <= u <= 1.5 and round(r, 3) == r
    assert [vector[BLOCKID26.index(n)] for n in ("IN05", "IN07", "IN08")] == [0.5, 0.75, 0.0]
    assert block_vector("R,U,X,X+0.25,X-0.5,1,1,1,1,1,1,1", x=0.5, seed=3) == vector


def test_spec_detection_and_errors():
    assert is_block_weight_spec("MIDD") and is_block_weight_spec(",".join("1" * 12))
    assert not is_block_weight_spec("0.8") and not is_block_weight_spec("1,2,3")
    with pytest.raises(ValueError, match="12/17/20/26"):
        block_vector("1,2,3")
    with pytest.raises(ValueError, match="'q'"):
        block_vector("q," + ",".join("1" * 11))
    with pytest.raises(ValueError, match="26-value"):
        block_multiplier("diffusion_model.middle_block.1.proj_in.weight", [1.0] * 17)
