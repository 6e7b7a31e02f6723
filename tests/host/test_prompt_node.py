"""A1111 Prompt Encode in ComfyUI: step-indexed schedule selection, AND composition, SDXL (A1111
``modules/prompt_parser.py``, ``modules/sd_emphasis.py``, ``modules/sd_hijack_clip.py``).

Schedule references are A1111's ``get_learned_conditioning_prompt_schedules`` results derived by hand from the
``collect_steps`` step math (written out literally below) and the ``reconstruct_cond_batch`` rule (first entry with
``call ≤ end_at_step``), applied per model call of the real ComfyUI samplers.
"""
import pytest
import torch

import comfy.patcher_extension as pex
import comfy.sample
import comfy.sd

from forgeline.nodes import prompt_encode as pe
from forgeline.host import prompt_schedule as ps


def _load(family):
    from forgeline.tests.fixtures.models import ensure_checkpoint
    from forgeline.scripts.comfy_server import MODELS_CACHE

    path = ensure_checkpoint(family, MODELS_CACHE / "checkpoints")
    model, clip, _vae, _ = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=False, output_clip=True)
    return model, clip


@pytest.fixture(scope="module")
def sd15():
    return _load("sd15")


def a1111_entry(schedule, call):
    """A1111 ``reconstruct_cond_batch``: first entry with ``call <= end_at_step``, else entry 0."""
    return next((text for end, text in schedule if call <= end), schedule[0][1])


# (prompt, steps, A1111 schedule over steps, A1111 schedule over 2·steps) — by hand from A1111 collect_steps.
CASES = [
    ("a [b:2]", 4, [[2, "a "], [4, "a b"]], [[2, "a "], [8, "a b"]]),
    ("a [b:.5] c", 4, [[2, "a  c"], [4, "a b c"]], [[4, "a  c"], [8, "a b c"]]),
    ("[fe|]male", 4, [[1, "female"], [2, "male"], [3, "female"], [4, "male"]],
     [[t, "female" if t % 2 else "male"] for t in range(1, 9)]),
]


def _record_active(model, clip, positive, sampler, steps):
    """Run a real sampler with step semantics on; per model call, the positive entries that were evaluated."""
    m = ps.enable_step_schedules(model.clone())
    seen = []

    def probe(executor, mdl, conds, x_in, timestep, model_options):
        seen.append([e["cross_attn"] for e in conds[0]])
        return executor(mdl, conds, x_in, timestep, model_options)

    m.add_wrapper_with_key(pex.WrappersMP.CALC_COND_BATCH, "test.probe", probe)  # inner: sees the selection
    negative, _ = pe.encode_prompt(clip, "", pe.EncodeOptions(steps=steps, negative=True))
    latent = torch.zeros(1, 4, 8, 8)
    noise = comfy.sample.prepare_noise(latent, 5)
    comfy.sample.sample(m, noise, steps, 5.0, sampler, "karras", positive, negative, latent, seed=5)
    return seen


@pytest.mark.parametrize("prompt,steps,first_order,second_order", CASES)
@pytest.mark.parametrize("sampler", ["euler_ancestral", "dpmpp_2s_ancestral"])
def test_selection_per_model_call_equals_a1111(sd15, prompt, steps, first_order, second_order, sampler):
    model, clip = sd15
    positive, warnings = pe.encode_prompt(clip, prompt, pe.EncodeOptions(steps=steps))
    assert warnings == []
    schedule = second_order if sampler == "dpmpp_2s_ancestral" else first_order
    texts = {text for _, text in schedule}
    alone = {t: pe.encode_prompt(clip, t, pe.EncodeOptions(steps=steps))[0][0][0] for t in texts}
    seen = _record_active(model, clip, positive, sampler, steps)
    calls = 2 * steps - 1 if sampler == "dpmpp_2s_ancestral" else steps
    assert len(seen) == calls
    for call, active in enumerate(seen):
        assert len(active) == 1, f"call {call}: {len(active)} entries active"
        expected = a1111_entry(schedule, call)
        got = [t for t, z in alone.items() if torch.equal(z, active[0])]
        assert got == [expected], f"call {call}: got {got}, A1111 uses {expected!r}"


def test_stock_fallback_percent_ranges(sd15):
    _, clip = sd15
    cond, _ = pe.encode_prompt(clip, "a [b:2]", pe.EncodeOptions(steps=4))
    first = sorted((d["start_percent"], d["end_percent"]) for _, d in cond
                   if d["forgeline_schedule"]["mode"] == "first" and d["start_percent"] < 1.0)
    assert first == [(0.0, 0.75), (0.75, 1.0)]  # 'a ' on steps 0-2, 'a b' on step 3 (of 4)
    others = {(d["start_percent"], d["end_percent"]) for _, d in cond if d["forgeline_schedule"]["mode"] != "first"}
    assert others == {(1.0, 1.0)}  # never active under the stock sampler


def test_and_composition_is_additive_like_a1111():
    # A1111 CFGDenoiser: denoised = uncond + Σ w_i·cfg·(cond_i − uncond); the wrapper hands CFG
    # cond = uncond + Σ w_i (cond_i − uncond). Fake executor: each list's output is a known constant.
    values = {"p0": 3.0, "p1": -2.0, "u": 0.5}

    def executor(model, conds, x_in, timestep, model_options):
        return [torch.full((1,), values[c[0]["name"]]) for c in conds]

    def entry(name, part, weight):
        return {"name": name, ps.SCHEDULE_KEY: {"part": part, "weight": weight}}

    conds = [[entry("p0", 0, 1.0), entry("p1", 1, 0.5)], [{"name": "u"}]]
    cond, uncond = ps.compose_and_parts(executor, None, conds, None, None, {})
    assert cond.item() == pytest.approx(0.5 + 1.0 * (3.0 - 0.5) + 0.5 * (-2.0 - 0.5))
    assert uncond.item() == 0.5
    assert ps.compose_and_parts(executor, None, [[entry("p0", 0, 1.0)], [{"name": "u"}]], None, None, {}) is None


def test_stray_pipe_warns_and_disables_editing(sd15):
    _, clip = sd15
    cond, warnings = pe.encode_prompt(clip, "x | y [a:b:2]", pe.EncodeOptions(steps=4))
    assert any("'|'" in w and "x | y [a:b:2]" in w for w in warnings)
    assert len({id(z) for z, d in cond if d["forgeline_schedule"]["mode"] == "first"}) == 1  # one text, no switch


def test_lora_tags_stripped_and_exposed(sd15):
    _, clip = sd15
    cond, _ = pe.encode_prompt(clip, "a cat <lora:style:0.7:0.3>", pe.EncodeOptions(steps=4))
    plain, _ = pe.encode_prompt(clip, "a cat ", pe.EncodeOptions(steps=4))
    assert torch.equal(cond[0][0], plain[0][0])
    (tag,) = cond[0][1][pe.LORA_KEY]
    assert (tag["name"], tag["te"], tag["unet"]) == ("style", 0.7, 0.3)


def test_unparsable_weight_reports_the_text(sd15):
    _, clip = sd15
    with pytest.raises(ValueError, match=r"1\.2\.3"):
        pe.encode_prompt(clip, "a (cat:1.2.3)", pe.EncodeOptions(steps=4))


@pytest.mark.parametrize("text", ["(" * 10000 + "a" + ")" * 10000, "[a:b:" * 2000 + "x" + "]" * 3000,
                                  "a|(b:[c" * 12500])
def test_pathological_input_is_bounded(sd15, text):
    """Bounded by counts: the whole encode runs under a recursion limit far below the nesting depth."""
    import sys
    _, clip = sd15
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(600)
    try:
        pe.encode_prompt(clip, text, pe.EncodeOptions(steps=20))
    except ValueError:
        pass
    finally:
        sys.setrecursionlimit(limit)


# --- SDXL -------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sdxl():
    return _load("sdxl")[1]


def test_sdxl_weighted_equals_emphasis_on_stock_encoders(sdxl):
    # Unweighted ASCII single chunk: ComfyUI's SDXL encode is A1111's (L hidden −2 no LN, G penultimate, G pad 0).
    # Reference: those stock outputs, emphasised per encoder in float64 (sd_emphasis: L 768 and G 1280 separately).
    stock, stock_pooled = sdxl.encode_from_tokens(sdxl.tokenize("a red cat"), return_pooled=True)
    (z, d), = [(z, d) for z, d in pe.encode_prompt(sdxl, "a (red:1.3) cat", pe.EncodeOptions(steps=4))[0]
               if d["forgeline_schedule"]["mode"] == "first"]
    w = torch.ones(1, 77, 1, dtype=torch.float64)
    w[0, 2] = 1.3  # BOS, a, red
    expected = []
    for part in (stock[..., :768].double(), stock[..., 768:].double()):
        m0 = part.mean()
        weighted = part * w
        expected.append(weighted * (m0 / weighted.mean()))
    expected = torch.cat(expected, dim=-1)
    assert (z.double() - expected).abs().max().item() <= 1e-5
    assert torch.allclose(d["pooled_output"], stock_pooled, atol=1e-6)  # chunk 0, before emphasis
    assert (d["width"], d["height"], d["crop_w"], d["crop_h"], d["target_width"], d["target_height"]) == \
        (1024, 1024, 0, 0, 1024, 1024)


def test_sdxl_empty_negative_is_zero_but_empty_positive_is_not(sdxl):
    neg, _ = pe.encode_prompt(sdxl, "", pe.EncodeOptions(steps=4, negative=True, width=64, height=64))
    z, d = neg[0]
    assert z.shape == (1, 77, 2048) and not z.any() and not d["pooled_output"].any()
    assert d["width"] == 64
    pos, _ = pe.encode_prompt(sdxl, "", pe.EncodeOptions(steps=4))
    stock, stock_pooled = sdxl.encode_from_tokens(sdxl.tokenize(""), return_pooled=True)
    assert torch.allclose(pos[0][0], stock, atol=1e-5) and pos[0][0].abs().max() > 0
    neg_text, _ = pe.encode_prompt(sdxl, "blurry", pe.EncodeOptions(steps=4, negative=True))
    assert neg_text[0][0].abs().max() > 0
