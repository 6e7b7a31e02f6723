"""A1111 X/Y/Z value syntax, axis types and cell order.

Expected values are worked out by hand from AUTOMATIC1111/stable-diffusion-webui:scripts/xyz_grid.py: the regexes
``re_range`` / ``re_range_count`` / ``re_range_float`` / ``re_range_count_float`` and the ``process_axis`` branches
(``range(start, end + 1, step)``, ``int()`` of ``np.linspace``, ``np.arange(start, end + step, step)``),
``csv_string_to_list_strip``, ``apply_prompt``, ``apply_order``, ``fix_axis_seeds``, the ``format_value*``
functions, and ``draw_xyz_grid``'s index / loop order.
"""
import random

import pytest

from forgeline.xyz import AxisContext, AxisError, AxisValueError, enumerate_cells, parse_axis, processing_order
from forgeline.xyz import axis_values as av
from forgeline.xyz.axes import closest_checkpoint


# --- csv_string_to_list_strip -------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("a, b ,c", ["a", "b", "c"]),
    ('"a, b", c', ["a, b", "c"]),  # csv quoting keeps the comma
    ("a,b\nc", ["a", "b", "c"]),  # every line is a csv row, rows chained
    ("", []),
    ("a,,b", ["a", "", "b"]),
])
def test_csv_split(text, expected):
    assert av.split_values(text) == expected


# --- integer axes (re_range, re_range_count) --------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("1-5", [1, 2, 3, 4, 5]),  # range(1, 5 + 1)
    ("1-10 (+2)", [1, 3, 5, 7, 9]),  # range(1, 11, 2)
    ("10-1 (-3)", [10, 7, 4]),  # range(10, 2, -3): the end stays b + 1 when counting down
    ("1-10 [5]", [1, 3, 5, 7, 10]),  # int(linspace(1, 10, 5)) = int(1, 3.25, 5.5, 7.75, 10)
    ("1-10 []", None),  # not a range form: falls through to int() and fails
    ("8, 12, 20", [8, 12, 20]),
    ("-1", [-1]),
    ("-3-3", [-3, -2, -1, 0, 1, 2, 3]),
    (" 5 - 7 ", [5, 6, 7]),
    ("0-10 [3]", [0, 5, 10]),
    ("5-5", [5]),
    ("1-5, 20", [1, 2, 3, 4, 5, 20]),
])
def test_int_ranges(text, expected):
    if expected is None:
        with pytest.raises(AxisValueError):
            av.parse_ints(text)
    else:
        assert av.parse_ints(text) == expected


@pytest.mark.parametrize("text", ["1-x", "abc", "3.5", "1-10 (2)", "1-10 (+2", ""])
def test_int_errors_name_the_value(text):
    if text == "":
        assert av.parse_ints(text) == []  # empty axis: no values (parse_axis refuses it)
        return
    with pytest.raises(AxisValueError) as e:
        av.parse_ints(text)
    assert repr(text) in str(e.value) and "range" in str(e.value)


# --- float axes (re_range_float, re_range_count_float) ---------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("1-3", [1.0, 2.0, 3.0]),  # arange(1, 3 + 1, 1)
    ("0-1 (+0.25)", [0.0, 0.25, 0.5, 0.75, 1.0]),  # arange(0, 1.25, 0.25)
    ("1-0 (-0.5)", [1.0, 0.5, 0.0]),  # arange(1, -0.5, -0.5)
    ("0-1 [5]", [0.0, 0.25, 0.5, 0.75, 1.0]),  # linspace(0, 1, 5)
    ("0.5-1.5 [3]", [0.5, 1.0, 1.5]),
    ("7, 7.5", [7.0, 7.5]),
    # arange(0.1, 0.4, 0.1): numpy's length ceil((0.4 - 0.1) / 0.1) = ceil(3.0000000000000004) = 4 -> overshoot
    ("0.1-0.3 (+0.1)", [0.1, 0.2, 0.1 + 2 * 0.1, 0.1 + 3 * 0.1]),
])
def test_float_ranges(text, expected):
    assert av.parse_floats(text) == pytest.approx(expected, abs=1e-12)
    assert len(av.parse_floats(text)) == len(expected)


@pytest.mark.parametrize("text", ["1-x", "0-1 [2.5]", "1a5-2", "seven"])
def test_float_errors(text):
    # "0-1 [2.5]" matches re_range_count_float and then fails int("2.5"); "1a5-2" matches re_range_float (its '.'
    # is unescaped) and fails float("1a5"), as upstream.
    with pytest.raises(AxisValueError) as e:
        av.parse_floats(text)
    assert repr(text) in str(e.value)


# --- Prompt order, Prompt S/R, seeds ----------------------------------------------------------------------------
def test_prompt_order_permutations_and_apply():
    perms = av.parse_permutations("cat, dog, bird")
    assert perms[:3] == [("cat", "dog", "bird"), ("cat", "bird", "dog"), ("dog", "cat", "bird")]
    assert len(perms) == 6
    # apply_order: cut at each token (earliest first) and put the tokens back in the cell's order
    assert av.reorder_prompt("a cat and a dog, bird!", ("bird", "cat", "dog")) == "a bird and a cat, dog!"
    assert av.reorder_prompt("dog cat", ("cat", "dog")) == "cat dog"


def test_prompt_sr_replaces_in_both_prompts():
    assert av.replace_prompt("a red cat, red", "red eyes", "red", "blue") == ("a blue cat, blue", "blue eyes")
    assert av.replace_prompt("photo", "ugly", "ugly", "blurry") == ("photo", "blurry")
    with pytest.raises(AxisValueError, match="did not find 'green' in prompt or negative prompt"):
        av.replace_prompt("a red cat", "", "green", "blue")


def test_seed_minus_one_rule():
    rng = random.Random(5)
    expected = random.Random(5).randrange(4294967294)
    assert av.fix_seeds([1, -1, 7], rng) == [1, expected, 7]


# --- axis types: labels, checks, resolution --------------------------------------------------------------------
CTX = AxisContext(samplers=["forgeline_euler_a", "euler", "euler_ancestral", "dpmpp_2m"],
                  schedulers=["forgeline_karras", "normal", "karras", "simple"],
                  checkpoints=["sd15/a.safetensors", "b.safetensors", "abc_long.ckpt"],
                  upscalers=["Latent", "Lanczos"], has_hires=True)


def test_labels_follow_a1111_formatters():
    assert parse_axis("X", "Steps", "10-20 (+5)", CTX).labels == ["Steps: 10", "Steps: 15", "Steps: 20"]
    assert parse_axis("X", "CFG Scale", "7, 7.5", CTX).labels == ["CFG Scale: 7.0", "CFG Scale: 7.5"]
    # round(x, 8) before formatting
    assert parse_axis("X", "CFG Scale", "0.1-0.3 (+0.1)", CTX).labels[2] == "CFG Scale: 0.3"
    assert parse_axis("X", "Prompt S/R", "cat, dog", CTX).labels == ["cat", "dog"]  # format_value
    assert parse_axis("X", "Prompt order", "a, b", CTX).labels == ["a, b", "b, a"]  # format_value_join_list
    assert parse_axis("X", "Sampler", "Euler a, euler", CTX).labels == ["Euler a", "euler"]
    assert parse_axis("X", "Checkpoint name", "sd15/a.safetensors", CTX).labels == ["a.safetensors"]
    assert parse_axis("Z", "Nothing", "", CTX).labels == [""]


def test_names_resolve_like_a1111():
    assert parse_axis("X", "Sampler", "Euler a, EULER, DPM++ 2M", CTX).values == [
        "forgeline_euler_a", "euler", "dpmpp_2m"]
    assert parse_axis("X", "Schedule type", "Karras, Automatic", CTX).values == ["forgeline_karras", "normal"]
    assert parse_axis("X", "Hires upscaler", "lanczos", CTX).values == ["Lanczos"]
    # get_closet_checkpoint_match: exact, then without folder/extension, then the shortest name containing it
    assert closest_checkpoint("a", CTX.checkpoints) == "sd15/a.safetensors"
    assert closest_checkpoint("b.safetensors", CTX.checkpoints) == "b.safetensors"
    assert closest_checkpoint("long", CTX.checkpoints) == "abc_long.ckpt"
    assert closest_checkpoint("zzz", CTX.checkpoints) is None


@pytest.mark.parametrize("axis,label,text,words", [
    ("X", "Sampler", "Euler a, not_a_sampler", ["X axis (Sampler)", "not_a_sampler"]),
    ("Y", "Steps", "1-x", ["Y axis (Steps)", "'1-x'"]),
    ("Z", "Checkpoint name", "missing", ["Z axis (Checkpoint name)", "Unknown checkpoint", "missing"]),
    ("X", "Steps", "", ["X axis (Steps)", "no values"]),
    ("X", "Steps", "0-2", ["X axis (Steps)", "steps 0 is out of range"]),
    ("X", "Refiner switch at", "0.5", ["X axis (Refiner switch at)", "refiner"]),
    ("X", "Var. seed", "1, 2", ["X axis (Var. seed)", "variation_seed"]),
    ("X", "Bogus", "1", ["X axis", "unknown type 'Bogus'"]),
])
def test_axis_errors_name_axis_and_value(axis, label, text, words):
    with pytest.raises(AxisError) as e:
        parse_axis(axis, label, text, CTX)
    for w in words:
        assert w in str(e.value)


def test_seed_axis_fixes_minus_one_and_labels_the_drawn_seed():
    axis = parse_axis("X", "Seed", "-1, 5", CTX, rng=random.Random(3))
    drawn = random.Random(3).randrange(4294967294)
    assert axis.values == [drawn, 5]
    assert axis.labels == [f"Seed: {drawn}", "Seed: 5"]


# --- cells: order, settings, checks -------------------------------------------------------------------------------
BASE = {"seed": 1, "steps": 20, "cfg": 7.0, "positive": "a red cat", "negative": "", "hires": False,
        "denoise": 1.0, "hires_denoise": 0.7}


def _axes(x=("Steps", "10, 20, 30"), y=("CFG Scale", "5, 7"), z=("Nothing", "")):
    return [parse_axis(n, t, v, CTX) for n, (t, v) in zip("XYZ", (x, y, z))]


def test_cell_index_and_settings():
    cells = enumerate_cells(BASE, *_axes())
    # default loop order Z, Y, X (no costly axis): index = ix + iy * nx
    assert [(c.ix, c.iy, c.index) for c in cells] == [(0, 0, 0), (1, 0, 1), (2, 0, 2), (0, 1, 3), (1, 1, 4),
                                                      (2, 1, 5)]
    assert [(c.settings["steps"], c.settings["cfg"]) for c in cells] == [
        (10, 5.0), (20, 5.0), (30, 5.0), (10, 7.0), (20, 7.0), (30, 7.0)]
    assert cells[0].settings["seed"] == 1 and BASE["steps"] == 20  # base untouched


def test_costly_axis_is_the_outer_loop():
    x, y, z = _axes(x=("Steps", "1, 2"), y=("Checkpoint name", "a, b.safetensors"), z=("CFG Scale", "5, 6"))
    assert processing_order(x, y, z) == ("y", "z", "x")  # y costs 1.0; then 'z' (cx > cz is False)
    cells = enumerate_cells(BASE, x, y, z)
    assert [c.settings["ckpt_name"] for c in cells[:4]] == ["sd15/a.safetensors"] * 4
    assert sorted(c.index for c in cells) == list(range(8))
    first = cells[1]
    assert (first.ix, first.iy, first.iz, first.index) == (1, 0, 0, 1)


def test_prompt_sr_cells_and_missing_search_text():
    cells = enumerate_cells(BASE, *_axes(x=("Prompt S/R", "red, blue, green")))
    assert [c.settings["positive"] for c in cells[:3]] == ["a red cat", "a blue cat", "a green cat"]
    with pytest.raises(AxisError, match=r"X axis \(Prompt S/R\): Prompt S/R did not find 'pink'"):
        enumerate_cells(BASE, *_axes(x=("Prompt S/R", "pink, blue")))


def test_lora_strength_by_prompt_sr():
    base = dict(BASE, positive="a cat <lora:style:0.5>")
    cells = enumerate_cells(base, *_axes(x=("Prompt S/R", ":0.5>, :1>")))
    assert [c.settings["positive"] for c in cells[:2]] == ["a cat <lora:style:0.5>", "a cat <lora:style:1>"]


def test_denoising_sets_the_hires_pass_when_hires_is_on():
    cells = enumerate_cells(dict(BASE, hires=True), *_axes(x=("Denoising", "0.3")))
    assert cells[0].settings["hires_denoise"] == 0.3 and cells[0].settings["denoise"] == 1.0
    cells = enumerate_cells(BASE, *_axes(x=("Denoising", "0.3")))
    assert cells[0].settings["denoise"] == 0.3


def test_same_axis_type_twice_is_refused():
    with pytest.raises(AxisError, match="X and Z axes are both 'Steps'"):
        enumerate_cells(BASE, *_axes(x=("Steps", "1"), z=("Steps", "2")))
    enumerate_cells(BASE, *_axes(y=("Nothing", ""), z=("Nothing", "")))  # Nothing may repeat


def test_more_than_200_cells_need_confirmation():
    axes = _axes(x=("Steps", "1-21"), y=("CFG Scale", "1-10"), z=("Nothing", ""))  # 21 x 10 = 210
    with pytest.raises(AxisError, match=r"21 x 10 x 1 = 210 cells is more than 200.*confirm_large_grid"):
        enumerate_cells(BASE, *axes)
    assert len(enumerate_cells(BASE, *axes, confirmed=True)) == 210
    assert len(enumerate_cells(BASE, *_axes(x=("Steps", "1-20"), y=("CFG Scale", "1-10")))) == 200


def test_grid_infotext_params_follow_a1111():
    # AUTOMATIC1111/stable-diffusion-webui:scripts/xyz_grid.py Script.run.cell: a sub-grid carries Script and the
    # X / Y pairs (a Seed axis adds the seeds it resolved to); the main grid adds the Z pair; 'Nothing' is left out
    from forgeline.xyz import grid_infotext_params

    ctx = AxisContext(samplers=["euler"], schedulers=["normal"])
    axes = [parse_axis("X", "Steps", "2-4", ctx), parse_axis("Y", "Nothing", "", ctx),
            parse_axis("Z", "Seed", "-1, 5", ctx, rng=random.Random(0))]
    seeds = ", ".join(str(v) for v in axes[2].values)
    assert "-1" not in seeds and seeds.endswith(", 5")
    assert grid_infotext_params(axes, main=False) == {"Script": "X/Y/Z plot", "X Type": "Steps", "X Values": "2-4"}
    assert grid_infotext_params(axes, main=True) == {"Script": "X/Y/Z plot", "X Type": "Steps", "X Values": "2-4",
                                                     "Z Type": "Seed", "Z Values": "-1, 5",
                                                     "Fixed Z Values": seeds}
