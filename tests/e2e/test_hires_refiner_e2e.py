"""HiRes Fix (A1111) and Refiner handoff (A1111) on a real ComfyUI server: images of the right size, progress over
the whole run, readable validation errors, and the server still works after a bad prompt."""
import io

import pytest
from PIL import Image

from .graphs_hires import hires_fix, native_hires_fix, refiner
from .graphs import SD15


def _size(client, result):
    assert result.status == "success", result.error
    return Image.open(io.BytesIO(client.view(result.images()[0]))).size


def test_nodes_listed(client):
    info = client.object_info()
    assert info["ForgelineHiResFix"]["category"] == "Forgeline/sampling"
    assert info["ForgelineRefiner"]["display_name"] == "Refiner handoff (A1111)"


@pytest.mark.parametrize("upscaler,kw,size", [
    ("Latent", dict(upscale_by=1.5), (96, 96)),
    ("Lanczos", dict(upscale_by=1.5), (96, 96)),
    ("Latent (bicubic antialiased)", dict(resize_width=128, resize_height=96), (128, 96)),
])
def test_sd15_hires_fix_sizes(client, upscaler, kw, size):
    progress = []
    graph = hires_fix(upscaler=upscaler, prefix="e2e_hires", seed=3, **kw)
    result = client.run(graph, on_progress=lambda v, m, n: progress.append((n, v, m)))
    assert _size(client, result) == size
    hires = [(v, m) for n, v, m in progress if n == "hires"]
    assert hires and hires[-1] == (3, 3)  # 1 upscale unit + 2 hires steps


def test_sd15_hires_matches_native_graph_pixels(client):
    ours = client.run(hires_fix(seed=21, prefix="e2e_hires_eq"))
    native = client.run(native_hires_fix(seed=21, prefix="e2e_hires_native"))
    a = Image.open(io.BytesIO(client.view(ours.images()[0])))
    b = Image.open(io.BytesIO(client.view(native.images()[0])))
    assert a.tobytes() == b.tobytes()


def test_sdxl_base_to_refiner(client):
    progress = []
    result = client.run(refiner(steps=3, switch_at=0.67, prefix="e2e_refiner"),
                        on_progress=lambda v, m, n: progress.append((n, v, m)))
    assert _size(client, result) == (64, 64)
    ref = [(v, m) for n, v, m in progress if n == "refine"]
    assert ref and ref[-1] == (3, 3)  # one bar over base + refiner steps


def test_bad_input_is_named_and_server_survives(client):
    from comfy_client import ComfyError

    with pytest.raises(ComfyError) as exc:
        client.submit(hires_fix(upscale_by=9.0))
    assert "upscale_by" in str(exc.value)
    with pytest.raises(ComfyError) as exc:
        client.submit(refiner(ckpt=SD15, refiner_ckpt=SD15, switch_at=0.0))
    assert "switch_at" in str(exc.value)
    mixed = client.run(refiner(ckpt=SD15, refiner_ckpt="forgeline_random_sdxl_standin.safetensors", steps=2,
                               prefix="e2e_bad_mix"))
    assert mixed.status == "error" and "latent space" in str(mixed.error)
    assert _size(client, client.run(hires_fix(seed=4, prefix="e2e_after_error"))) == (96, 96)
