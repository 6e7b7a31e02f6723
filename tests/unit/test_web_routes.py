"""Route handlers behind the editor previews (nodes/web_routes.py), without a server.

LoRA curve reference: cheald/sd-webui-loractl ``loractl/lib/utils.py`` re-derived here in float64 — fraction mode when
the largest position is ≤ 1, A1111 timing sees sampling_step max(i − 1, 0) at sampler step i and x = step / (steps − 2);
"exact" mode x = i / (steps − 1); the weight is linear between keyframes and clamped outside.
"""
import pytest

from forgeline.host.routes import lora_curve_route, parse_route


def interp(x, xs, ys):
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def test_lora_curve_loractl_timing():
    steps = 20
    got = lora_curve_route({"schedule": "0@0,1@0.5", "steps": steps})["unet"]
    want = [interp(max(i - 1, 0) / (steps - 2), [0.0, 0.5], [0.0, 1.0]) for i in range(steps)]
    assert got == pytest.approx(want, abs=1e-12)
    assert got[-1] == 1.0 and got[0] == 0.0 and got[1] == 0.0


def test_lora_curve_exact_mode_and_absolute_steps():
    got = lora_curve_route({"schedule": "1@0,0@1", "steps": 5, "mode": "exact"})["unet"]
    assert got == pytest.approx([1 - i / 4 for i in range(5)], abs=1e-12)
    got = lora_curve_route({"schedule": "0@2,1@6", "steps": 8, "mode": "exact"})["unet"]  # positions > 1: steps
    assert got == pytest.approx([interp(i, [2, 6], [0, 1]) for i in range(8)], abs=1e-12)


def test_lora_curve_te_then_unet_slots():
    # "0.5:1@0,0@1" is loractl's te slot 0.5 then the unet schedule (the loader's schedule text).
    res = lora_curve_route({"schedule": "0.5:0@0,1@1", "steps": 4, "mode": "exact"})
    assert res["te"] == [0.5] * 4
    assert res["unet"] == pytest.approx([0, 1 / 3, 2 / 3, 1], abs=1e-12)


@pytest.mark.parametrize("body, match", [
    ({"schedule": "", "steps": 10}, "schedule"),
    ({"schedule": "a@b", "steps": 10}, "weight@position"),
    ({"schedule": "1", "steps": 0}, "'steps' must be a whole number"),
    ({"schedule": "1", "steps": 2.5}, "'steps' must be a whole number"),
])
def test_lora_curve_bad_input(body, match):
    with pytest.raises(ValueError, match=match):
        lora_curve_route(body)


def test_parse_route_validates_its_body():
    assert parse_route({"text": "a (b:1.2)"})["diagnostics"] == []
    with pytest.raises(ValueError, match="'text'"):
        parse_route({"text": 3})
    with pytest.raises(ValueError, match="and_split"):
        parse_route({"text": "a", "and_split": "no"})
