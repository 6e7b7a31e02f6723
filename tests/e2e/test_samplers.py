"""Sampling over a real server: dropdown names in /object_info, stock and Forgeline sampling graphs produce
images, seeds repeat exactly, bad input is a readable 400 naming the input, /interrupt stops a run promptly."""
import io
import threading

import pytest
from PIL import Image

from forgeline.tests.e2e.graphs import txt2img
from forgeline.tests.e2e.graphs_sampling import a1111_ksampler, custom_advanced

SAMPLERS = ["forgeline_euler_a", "forgeline_dpmpp_2s_a"]
SCHEDULERS = ["forgeline_karras", "forgeline_ays", "forgeline_ays_11", "forgeline_ays_32"]


def _combo(info, node, name):
    spec = info[node]["input"]["required"][name]
    options = spec[1].get("options") if len(spec) > 1 and isinstance(spec[1], dict) else None
    return options if isinstance(spec[0], str) and options else spec[0]


def _pixels(client, result, index=0):
    return Image.open(io.BytesIO(client.view(result.images()[index]))).tobytes()


def test_names_in_object_info_of_the_four_stock_nodes(client):
    info = client.object_info()
    for node, field in [("KSampler", "sampler_name"), ("KSamplerAdvanced", "sampler_name"),
                        ("KSamplerSelect", "sampler_name")]:
        options = _combo(info, node, field)
        assert all(options.count(s) == 1 for s in SAMPLERS), (node, options)
    for node in ("KSampler", "KSamplerAdvanced", "BasicScheduler"):
        options = _combo(info, node, "scheduler")
        assert all(options.count(s) == 1 for s in SCHEDULERS), (node, options)
    for node in ("ForgelineKSampler", "ForgelineSamplerEulerA", "ForgelineSamplerDPMPP2SA", "ForgelineKarrasSigmas",
                 "ForgelineAYSSigmas", "ForgelineSchedulePreview"):
        assert info[node]["category"].startswith("Forgeline/"), node
    assert "1 + w" in info["ForgelineKSampler"]["description"]


@pytest.mark.parametrize("sampler,scheduler", [("euler_ancestral", "forgeline_ays"),
                                               ("forgeline_dpmpp_2s_a", "karras")])
def test_stock_ksampler_with_forgeline_names_makes_an_image(client, sampler, scheduler):
    result = client.run(txt2img(sampler=sampler, scheduler=scheduler, steps=3, prefix=f"stock_{sampler}"))
    assert result.status == "success", result.error
    assert Image.open(io.BytesIO(client.view(result.images()[0]))).size == (64, 64)


def test_sampler_custom_advanced_with_forgeline_nodes_makes_an_image_and_a_plot(client):
    result = client.run(custom_advanced(steps=3, prefix="custom_adv"))
    assert result.status == "success", result.error
    sizes = sorted(Image.open(io.BytesIO(client.view(img))).size for img in result.images())
    assert sizes == [(64, 64), (320, 200)]  # the decoded image and the schedule plot


def test_a1111_ksampler_repeats_a_seed_exactly(client):
    run = lambda seed, tag: client.run(a1111_ksampler(seed=seed, steps=3, sampler="forgeline_dpmpp_2s_a",  # noqa
                                                      noise_source="a1111_nv", ensd=31337, prefix=tag))
    a, b, c = run(11, "rep_a"), run(12, "rep_b"), run(11, "rep_c")  # 12 in between busts the cache
    assert a.status == b.status == c.status == "success", (a.error, b.error, c.error)
    assert _pixels(client, a) == _pixels(client, c)
    assert _pixels(client, a) != _pixels(client, b)


@pytest.mark.parametrize("change,named", [({"steps": 0}, "steps"), ({"denoise": 0.0}, "denoise"),
                                          ({"scheduler": "karass"}, "scheduler"),
                                          ({"noise_source": "tpu"}, "noise_source")])
def test_bad_input_is_a_400_naming_the_input(client, change, named):
    from comfy_client import ComfyError

    graph = a1111_ksampler(prefix="bad")
    graph["sample"]["inputs"].update(change)
    with pytest.raises(ComfyError) as exc:
        client.submit(graph)
    assert named in str(exc.value), str(exc.value)


def test_interrupt_stops_within_a_step_and_server_recovers(client):
    from comfy_client import ComfyClient

    other = ComfyClient(client.base_url)
    seen, fired = [], threading.Event()

    def on_progress(value, maximum, node):
        seen.append(value)
        if value >= 2 and not fired.is_set():
            fired.set()
            other.interrupt()

    result = client.run(a1111_ksampler(seed=5, steps=200, prefix="interrupt"), on_progress=on_progress)
    assert result.status == "interrupted", (result.status, result.error)
    assert fired.is_set() and max(seen) <= 4, seen  # stopped at the next step check, far from 200
    after = client.run(a1111_ksampler(seed=6, steps=2, prefix="after_interrupt"))
    assert after.status == "success", after.error


# NVIDIA's published SDXL AYS levels at 10 steps, log-linear interpolation as ComfyUI's AlignYourStepsScheduler
# (the same table tests/host/test_dropdowns.py checks); SD1 at 10 steps for the SD1.5 checkpoint.
AYS_SDXL_10 = [14.6146412293, 6.3184485287, 3.7681790315, 2.1811480769, 1.3405244945, 0.8620721141, 0.5550693289,
               0.3798540708, 0.2332364134, 0.1114188177, 0.0]


def test_sigma_preview_route_picks_the_ays_table_of_the_checkpoint(client):
    import requests

    def sigmas(**body):
        r = requests.post(client.base_url + "/forgeline/sigmas", json={"scheduler": "forgeline_ays", "steps": 10,
                                                                        **body}, timeout=60)
        return r.status_code, r.json()

    code, sdxl = sigmas(ckpt_name="forgeline_random_sdxl_standin.safetensors")
    assert code == 200 and sdxl["sigmas"] == pytest.approx(AYS_SDXL_10, rel=1e-6, abs=1e-6)
    code, sd1 = sigmas(ckpt_name="forgeline_random_sd15_standin.safetensors")
    assert code == 200 and sd1["sigmas"][1] != pytest.approx(AYS_SDXL_10[1], rel=1e-3)
    code, bad = sigmas(ckpt_name="../../etc/passwd")
    assert code == 400 and "ckpt_name" in bad["error"]
