"""CLI client helpers (scripts/forgeline_client.py): overrides, node lookup, quick mode — hand-written cases."""
import pytest

from forgeline.scripts.forgeline_client import UsageError, apply_overrides, find_node, parse_value, quick_overrides


def prompt():
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "a"}, "_meta": {"title": "Load"}},
        "2": {"class_type": "ForgelineKSampler", "inputs": {"steps": 20, "seed": 1, "model": ["1", 0]},
              "_meta": {"title": "KSampler (A1111)"}},
        "3": {"class_type": "ForgelineEmptyLatent", "inputs": {"width": 512, "height": 768, "batch_size": 1},
              "_meta": {"title": "Latent"}},
        "4": {"class_type": "ForgelineHiResFix", "inputs": {"steps": 2, "hires_steps": 0, "latent": ["3", 0]},
              "_meta": {"title": "Hires v1.2"}},
        "5": {"class_type": "ForgelineHiResFix", "inputs": {"steps": ["9", 0], "hires_steps": 10}},
    }


def test_parse_value_reads_json_else_text():
    assert parse_value("20") == 20 and parse_value("7.5") == 7.5 and parse_value("true") is True
    assert parse_value('["4", 0]') == ["4", 0] and parse_value("a cat") == "a cat"


def test_find_node_by_id_title_or_unique_type():
    p = prompt()
    assert find_node(p, "2") == "2" and find_node(p, "Latent") == "3" and find_node(p, "ForgelineKSampler") == "2"
    with pytest.raises(UsageError, match="several nodes"):
        find_node(p, "ForgelineHiResFix")
    with pytest.raises(UsageError, match="no node 'Nope'"):
        find_node(p, "Nope")


def test_apply_overrides_titles_with_dots_and_errors():
    p = apply_overrides(prompt(), ["KSampler (A1111).seed=42", "Hires v1.2.hires_steps=5", "3.width=64"])
    assert p["2"]["inputs"]["seed"] == 42 and p["4"]["inputs"]["hires_steps"] == 5 and p["3"]["inputs"]["width"] == 64
    with pytest.raises(UsageError, match="NODE.INPUT=VALUE"):
        apply_overrides(prompt(), ["seed=1"])


def test_quick_overrides_shrink_latents_and_literal_steps_only():
    p = quick_overrides(prompt())
    assert (p["3"]["inputs"]["width"], p["3"]["inputs"]["height"]) == (64, 64)
    assert p["2"]["inputs"]["steps"] == 3 and p["4"]["inputs"]["steps"] == 2
    assert p["4"]["inputs"]["hires_steps"] == 0          # 0 = "same as first pass" stays
    assert p["5"]["inputs"]["steps"] == ["9", 0] and p["5"]["inputs"]["hires_steps"] == 3


def test_no_server_is_a_clear_error_exit_1(tmp_path):
    import io

    import socket

    from forgeline.scripts.forgeline_client import run

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    out = io.StringIO()
    assert run(tmp_path / "x.json", server=url, stream=out) == 1
    assert "no ComfyUI server at" in out.getvalue() and "--server" in out.getvalue()
