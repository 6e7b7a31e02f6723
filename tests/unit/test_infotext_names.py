"""infotext.names against A1111 1.10.1 ``modules/sd_samplers.py: get_sampler_and_scheduler`` and the tables of
``sd_samplers_kdiffusion.samplers_k_diffusion`` / ``sd_schedulers.schedulers``."""
import pytest

from forgeline.infotext import names


@pytest.mark.parametrize("sampler, schedule, expected", [
    ("DPM++ 2M Karras", "Automatic", ("DPM++ 2M", "Automatic")),      # suffix cut; karras is its default
    ("DPM++ SDE Karras", None, ("DPM++ SDE", "Automatic")),
    ("Euler a Karras", "Automatic", ("Euler a", "Karras")),           # not Euler a's default: kept
    ("Euler SGMUniform", "Automatic", ("Euler", "SGM Uniform")),      # alias of sgm_uniform
    ("DPM++ 2M SDE Exponential", "Automatic", ("DPM++ 2M SDE", "Automatic")),
    ("DPM++ 2M", "Karras", ("DPM++ 2M", "Automatic")),
    ("DPM++ 2M", "Exponential", ("DPM++ 2M", "Exponential")),
    ("k_euler_a", "Automatic", ("DPM++ 2M", "Automatic")),            # aliases are not looked up: samplers[0]
    ("Undefined", "Automatic", ("DPM++ 2M", "Automatic")),
    (None, None, ("DPM++ 2M", "Automatic")),
])
def test_get_sampler_and_scheduler(sampler, schedule, expected):
    assert names.get_sampler_and_scheduler(sampler, schedule) == expected


def test_without_convert_automatic_keeps_the_schedule():
    assert names.get_sampler_and_scheduler("DPM++ 2M Karras", "Automatic", convert_automatic=False) == \
        ("DPM++ 2M", "Karras")


@pytest.mark.parametrize("comfy, label", [
    ("forgeline_euler_a", "Euler a"), ("euler_ancestral", "Euler a"), ("forgeline_dpmpp_2s_a", "DPM++ 2S a"),
    ("dpmpp_2m", "DPM++ 2M"), ("dpmpp_2m_sde_gpu", "DPM++ 2M SDE"), ("dpmpp_3m_sde", "DPM++ 3M SDE"),
    ("dpm_2_ancestral", "DPM2 a"), ("uni_pc", "UniPC"), ("lcm", "LCM"), ("euler_cfg_pp", None),
])
def test_comfy_sampler_to_a1111(comfy, label):
    assert names.a1111_sampler_label(comfy) == label


@pytest.mark.parametrize("comfy, sampler, label", [
    ("forgeline_karras", "Euler a", "Karras"), ("karras", "DPM++ 2M", "Karras"),
    ("normal", "Euler a", "Automatic"), ("normal", "DPM++ 2M", "Normal"), ("sgm_uniform", "Euler", "SGM Uniform"),
    ("ddim_uniform", "Euler", "DDIM"), ("forgeline_ays", "Euler", "Align Your Steps"),
    ("forgeline_ays_11", "Euler", "Align Your Steps 11"), ("linear_quadratic", "Euler", None),
])
def test_comfy_scheduler_to_a1111(comfy, sampler, label):
    assert names.a1111_scheduler_label(comfy, sampler) == label


@pytest.mark.parametrize("sampler, schedule, comfy", [
    ("DPM++ 2M", "Automatic", "forgeline_karras"), ("DPM++ 2M SDE", "Automatic", "exponential"),
    ("Euler a", "Automatic", "normal"), ("Euler a", "Karras", "forgeline_karras"),
    ("Euler", "Uniform", "normal"), ("Euler", "Polyexponential", None), ("Euler", "SGM Uniform", "sgm_uniform"),
])
def test_a1111_schedule_to_comfy(sampler, schedule, comfy):
    assert names.comfy_scheduler_id(sampler, schedule) == comfy


def test_a1111_sampler_to_comfy_prefers_forgeline():
    assert names.comfy_sampler_id("Euler a") == "forgeline_euler_a"
    assert names.comfy_sampler_id("Euler a", prefer_forgeline=False) == "euler_ancestral"
    assert names.comfy_sampler_id("Restart") is None


@pytest.mark.parametrize("sampler, schedule, civitai", [
    ("DPM++ 2M", "Karras", "DPM++ 2M Karras"), ("DPM++ 2M", "Automatic", "DPM++ 2M Karras"),
    ("DPM++ 3M SDE", "Automatic", "DPM++ 3M SDE Exponential"), ("DPM++ 2M SDE", "Exponential", "DPM++ 2M SDE"),
    ("Euler a", "Karras", "Euler a"), ("Euler a", "Automatic", "Euler a"),
])
def test_civitai_names(sampler, schedule, civitai):
    # Civitai's list (civitai/civitai src/server/common/constants.ts): "Euler a Karras" is not in it.
    assert names.civitai_sampler_name(sampler, schedule) == civitai
