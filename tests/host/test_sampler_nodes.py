"""Forgeline's sampling runner against ComfyUI 0.3.75's stock KSampler and A1111's noise rules (``modules/rng.py``).

References: ``nodes.common_ksampler`` (the stock KSampler node's body) run in the same process; the initial noise
of A1111's ``ImageRNG`` re-derived here with ``torch.randn`` on a CPU generator (``randn_source=CPU``) and the
published CUDA/Philox first values for seed 42 (A1111 ``modules/rng_philox.py``); σ_0 from k-diffusion's Karras formula.
"""
import math

import pytest
import torch

import comfy.sd
import nodes as comfy_nodes

from forgeline.host import sampling as a1


@pytest.fixture(scope="module")
def sd15():
    from forgeline.scripts.comfy_server import MODELS_CACHE
    from forgeline.tests.fixtures.models import ensure_checkpoint

    path = ensure_checkpoint("sd15", MODELS_CACHE / "checkpoints")
    model, clip, _vae, _ = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=True, output_clip=True)
    cond = clip.encode_from_tokens_scheduled(clip.tokenize("a red cube"))
    uncond = clip.encode_from_tokens_scheduled(clip.tokenize(""))
    return model, cond, uncond


def _latent(batch=1):
    return {"samples": torch.zeros(batch, 4, 8, 8)}


def _stock(model, cond, uncond, latent, **kw):
    return comfy_nodes.common_ksampler(model, kw["seed"], kw["steps"], kw["cfg"], kw["sampler_name"],
                                       kw["scheduler"], cond, uncond, latent, denoise=kw.get("denoise", 1.0))[0]


@pytest.mark.parametrize("sampler,scheduler,steps,cfg,denoise", [
    ("euler_ancestral", "karras", 4, 7.0, 1.0),
    ("dpmpp_2s_ancestral", "normal", 3, 5.0, 1.0),
    ("euler", "karras", 3, 1.0, 1.0),       # cfg 1: uncond skipped on both sides
])
def test_comfy_noise_equals_stock_ksampler_bit_for_bit(sd15, sampler, scheduler, steps, cfg, denoise):
    model, cond, uncond = sd15
    kw = dict(seed=123, steps=steps, cfg=cfg, sampler_name=sampler, scheduler=scheduler, denoise=denoise)
    ref = _stock(model, cond, uncond, _latent(), **kw)["samples"]
    out, info = a1.sample_a1111(model, cond, uncond, _latent(), noise_source="comfy", **kw)
    assert torch.equal(out["samples"], ref)
    assert len(info.sigmas) == steps + 1


def _stock_custom(model, cond, uncond, sampler_name, options, steps, seed, cfg=6.0):
    import comfy.k_diffusion.sampling as kds
    import comfy.sample
    import comfy.samplers

    latent = torch.zeros(1, 4, 8, 8)
    noise = comfy.sample.prepare_noise(latent, seed)
    ms = model.get_model_object("model_sampling")
    sigmas = kds.get_sigmas_karras(steps, float(ms.sigma_min), float(ms.sigma_max))
    sampler = comfy.samplers.ksampler(sampler_name, options)
    return comfy.sample.sample_custom(model, noise, cfg, sampler, sigmas, cond, uncond, latent, seed=seed)


@pytest.mark.parametrize("ours,theirs", [("forgeline_euler_a", "euler_ancestral"),
                                         ("forgeline_dpmpp_2s_a", "dpmpp_2s_ancestral")])
@pytest.mark.parametrize("eta,s_noise", [(1.0, 1.0), (0.5, 0.5), (0.0, 1.0)])
def test_forgeline_samplers_equal_comfy_samplers(sd15, ours, theirs, eta, s_noise):
    model, cond, uncond = sd15
    ref = _stock_custom(model, cond, uncond, theirs, {"eta": eta, "s_noise": s_noise}, 3, 7)
    out, info = a1.sample_a1111(model, cond, uncond, _latent(), seed=7, steps=3, cfg=6.0, sampler_name=ours,
                                scheduler="karras", eta=eta, s_noise=s_noise, noise_source="comfy")
    scale = max(1.0, float(ref.abs().max()))
    assert float((out["samples"] - ref).abs().max()) <= 1e-5 * scale
    assert info.model_calls == (3 if "euler" in ours else 2 * 3 - 1)  # DPM++ 2S a: last step is one Euler call


# ---------------------------------------------------------------- A1111 noise (modules/rng.py)

SIGMA0_KARRAS_SD15 = 14.614643096923828  # k-diffusion Karras σ_0 for SD1.5 in float32 (get_sigmas_karras)
NV_SEED42_FIRST6 = [0.19402, 2.16137, -0.17205, 0.84906, -1.92440, 0.65299]  # CUDA torch.randn, seed 42 (A1111 rng_philox)


def _initial_x(model, cond, uncond, batch=1, **kw):
    seen = {}

    def grab(step, x0, x, total):
        if step == 0:
            seen["x"] = x.detach().cpu().clone()

    kw.setdefault("steps", 1)
    a1.sample_a1111(model, cond, uncond, _latent(batch), cfg=5.0, sampler_name="forgeline_euler_a",
                    scheduler="karras", callback=grab, **kw)
    return seen["x"]


def test_a1111_cpu_initial_noise_is_per_image_randn_times_sigma_max(sd15):
    model, cond, uncond = sd15
    x = _initial_x(model, cond, uncond, batch=2, seed=1234, noise_source="a1111_cpu")
    for i in range(2):  # A1111: image i has its own generator seeded seed + i, x_T = noise·σ_0 (no √(1+σ²))
        ref = torch.randn((4, 8, 8), generator=torch.Generator("cpu").manual_seed(1234 + i)) * SIGMA0_KARRAS_SD15
        torch.testing.assert_close(x[i], ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("source", ["a1111_nv", "a1111_gpu"])  # GPU on a CPU host = the CUDA Philox numbers
def test_a1111_nv_initial_noise_matches_cuda_values(sd15, source):
    model, cond, uncond = sd15
    x = _initial_x(model, cond, uncond, seed=42, noise_source=source)
    ref = torch.tensor(NV_SEED42_FIRST6) * SIGMA0_KARRAS_SD15
    torch.testing.assert_close(x.flatten()[:6], ref, rtol=0, atol=1e-5 * SIGMA0_KARRAS_SD15)


def test_comfy_initial_noise_uses_sqrt_one_plus_sigma_sq(sd15):
    model, cond, uncond = sd15  # ComfyUI at full denoise: noise·√(1+σ_0²) (KSAMPLER.sample noise_scaling)
    x = _initial_x(model, cond, uncond, seed=9, noise_source="comfy")
    ref = torch.randn((1, 4, 8, 8), generator=torch.Generator("cpu").manual_seed(9)) * math.sqrt(
        1 + SIGMA0_KARRAS_SD15 ** 2)
    torch.testing.assert_close(x, ref, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("source,ensd", [("a1111_cpu", 0), ("a1111_cpu", 31337), ("comfy", 0)])
def test_ancestral_stream_continues_after_the_run(sd15, source, ensd):
    """2 Euler a steps draw the initial noise and one ancestral noise; the returned stream goes on from there."""
    model, cond, uncond = sd15
    seed = 500
    _, info = a1.sample_a1111(model, cond, uncond, _latent(), seed=seed, steps=2, cfg=5.0,
                              sampler_name="forgeline_euler_a", scheduler="karras", noise_source=source, ensd=ensd)
    nxt = info.noise_sampler(None, None).cpu()
    if source == "comfy":  # the host's own default_noise_sampler (seed, or seed + 1 on CPU since 0.33), one draw used
        import comfy.k_diffusion.sampling as kds
        host_stream = kds.default_noise_sampler(torch.zeros((1, 4, 8, 8)), seed=seed)
        draws = [host_stream(None, None) for _ in range(2)]
    elif ensd == 0:  # A1111: initial + ancestral draws share the image's generator
        g = torch.Generator("cpu").manual_seed(seed)
        draws = [torch.randn((4, 8, 8), generator=g)[None] for _ in range(3)]
    else:  # A1111 ENSD: after the initial draw the generator is re-seeded seed + ENSD
        g = torch.Generator("cpu").manual_seed(seed + ensd)
        draws = [torch.randn((4, 8, 8), generator=g)[None] for _ in range(2)]
    torch.testing.assert_close(nxt, draws[-1], rtol=0, atol=0)
    assert info.seeds[0] == seed and info.model_calls == 2


# ---------------------------------------------------------------- schedules and step rules

def test_img2img_step_rules(sd15):
    import comfy.k_diffusion.sampling as kds

    model = sd15[0]
    ms = model.get_model_object("model_sampling")
    karras = lambda n: kds.get_sigmas_karras(n, float(ms.sigma_min), float(ms.sigma_max))  # noqa: E731
    a1111 = a1.run_sigmas(model, "karras", 20, "forgeline_euler_a", 0.5, "a1111")
    assert torch.equal(a1111, karras(20)[9:])  # t_enc = 10 → 11 steps from σ_9 (docs/DERIVATIONS.md, 'Denoise slicing')
    comfy_rule = a1.run_sigmas(model, "karras", 10, "forgeline_euler_a", 0.3, "comfy")
    assert torch.equal(comfy_rule, karras(33)[-11:])  # int(10/0.3) = 33 levels, last 10 steps (KSampler.set_steps)
    assert torch.equal(a1.run_sigmas(model, "karras", 8, "", 1.0, "a1111"), karras(8))


def test_step_window_matches_ksampler_advanced():
    s = torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    assert a1.cut_sigmas(s, 1, 3, True).tolist() == [4.0, 3.0, 0.0]
    assert a1.cut_sigmas(s, 1, 3, False).tolist() == [4.0, 3.0, 2.0]
    assert a1.cut_sigmas(s, 5, None) is None
    assert s.tolist() == [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]  # the caller's schedule is not mutated


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("kwargs,named,shown", [
    ({"steps": 0}, "steps", "0"), ({"denoise": 0.0}, "denoise", "0.0"), ({"denoise": 1.5}, "denoise", "1.5"),
    ({"denoise": float("nan")}, "denoise", "nan"), ({"sampler_name": "euler_b"}, "sampler_name", "euler_b"),
    ({"scheduler": "karass"}, "scheduler", "karass"), ({"noise_source": "tpu"}, "noise_source", "tpu"),
    ({"sigmas": torch.tensor([10.0, float("nan"), 0.0])}, "sigmas", "NaN"), ({"cfg": -1.0}, "cfg", "-1.0"),
])
def test_bad_input_is_named(kwargs, named, shown):
    msg = a1.sampling_input_error(**kwargs)
    assert msg and named in msg and shown in msg


def test_runner_raises_clear_value_error(sd15):
    model, cond, uncond = sd15
    with pytest.raises(ValueError, match="steps=0"):
        a1.sample_a1111(model, cond, uncond, _latent(), seed=1, steps=0, cfg=5.0,
                        sampler_name="forgeline_euler_a", scheduler="karras")


def test_node_validate_inputs_names_the_input():
    from forgeline.nodes.ksampler_a1111 import ForgelineKSampler
    from forgeline.nodes.sigmas import ForgelineAYSSigmas

    assert ForgelineKSampler.validate_inputs(steps=20, denoise=1.0, sampler_name="forgeline_dpmpp_2s_a",
                                             scheduler="forgeline_ays", noise_source="a1111_nv") is True
    assert "denoise" in ForgelineKSampler.validate_inputs(denoise=0.0)
    assert "scheduler" in ForgelineKSampler.validate_inputs(scheduler="nope")
    assert "SVD" in ForgelineAYSSigmas.validate_inputs(model_type="SVD", variant="32")


# ---------------------------------------------------------------- nodes

def test_sampler_node_in_sampler_custom_advanced_gives_a1111_seeds(sd15):
    """RandomNoise(seed) + ForgelineSamplerDPMPP2SA(a1111_cpu, ENSD) in SamplerCustomAdvanced equals the A1111
    KSampler on the same seed: the SAMPLER swaps the NOISE node's noise for A1111's per-image noise."""
    from comfy_extras import nodes_custom_sampler as ccs

    from forgeline.nodes.ksampler_a1111 import ForgelineKSampler
    from forgeline.nodes.sampler_select import ForgelineSamplerDPMPP2SA
    from forgeline.nodes.sigmas import ForgelineKarrasSigmas

    model, cond, uncond = sd15
    sampler = ForgelineSamplerDPMPP2SA.execute(1.0, 1.0, "a1111_cpu", 31337).result[0]
    sigmas = ForgelineKarrasSigmas.execute(3, 14.6, 0.03, 7.0, model=model).result[0]
    noise = ccs.RandomNoise.execute(77)[0]
    guider = ccs.CFGGuider.execute(model, cond, uncond, 5.0)[0]
    custom = ccs.SamplerCustomAdvanced.execute(noise, guider, sampler, sigmas, _latent())[0]["samples"]
    ks = ForgelineKSampler.execute(model, cond, uncond, _latent(), 77, 3, 5.0, "forgeline_dpmpp_2s_a",
                                   "forgeline_karras", 1.0, 1.0, 1.0, "a1111_cpu", 31337, "a1111").result[0]
    torch.testing.assert_close(custom, ks["samples"], rtol=1e-5, atol=1e-5)
    comfy_ks = ForgelineKSampler.execute(model, cond, uncond, _latent(), 77, 3, 5.0, "forgeline_dpmpp_2s_a",
                                         "forgeline_karras", 1.0, 1.0, 1.0, "comfy", 0, "a1111").result[0]
    assert not torch.allclose(comfy_ks["samples"], ks["samples"])  # the noise source really changes the image


def test_schedule_preview_draws_the_curve_where_the_levels_are():
    from forgeline.nodes import schedule_preview as sp

    sigmas = torch.tensor([14.6, 1.46, 0.146, 0.0])  # three decades, then 0
    img = sp.render_sigma_plot(sigmas, 400, 300)
    assert img.shape == (300, 400, 3) and img.dtype.name == "uint8"
    x0, x1, y0, y1 = 64, 400 - 16, 28, 300 - 44  # plot box of render_sigma_plot

    def colour_near(x, y, rgb, r=2):
        patch = img[int(y) - r:int(y) + r + 1, int(x) - r:int(x) + r + 1].reshape(-1, 3)
        return any(tuple(p) == rgb for p in patch)

    lo, hi = math.log10(0.146), math.log10(14.6)
    pad = 0.04 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    for i, s in enumerate([14.6, 1.46, 0.146]):  # equal decades → equally spaced heights on the log axis
        x = x0 + (x1 - x0) * i / 3
        y = y1 - (y1 - y0) * (math.log10(s) - lo) / (hi - lo)
        assert colour_near(x, y, sp._LINE), (i, s)
    assert colour_near(x1, y1, sp._ZERO)  # σ = 0 sits on the bottom edge in red
    out = sp.ForgelineSchedulePreview.execute(sigmas, 400, 300)
    assert tuple(out.result[0].shape) == (1, 300, 400, 3) and float(out.result[0].max()) <= 1.0
    with pytest.raises(ValueError, match="NaN"):
        sp.ForgelineSchedulePreview.execute(torch.tensor([1.0, float("nan"), 0.0]), 400, 300)
