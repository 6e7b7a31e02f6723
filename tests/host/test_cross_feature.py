"""Cross-feature integration on the SD1.5 stand-in (ComfyUI 0.3.75 in-process): the HiRes/refiner pass markers
reach prompt editing and scheduled LoRAs, and a refiner handoff counts like one A1111 sampler run.

References (hand-derived from the upstream rules named below, written out literally below):

- prompt editing, A1111 ``modules/prompt_parser.py``: ``get_learned_conditioning_prompt_schedules`` step math (hires
  pass: ``v = (v − 1)·hires_steps`` for fractions) and ``reconstruct_cond_batch`` (first entry with ``call ≤ end``);
- loractl (cheald/sd-webui-loractl ``loractl/lib/utils.py``; A1111 sets ``shared.state.sampling_step`` in the
  sampler callback after each model call, ``modules/sd_samplers_common.py``): the call at sampler step ``i`` reads
  ``sampling_step = max(i − 1, 0)`` and the weight is ``np.interp(sampling_step / (steps − 2), positions, weights)``;
  ``hr=`` replaces the unet slot in the hires pass.
"""
import pytest
import torch

import comfy.patcher_extension as pex
import comfy.sample
import comfy.sd

from forgeline.nodes import hires_fix as hf
from forgeline.host import lora_apply as ll
from forgeline.nodes.lora_loader import ForgelineLoraLoader
from forgeline.nodes import prompt_encode as pe
from forgeline.host import prompt_schedule as ps
from forgeline.nodes import refiner as rf
from forgeline.host import sampling_hooks as sc

SEED, CFG = 7, 5.0


def _encode(clip, text, steps, hires_steps=0):
    cond, warnings = pe.encode_prompt(clip, text, pe.EncodeOptions(steps=steps, hires_steps=hires_steps))
    assert warnings == []
    return cond


def _record_contexts(model_clone):
    """APPLY_MODEL probe: the text embeddings (rows of ``c_crossattn``) each model call really ran with."""
    seen = []

    def probe(executor, x, t, c_concat=None, c_crossattn=None, control=None, transformer_options={}, **kw):
        seen.append(c_crossattn.detach().clone())
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kw)

    model_clone.add_wrapper_with_key(pex.WrappersMP.APPLY_MODEL, "test.cross_feature.probe", probe)
    return seen


def _texts_per_call(seen, alone):
    out = []
    for batch in seen:
        out.append(sorted(t for t, z in alone.items() if any(torch.equal(row, z[0]) for row in batch)))
    return out


# -- 1. the HiRes pass reaches prompt editing without a per-call workaround --------------------------------------

def test_auto_keeps_a_pass_already_set(sd15):
    model, _ = sd15
    m = model.clone()
    ps.set_pass(m, "hires")
    ps.enable_step_schedules(m)                      # "auto" must not overwrite it
    assert m.model_options["transformer_options"][ps.OPTIONS_KEY] == {"pass": "hires"}
    ps.enable_step_schedules(m, "first")             # an explicit pass still replaces it
    assert m.model_options["transformer_options"][ps.OPTIONS_KEY] == {"pass": "first"}
    fresh = ps.enable_step_schedules(model.clone())
    assert fresh.model_options["transformer_options"][ps.OPTIONS_KEY] == {"pass": "auto"}


def test_hires_fix_selects_the_hires_schedule(sd15):
    """First pass 4 steps, hires steps 0 (= 4, so 'auto' alone could not tell the passes apart), Euler a.

    ``[cat:dog:1.5]`` by hand (A1111 ``collect_steps``): first pass ``v = 1.5·4 = 6 → when = 4`` → ``[[4, cat]]``; hires
    pass ``v = (1.5 − 1)·4 = 2`` → ``[[2, cat], [4, dog]]``: calls 0–2 use "cat", call 3 "dog"
    (``reconstruct_cond_batch``)."""
    model, clip = sd15
    positive = _encode(clip, "[cat:dog:1.5]", 4, hires_steps=4)
    negative = _encode(clip, "", 4, hires_steps=4)
    alone = {t: _encode(clip, t, 4)[0][0] for t in ("cat", "dog")}
    m = model.clone()
    seen = _record_contexts(m)
    first = {"samples": torch.zeros(1, 4, 8, 8)}
    hf.hires_fix(m, positive, negative, first, seed=SEED, steps=4, cfg=CFG, sampler_name="euler_ancestral",
                 scheduler="normal", upscaler="Latent", upscale_by=1.5, hires_steps=0, denoise=0.5)
    assert _texts_per_call(seen, alone) == [["cat"], ["cat"], ["cat"], ["dog"]]


# -- 2. scheduled LoRAs follow the pass marker --------------------------------------------------------------------

LORA = "forgeline_sd15_kohya"


def _lora_weights_per_call(model_clone):
    """Per model call: (the run's pass marker, the scheduled LoRA's unet weight set before that call)."""
    seen = []

    def probe(ctx, mo):
        marker = mo["transformer_options"].get(hf.PASS_KEY, {}).get("pass")
        seen.append((marker, ctx.extra["lora_weights"][-1][0]))
    sc.on_call(model_clone, "zz_cross_feature_probe", probe)
    return seen


def _first_then_hires(model, clip, lora_model):
    """A 4-step Euler a first pass (stock sampler, no marker) and a 4-step HiRes Fix pass on the LoRA model."""
    positive, negative = _encode(clip, "a cat", 4), _encode(clip, "", 4)
    latent = torch.zeros(1, 4, 8, 8)
    first = comfy.sample.sample(lora_model, comfy.sample.prepare_noise(latent, SEED), 4, CFG, "euler_ancestral",
                                "normal", positive, negative, latent, seed=SEED)
    hf.hires_fix(lora_model, positive, negative, {"samples": first}, seed=SEED, steps=4, cfg=CFG,
                 sampler_name="euler_ancestral", scheduler="normal", upscaler="Latent", upscale_by=1.5,
                 hires_steps=0, denoise=0.5)


# loractl calculate_weight over 4 steps: the call at step i reads sampling_step s = max(i − 1, 0), x = s / (4 − 2)
RAMP_UP = [0.0, 0.0, 0.5, 1.0]        # 0@0,1@1
RAMP_DOWN = [1.0, 1.0, 0.5, 0.0]      # 1@0,0@1


@pytest.mark.parametrize("schedule,pass_,first_expected,hires_expected", [
    ("0@0,1@1:hr=0.5", "auto", RAMP_UP, [0.5] * 4),
    ("0@0,1@1:hr=1@0,0@1", "auto", RAMP_UP, RAMP_DOWN),
    ("0@0,1@1:hr=1@0,0@1", "first", RAMP_UP, RAMP_UP),       # forced: both passes use the unet slot
    ("0@0,1@1:hr=1@0,0@1", "hires", RAMP_DOWN, RAMP_DOWN),   # forced: both passes use hrunet
])
def test_lora_follows_the_hires_pass_marker(sd15, schedule, pass_, first_expected, hires_expected):
    model, clip = sd15
    m, _c, _ = ll.apply_loras(model, None, [ll.LoraRequest(LORA, 1.0, 1.0, schedule, "", "loractl", pass_)])
    seen = _lora_weights_per_call(m)
    _first_then_hires(model, clip, m)
    assert [p for p, _ in seen] == [None] * 4 + ["hires"] * 4
    weights = [w for _, w in seen]
    assert weights == pytest.approx(first_expected + hires_expected, abs=1e-12)


def test_legacy_hires_pass_boolean_still_loads(sd15):
    """Saved workflows carry ``hires_pass`` (example_workflows/api/Scheduled LoRA.json: false): false = auto,
    true = the hr slot in every run."""
    model, clip = sd15
    for legacy, expected in ((False, RAMP_UP), (True, RAMP_DOWN)):
        out = ForgelineLoraLoader.execute(model, f"{LORA}.safetensors", 1.0, 1.0, "0@0,1@1:hr=1@0,0@1", "",
                                             "loractl", hires_pass=legacy)
        m = out.result[0]
        seen = _lora_weights_per_call(m)
        positive, negative = _encode(clip, "a cat", 4), _encode(clip, "", 4)
        latent = torch.zeros(1, 4, 8, 8)
        comfy.sample.sample(m, comfy.sample.prepare_noise(latent, SEED), 4, CFG, "euler_ancestral", "normal",
                            positive, negative, latent, seed=SEED)
        assert [w for _, w in seen] == pytest.approx(expected, abs=1e-12), legacy
    with pytest.raises(ValueError, match="pass 'second'"):
        ll.LoraRequest(LORA, pass_="second")


# -- 3. a refiner handoff counts model calls and steps like A1111's single run ------------------------------------

def _two_order_expectation(steps):
    """(call_index, step, sampling_step) of one uninterrupted k-diffusion run, by hand (sampling_context docstring):
    first order: call i is step i and reads the last callback i − 1; DPM++ 2S a: step j's first call reads
    callback j − 1, its second call (after callback j) reads j; the last step to σ = 0 is one Euler call."""
    first = [(i, i, max(i - 1, 0)) for i in range(steps)]
    second, call = [], 0
    for j in range(steps):
        second.append((call, j, max(j - 1, 0)))
        call += 1
        if j < steps - 1:
            second.append((call, j, j))
            call += 1
    return first, second


@pytest.mark.parametrize("sampler", ["euler_ancestral", "dpmpp_2s_ancestral"])
def test_refiner_handoff_counts_like_one_run(sd15, sampler):
    """Same model as base and refiner, switch at 0.5 by steps vs switch 1.0 (one base run): identical counters and
    identical prompt-editing selection. ``[cat:dog:0.5]`` over 6 steps (A1111 ``collect_steps``): first order
    ``[[3, cat], [6, dog]]`` → calls 0–3 cat, 4–5 dog; second order over 2·6 = 12 → ``[[6, cat], [12, dog]]`` → calls
    0–6 cat, 7–10 dog."""
    model, clip = sd15
    steps = 6
    positive, negative = _encode(clip, "[cat:dog:0.5]", steps), _encode(clip, "", steps)
    alone = {t: _encode(clip, t, steps)[0][0] for t in ("cat", "dog")}

    def run(switch_at):
        m = model.clone()
        counters = []
        sc.on_call(m, "zz_cross_feature_probe",
                   lambda ctx, mo: counters.append((ctx.call_index, ctx.step, ctx.sampling_step, ctx.steps)))
        texts = _record_contexts(m)
        _, k = rf.refiner_handoff(m, positive, negative, m, positive, negative, {"samples": torch.zeros(1, 4, 8, 8)},
                                  seed=SEED, steps=steps, cfg=CFG, sampler_name=sampler, scheduler="normal",
                                  switch_at=switch_at, switch_by="steps")
        return counters, _texts_per_call(texts, alone), k

    single, single_texts, k_single = run(1.0)
    split, split_texts, k = run(0.5)
    assert k_single == steps and 0 < k < steps
    first_order, second_order = _two_order_expectation(steps)
    expected = second_order if sampler == "dpmpp_2s_ancestral" else first_order
    assert [c[:3] for c in single] == expected
    assert split == single                                   # incl. ctx.steps = 6 in both parts
    assert all(c[3] == steps for c in split)
    cat_calls = 7 if sampler == "dpmpp_2s_ancestral" else 4
    assert single_texts == [["cat"]] * cat_calls + [["dog"]] * (len(expected) - cat_calls)
    assert split_texts == single_texts


def test_continued_context_checks_the_full_schedule():
    full = [9.0, 6.0, 3.0, 1.0, 0.0]
    ctx = sc.new_context([3.0, 1.0, 0.0], "sample_euler", {"calls": 5, "steps": 2, "sigmas": full})
    assert (ctx.steps, ctx.calls, ctx.first_step, ctx.sampling_step) == (4, 5, 2, 1)
    assert ctx.step_for_call(3.0) == 2
    with pytest.raises(ValueError, match="not the full schedule's from step 1"):
        sc.new_context([3.0, 1.0, 0.0], "sample_euler", {"calls": 5, "steps": 1, "sigmas": full})
    plain = sc.new_context([3.0, 1.0, 0.0], "sample_euler", {"calls": 5, "steps": 2})
    assert (plain.steps, plain.step_of(1.0)) == (4, 3)


def test_refiner_handoff_keeps_loractl_continuous(sd15):
    """A 0@0,1@1 LoRA on the model used as base and refiner (6 steps Euler a, switch 0.5): the per-call weights of
    the split run equal loractl's over the whole run, x = max(i − 1, 0) / (6 − 2) (loractl ``calculate_weight``)."""
    model, clip = sd15
    positive, negative = _encode(clip, "a cat", 6), _encode(clip, "", 6)
    m, _c, _ = ll.apply_loras(model, None, [ll.LoraRequest(LORA, 1.0, 1.0, "0@0,1@1", "", "loractl")])
    seen = _lora_weights_per_call(m)
    _, k = rf.refiner_handoff(m, positive, negative, m, positive, negative, {"samples": torch.zeros(1, 4, 8, 8)},
                              seed=SEED, steps=6, cfg=CFG, sampler_name="euler_ancestral", scheduler="normal",
                              switch_at=0.5, switch_by="steps")
    assert k == 3
    assert [w for _, w in seen] == pytest.approx([0.0, 0.0, 0.25, 0.5, 0.75, 1.0], abs=1e-12)
