"""loractl schedules. Expected values: loractl's own ``test/tests.py`` assertions (cheald/sd-webui-loractl), a worked
example computed by hand from loractl's ``calculate_weight``, and hand-derived ``np.interp`` values for the quirks
(arithmetic in comments)."""
import pytest

from forgeline.lora import (LoractlStepsError, keyframe_weight, loractl_params, loractl_weights, parse_keyframes,
                            sampler_step_weight, sampler_step_weights)


def close(a, b, tol=1e-12):
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b))


# -- loractl test/tests.py ---------------------------------------------------------------------------------------------
def test_sorted_positions_reference_cases():
    assert parse_keyframes("1") == 1.0
    assert parse_keyframes("1@0,0.5@3,1@6") == [[1.0, 0.5, 1.0], [0.0, 3.0, 6.0]]
    assert parse_keyframes("0.5@3,1@6,1@0") == [[1.0, 0.5, 1.0], [0.0, 3.0, 6.0]]
    assert parse_keyframes("0.5@0,0.5@0.5,0@1") == [[0.5, 0.5, 0.0], [0.0, 0.5, 1.0]]
    assert parse_keyframes("1@0;0.5@3;1@6") == [[1.0, 0.5, 1.0], [0.0, 3.0, 6.0]]
    assert parse_keyframes("1~0;0.5~3") == [[1.0, 0.5], [0.0, 3.0]]


def test_weight_interpolation_reference_cases():
    steps = parse_keyframes("1.0")
    assert [keyframe_weight(steps, s, 30) for s in (0, 15, 30)] == [1.0, 1.0, 1.0]
    steps = parse_keyframes("0.75@0;0.5@3;1@6")
    assert [keyframe_weight(steps, s, 30) for s in (0, 3, 6, 9)] == [0.75, 0.5, 1.0, 1.0]
    steps = parse_keyframes("0.5@5,1.0@10")
    assert [keyframe_weight(steps, s, 30) for s in (0, 5, 15)] == [0.5, 0.5, 1.0]
    assert abs(keyframe_weight(steps, 8, 30) - 0.8) < 1e-12


SCHED = [[0.5, 1.0], [0.0, 1.0]]


@pytest.mark.parametrize("args, expected", [
    ("loraname:1.0", {"te": 1.0, "unet": 1.0, "hrte": 1.0, "hrunet": 1.0}),
    ("loraname:0.5@0,1@1:hr=0.6", {"te": SCHED, "unet": SCHED, "hrte": 0.6, "hrunet": 0.6}),
    ("loraname:te=0.5@0,1@1", {"te": SCHED, "unet": SCHED, "hrte": SCHED, "hrunet": SCHED}),
    ("loraname:unet=0.5@0,1@1", {"te": 1.0, "unet": SCHED, "hrte": 1.0, "hrunet": SCHED}),
    ("loraname:unet=0.5@0,1@1:hrte=0.5", {"te": 1.0, "unet": SCHED, "hrte": 0.5, "hrunet": SCHED}),
    ("loraname:hr=0.6:hrte=0.5", {"te": 1.0, "unet": 1.0, "hrte": 0.5, "hrunet": 0.6}),
    ("loraname:0.8@0.15,0@0.3:hr=0", {"te": [[0.8, 0.0], [0.15, 0.3]], "unet": [[0.8, 0.0], [0.15, 0.3]],
                                       "hrte": 0.0, "hrunet": 0.0}),
])
def test_params_to_weights_reference_cases(args, expected):
    assert loractl_params(args) == expected


# -- worked example, by hand from loractl calculate_weight -------------------------------------------------------------
def test_notes_example_first_pass_and_hires():
    w = loractl_weights("<lora:network:0@0.4,0.7@0.8:hr=0.7@0,0@0.5>", 20, 10)
    # x = s/18; weight = 0.7·(x − 0.4)/0.4 between the keyframes, 0 before, 0.7 after.
    expected = [0.0] * 8 + [0.7 * (s / 18 - 0.4) / 0.4 for s in range(8, 15)] + [0.7] * 5
    assert close(w["unet"], expected) and close(w["te"], expected)
    assert abs(w["unet"][8] - 0.0778) < 1e-4 and abs(w["unet"][9] - 0.175) < 1e-12 and abs(w["unet"][14] - 0.661) < 1e-3
    assert close(w["hrunet"], [0.7, 0.525, 0.35, 0.175] + [0.0] * 6)
    assert close(w["hrte"], w["hrunet"])


# -- quirks (loractl utils.py sorted_positions / calculate_weight) -----------------------------------------------------
def test_first_entry_without_position_makes_the_whole_value_a_scalar():
    assert parse_keyframes("1,0@5") == 1.0
    assert loractl_weights("x:1,0@5", 10)["unet"] == [1.0] * 10


def test_later_entry_without_position_or_with_two_ats_gets_position_one():
    assert parse_keyframes("0@0,1") == [[0.0, 1.0], [0.0, 1.0]]
    assert parse_keyframes("0@0,1@0.5@9") == [[0.0, 1.0], [0.0, 1.0]]


def test_mixed_positions_are_absolute_when_the_last_exceeds_one():
    # positions [0.5, 10] → absolute: at step 5, (5 − 0.5)/(10 − 0.5) = 9/19
    assert abs(keyframe_weight(parse_keyframes("0@0.5,1@10"), 5, 20) - 9 / 19) < 1e-12


def test_two_step_fraction_schedule_divides_by_zero_like_loractl():
    with pytest.raises(LoractlStepsError) as err:
        loractl_weights("x:0@0,1@1", 2)
    assert isinstance(err.value, ValueError) and isinstance(err.value, ZeroDivisionError)
    assert loractl_weights("x:0@0,1@5", 2)["unet"] == [0.0, 0.2]   # absolute mode is fine


def test_one_step_fraction_schedule_uses_first_weight():
    assert loractl_weights("x:0.2@0,1@1", 1)["unet"] == [0.2]      # x = 0 / (1 − 2) = −0.0


@pytest.mark.parametrize("bad", ["x:0@x", "x:0@0,", "x:abc@1"])
def test_malformed_schedule_names_the_text(bad):
    with pytest.raises(ValueError, match="loractl schedule"):
        loractl_weights(bad, 10)


# -- step mapping modes --------------------------------------------------------------------------------------------------
def test_loractl_mode_lags_one_step_and_exact_mode_does_not():
    raw = loractl_weights("x:0@0,1@1", 5)["unet"]                 # s/3
    assert close(raw, [0, 1 / 3, 2 / 3, 1, 1])
    lag = sampler_step_weights("x:0@0,1@1", 5, mode="loractl")
    assert close(lag["unet"], [0, 0, 1 / 3, 2 / 3, 1])               # step i sees sampling_step max(i − 1, 0)
    assert lag["te"] == [0.0] * 5                                    # TE encoded once, at step 0
    exact = sampler_step_weights("x:0@0,1@1", 5, mode="exact")
    assert close(exact["unet"], [0, 0.25, 0.5, 0.75, 1]) and close(exact["te"], exact["unet"])


def test_sampler_step_weight_absolute_positions():
    assert sampler_step_weight("0@2,1@4", 3, 10, mode="exact") == 0.5
    assert sampler_step_weight("0@2,1@4", 3, 10, mode="loractl") == 0.0   # sees step 2
    with pytest.raises(ValueError, match="mode"):
        sampler_step_weight("1", 0, 10, mode="fast")
