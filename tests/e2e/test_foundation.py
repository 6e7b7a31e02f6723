"""The pack loads into a real ComfyUI server, its nodes are listed, and a txt2img workflow through it runs."""
import io
import re

from PIL import Image

from .graphs import txt2img


def test_pack_nodes_in_object_info(client):
    info = client.object_info()
    ours = sorted(k for k in info if k.startswith("Forgeline"))
    assert "ForgelineEmptyLatent" in ours
    for name in ours:
        assert info[name]["category"].startswith("Forgeline/"), name
        assert info[name]["python_module"].startswith("custom_nodes."), name


def test_pack_logged_no_import_error(comfy_server):
    # Only the pack's own reports count: the host's import errors (e.g. its audio nodes without torchaudio) name
    # paths that may contain "forgeline" too when the checkout sits in custom_nodes/forgeline.
    lines = comfy_server.log().splitlines()
    pack = str(comfy_server.base / "custom_nodes" / "forgeline")
    own_failures = [ln for ln in lines if "Forgeline: " in ln and "failed" in ln]  # nodes/__init__.py
    assert not own_failures, own_failures
    # ComfyUI's loader (nodes.py load_custom_node): "Cannot import <path> module ..." and the import-times table
    loader = [ln for ln in lines if re.search(r"(Cannot import|Error while calling comfy_entrypoint in|Skip) "
                                              + re.escape(pack) + r" module", ln)]
    assert not loader, loader
    timing = [ln for ln in lines if re.search(r"\d+\.\d+ seconds.*: " + re.escape(pack) + r"\s*$", ln)]
    assert timing, "pack not listed among loaded custom nodes"
    assert "IMPORT FAILED" not in timing[0], timing[0]


def test_txt2img_through_pack_node_produces_png(client):
    graph = txt2img(latent_node="ForgelineEmptyLatent", prefix="foundation")
    progress = []
    result = client.run(graph, on_progress=lambda v, m, n: progress.append((v, m)))
    assert result.status == "success", result.error
    assert any(m["type"] == "execution_success" for m in result.messages)
    assert progress and progress[-1] == (4, 4)
    images = result.images()
    assert len(images) == 1
    png = client.view(images[0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(png)).size == (64, 64)


def _pixels(client, result):
    return Image.open(io.BytesIO(client.view(result.images()[0]))).tobytes()


def test_same_seed_same_image(client):
    # seed 7, then 8 (evicts the cached sampler output), then 7 again: the sampler really re-runs
    a = client.run(txt2img(seed=7, prefix="seed_a"))
    b = client.run(txt2img(seed=8, prefix="seed_b"))
    c = client.run(txt2img(seed=7, prefix="seed_c"))
    assert a.status == b.status == c.status == "success"
    assert _pixels(client, a) == _pixels(client, c)
    assert _pixels(client, a) != _pixels(client, b)


def test_validation_error_is_readable(client):
    from comfy_client import ComfyError
    import pytest

    graph = txt2img(sampler="no_such_sampler")
    with pytest.raises(ComfyError) as exc:
        client.submit(graph)
    assert "sampler_name" in str(exc.value) and "no_such_sampler" in str(exc.value)


def _user_facing_strings(info: dict):
    """(where, text) for every string a user reads in a node's schema: display name, description, category, input
    and output names, display names and tooltips, and combo choices."""
    yield "display_name", info.get("display_name")
    yield "description", info.get("description")
    yield "category", info.get("category")
    for section in ("required", "optional"):
        for name, spec in (info.get("input") or {}).get(section, {}).items():
            yield f"input {name}", name
            options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            for key in ("tooltip", "display_name", "placeholder"):
                yield f"input {name} {key}", options.get(key)
            choices = spec[0] if isinstance(spec[0], list) else options.get("options") or []
            for choice in choices:
                yield f"input {name} choice", choice
    for key in ("output_name", "output_tooltips"):
        for index, text in enumerate(info.get(key) or []):
            yield f"{key}[{index}]", text


def test_schema_strings_encode_in_cp1252(client):
    # A Windows console (cp1252) prints these in logs and errors; the stock frontend shows them as tooltips.
    bad = []
    for node, info in client.object_info().items():
        if not node.startswith("Forgeline"):
            continue
        for where, text in _user_facing_strings(info):
            if not isinstance(text, str):
                continue
            try:
                text.encode("cp1252")
            except UnicodeEncodeError as exc:
                bad.append(f"{node} {where}: {text[max(0, exc.start - 20):exc.end + 20]!r}")
    assert not bad, "\n".join(bad)
