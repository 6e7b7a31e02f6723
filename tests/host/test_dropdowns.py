"""Forgeline names in ComfyUI's sampler/scheduler lists: idempotent registration, the stock KSampler and
BasicScheduler using them, AYS picking the published table of the model family (ComfyUI
``comfy_extras/nodes_align_your_steps.py`` ``NOISE_LEVELS``; registration as ``comfy/samplers.py``
``SCHEDULER_HANDLERS``).

References: the published AYS 10-step tables (NVIDIA AYS how-to, as ComfyUI's AlignYourStepsScheduler ships
them, last level replaced by 0), ComfyUI's own ``karras`` scheduler and ``KarrasScheduler`` / ``AlignYourStepsScheduler``
nodes.
"""
import pytest
import torch

import comfy.latent_formats
import comfy.samplers
import comfy.sd
from comfy.k_diffusion import sampling as kds
from comfy_extras import nodes_align_your_steps as cays
from comfy_extras import nodes_custom_sampler as ccs

from forgeline.host import dropdowns
from forgeline.nodes.sigmas import ForgelineAYSSigmas, ForgelineKarrasSigmas

# ComfyUI 0.3.75 comfy_extras/nodes_align_your_steps.py NOISE_LEVELS (NVIDIA's tables; SD1 = model σ at t = 999,
# 850, 736, 645, 545, 455, 343, 233, 124, 24), last level replaced by 0 as that node does.
AYS_SD1_10 = [14.6146412293, 6.4745760956, 3.8636745985, 2.6946151520, 1.8841921177, 1.3943805092, 0.9642583904,
              0.6523686016, 0.3977456272, 0.1515232662, 0.0]
AYS_SDXL_10 = [14.6146412293, 6.3184485287, 3.7681790315, 2.1811480769, 1.3405244945, 0.8620721141, 0.5550693289,
               0.3798540708, 0.2332364134, 0.1114188177, 0.0]
SAMPLERS = ["forgeline_euler_a", "forgeline_dpmpp_2s_a"]
SCHEDULERS = ["forgeline_karras", "forgeline_ays", "forgeline_ays_11", "forgeline_ays_32"]


@pytest.fixture(scope="module")
def sd15():
    from forgeline.scripts.comfy_server import MODELS_CACHE
    from forgeline.tests.fixtures.models import ensure_checkpoint

    dropdowns.on_load()
    path = ensure_checkpoint("sd15", MODELS_CACHE / "checkpoints")
    return comfy.sd.load_checkpoint_guess_config(str(path), output_vae=False, output_clip=False)[0]


def test_registration_is_idempotent_and_in_place():
    lists = (comfy.samplers.KSampler.SAMPLERS, comfy.samplers.KSAMPLER_NAMES, comfy.samplers.KSampler.SCHEDULERS)
    dropdowns.on_load()
    dropdowns.on_load()
    assert comfy.samplers.KSampler.SAMPLERS is comfy.samplers.SAMPLER_NAMES is lists[0]  # never rebound
    assert comfy.samplers.KSampler.SCHEDULERS is comfy.samplers.SCHEDULER_NAMES is lists[2]
    for name in SAMPLERS:
        assert comfy.samplers.SAMPLER_NAMES.count(name) == 1 and comfy.samplers.KSAMPLER_NAMES.count(name) == 1
        assert callable(getattr(kds, f"sample_{name}"))
    for name in SCHEDULERS:
        assert comfy.samplers.SCHEDULER_NAMES.count(name) == 1
        assert name in comfy.samplers.SCHEDULER_HANDLERS
    assert len(comfy.samplers.SCHEDULER_NAMES) == len(set(comfy.samplers.SCHEDULER_NAMES))
    assert comfy.samplers.SCHEDULER_NAMES.index("normal") < comfy.samplers.SCHEDULER_NAMES.index("forgeline_ays")


def _ksampler_sigmas(model, scheduler, steps=10):
    return comfy.samplers.KSampler(model, steps=steps, device="cpu", sampler="euler", scheduler=scheduler).sigmas


def test_stock_ksampler_ays_uses_sd1_table_for_sd15(sd15):
    sig = _ksampler_sigmas(sd15, "forgeline_ays")
    torch.testing.assert_close(sig, torch.tensor(AYS_SD1_10), rtol=1e-6, atol=1e-6)


def test_ays_sees_sdxl_through_the_owning_model(sd15, caplog):
    """The handler finds the model that owns the model_sampling module (no caller frames): a model whose latent
    format is SDXL gets the SDXL table from the stock KSampler and BasicScheduler, with no warning."""
    base = sd15.model
    original = base.latent_format
    base.latent_format = comfy.latent_formats.SDXL()
    try:
        m = sd15.clone()
        with caplog.at_level("WARNING", logger="forgeline"):
            torch.testing.assert_close(_ksampler_sigmas(m, "forgeline_ays"), torch.tensor(AYS_SDXL_10), rtol=1e-6,
                                       atol=1e-6)
            basic = ccs.BasicScheduler.execute(m, "forgeline_ays", 10, 1.0)[0]
        torch.testing.assert_close(basic, torch.tensor(AYS_SDXL_10), rtol=1e-6, atol=1e-6)
        assert "could not see" not in caplog.text
    finally:
        base.latent_format = original


@pytest.mark.parametrize("steps", [1, 7, 25])
def test_forgeline_karras_equals_comfy_karras(sd15, steps):
    assert torch.equal(_ksampler_sigmas(sd15, "forgeline_karras", steps), _ksampler_sigmas(sd15, "karras", steps))


def test_ays_11_keeps_sigma_min_as_a_step(sd15):
    sig = _ksampler_sigmas(sd15, "forgeline_ays_11", 11)  # Forge "AYS 11": the 11 levels verbatim, 0 appended
    assert len(sig) == 12 and float(sig[-1]) == 0.0 and abs(float(sig[-2]) - 0.029) < 1e-6
    assert abs(float(sig[0]) - 14.615) < 1e-5


@pytest.mark.parametrize("model_type", ["SD1", "SDXL", "SVD"])
@pytest.mark.parametrize("steps,denoise", [(10, 1.0), (7, 1.0), (12, 0.5)])
def test_ays_node_equals_comfy_ays_node(model_type, steps, denoise):
    ours = ForgelineAYSSigmas.execute(model_type, steps, "comfy", denoise).result[0]
    ref = cays.AlignYourStepsScheduler.execute(model_type, steps, denoise)[0]
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("steps,rho", [(10, 7.0), (4, 3.0)])
def test_karras_node_equals_comfy_karras_node(steps, rho):
    ours = ForgelineKarrasSigmas.execute(steps, 14.614642, 0.0291675, rho).result[0]
    ref = ccs.KarrasScheduler.execute(steps, 14.614642, 0.0291675, rho)[0]
    assert torch.equal(ours, ref)
