"""Refiner handoff (A1111) against ComfyUI 0.3.75's own graphs, in-process, with the SD1.5 stand-in as both models:

* switch 1.0 equals one stock ``KSampler`` run (``nodes.common_ksampler``) bit for bit;
* a split at step k with Euler (deterministic) equals the two-``KSamplerAdvanced`` graph of the official SDXL
  example (base: add_noise, 0→k, leftover noise; refiner: no noise, k→end; comfyanonymous/ComfyUI_examples
  ``sdxl/sdxl_simple_example.png``);
* with Euler a and the same model on both sides, the handoff equals ONE uninterrupted run (one noise stream; up to
  the float32 rounding of ComfyUI's latent scale-out/in between two runs), while
  the official graph's refiner (noise_seed 0) re-seeds the ancestral noise: its result equals our refiner part run
  with ComfyUI's default noise sampler seeded 0 — the documented difference;
* the "timestep" switch step is re-derived here from the model's σ table (A1111 ``apply_refiner``).
"""
import pytest
import torch

import comfy.latent_formats
import comfy.sd
import nodes as comfy_nodes

from forgeline.host import sampling as a1
from forgeline.host.noise import default_noise_sampler as host_default_noise_sampler
from forgeline.nodes import refiner as rf

SEED, STEPS, CFG = 11, 4, 5.0


@pytest.fixture(scope="module")
def sd15():
    from forgeline.scripts.comfy_server import MODELS_CACHE
    from forgeline.tests.fixtures.models import ensure_checkpoint

    path = ensure_checkpoint("sd15", MODELS_CACHE / "checkpoints")
    model, clip, _vae, _ = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=True, output_clip=True)
    enc = lambda text: clip.encode_from_tokens_scheduled(clip.tokenize(text))  # noqa: E731
    return model, enc("a red cube"), enc(""), enc("a blue sphere, detailed")


def _latent():
    return {"samples": torch.zeros(1, 4, 8, 8)}


def _ours(model, cond, uncond, rcond, sampler, switch_at, switch_by="steps", scheduler="normal"):
    out, k = rf.refiner_handoff(model, cond, uncond, model, rcond, uncond, _latent(), seed=SEED, steps=STEPS,
                                cfg=CFG, sampler_name=sampler, scheduler=scheduler, switch_at=switch_at,
                                switch_by=switch_by, noise_source="comfy")
    return out["samples"], k


def _advanced(model, cond, uncond, latent, sampler, scheduler, seed, add_noise, start, end, leftover):
    return comfy_nodes.common_ksampler(model, seed, STEPS, CFG, sampler, scheduler, cond, uncond, latent,
                                       disable_noise=not add_noise, start_step=start, last_step=end,
                                       force_full_denoise=not leftover)[0]


def test_switch_one_equals_single_base_run(sd15):
    model, cond, uncond, rcond = sd15
    ref = comfy_nodes.common_ksampler(model, SEED, STEPS, CFG, "euler_ancestral", "normal", cond, uncond,
                                      _latent())[0]["samples"]
    out, k = _ours(model, cond, uncond, rcond, "euler_ancestral", 1.0)
    assert k == STEPS
    assert torch.equal(out, ref)


def test_euler_split_equals_two_ksampler_advanced(sd15):
    model, cond, uncond, rcond = sd15
    base = _advanced(model, cond, uncond, _latent(), "euler", "normal", SEED, True, 0, 3, True)
    ref = _advanced(model, rcond, uncond, base, "euler", "normal", 0, False, 3, 10000, False)["samples"]
    out, k = _ours(model, cond, uncond, rcond, "euler", 0.75)   # step 3 of 4: 3/4 ≥ 0.75
    assert k == 3
    assert torch.equal(out, ref)


def test_euler_a_handoff_is_one_noise_stream_unlike_seed_zero_graph(sd15):
    model, cond, uncond, _rcond = sd15
    single = comfy_nodes.common_ksampler(model, SEED, STEPS, CFG, "euler_ancestral", "normal", cond, uncond,
                                         _latent())[0]["samples"]
    out, k = _ours(model, cond, uncond, cond, "euler_ancestral", 0.5)
    assert k == 2
    # same model both sides: a continuous stream is one run, up to the float32 rounding of ComfyUI's latent
    # scale-out/scale-in (× 1/0.18215, × 0.18215) between the two sampling runs
    scale = single.abs().max()
    ours = (out - single).abs().max()
    assert ours <= 1e-5 * scale

    base = _advanced(model, cond, uncond, _latent(), "euler_ancestral", "normal", SEED, True, 0, 2, True)
    official = _advanced(model, cond, uncond, base, "euler_ancestral", "normal", 0, False, 2, 10000, False)
    assert (official["samples"] - single).abs().max() > 100 * max(ours, 1e-6 * scale)  # a different stream
    # the official graph's refiner noise is the host's default stream re-seeded with its noise_seed 0:
    restarted, _ = a1.sample_a1111(model, cond, uncond, base, seed=0, steps=STEPS, cfg=CFG,
                                   sampler_name="euler_ancestral", scheduler="normal", start_step=2, add_noise=False,
                                   noise_sampler=host_default_noise_sampler(torch.empty(1, 4, 8, 8), 0))
    assert torch.equal(official["samples"], restarted["samples"])


def test_timestep_switch_matches_model_table(sd15):
    model, cond, uncond, rcond = sd15
    table = model.get_model_object("model_sampling").sigmas.double()
    sigmas = comfy_nodes.comfy.samplers.KSampler(model, STEPS, "cpu", "euler", "karras").sigmas
    ts = [int(torch.argmin((table - float(s)).abs())) for s in sigmas[:-1]]
    expected = next((i for i, t in enumerate(ts) if (999 - t) / 1000 >= 0.5), STEPS)
    base = _advanced(model, cond, uncond, _latent(), "euler", "karras", SEED, True, 0, expected, True)
    ref = _advanced(model, rcond, uncond, base, "euler", "karras", 0, False, expected, 10000, False)["samples"]
    out, k = _ours(model, cond, uncond, rcond, "euler", 0.5, switch_by="timestep", scheduler="karras")
    assert k == expected and 0 < k < STEPS
    assert torch.equal(out, ref)


def test_bad_inputs_name_the_input(sd15):
    model, cond, uncond, rcond = sd15
    for bad in (0.0, 1.5):
        assert "switch_at" in rf.ForgelineRefiner.validate_inputs(switch_at=bad)
        with pytest.raises(ValueError, match="switch_at"):
            _ours(model, cond, uncond, rcond, "euler", bad)
    assert rf.ForgelineRefiner.validate_inputs(switch_at=1.0, switch_by="timestep") is True
    sdxl_like = model.clone()
    sdxl_like.add_object_patch("latent_format", comfy.latent_formats.SDXL())
    with pytest.raises(ValueError, match="latent space"):
        rf.refiner_handoff(model, cond, uncond, sdxl_like, rcond, uncond, _latent(), seed=1, steps=2, cfg=1.0,
                           sampler_name="euler", scheduler="normal")
    wide = [[torch.zeros(1, 77, 1280), {}]]
    with pytest.raises(ValueError, match="refiner_positive"):
        rf.refiner_handoff(model, cond, uncond, model, wide, uncond, _latent(), seed=1, steps=2, cfg=1.0,
                           sampler_name="euler", scheduler="normal")
    with pytest.raises(ValueError, match="refiner_negative"):
        rf.refiner_handoff(model, cond, uncond, model, rcond, [], _latent(), seed=1, steps=2, cfg=1.0,
                           sampler_name="euler", scheduler="normal")


def test_sdxl_refiner_conds_get_a1111_aesthetic_scores_unless_given():
    import types

    class SDXLRefiner:  # the class name ComfyUI's SDXL refiner model has (comfy.model_base.SDXLRefiner)
        pass

    refiner_model = types.SimpleNamespace(model=SDXLRefiner())
    t = torch.zeros(1, 77, 1280)
    cond = [[t, {}], [t, {"aesthetic_score": 7.5}]]
    out = rf.with_aesthetic_score(refiner_model, cond, 6.0)
    assert [d["aesthetic_score"] for _, d in out] == [6.0, 7.5]  # A1111 default 6.0; CLIPTextEncodeSDXLRefiner wins
    assert cond[0][1] == {}  # the input conditioning is not modified
    other = types.SimpleNamespace(model=object())
    assert rf.with_aesthetic_score(other, cond, 6.0) is cond
