"""UI → API conversion (scripts/workflow_convert.py) against the ComfyUI frontend's rules, on hand-built graphs.

Reference: comfyui-frontend-package 1.32.9 — ``useIntWidget`` adds a "control after generate" widget when
``control_after_generate ?? ["seed", "noise_seed"].includes(name)``, a combo only when the spec sets it;
``migrateWidgetsValues`` counts 2 values for those inputs; ``graphToPrompt`` follows links through Reroute and
bypassed nodes and drops muted ones. Expected prompts below are written out by hand from those rules.
"""
import pytest

from forgeline.scripts.workflow_convert import WorkflowError, is_ui_workflow, ui_to_api, widget_layout

INFO = {
    "Loader": {"input": {"required": {"name": [["a.ckpt", "b.ckpt"], {}]}}, "input_order": {"required": ["name"]},
               "output": ["MODEL", "CLIP"], "output_name": ["MODEL", "CLIP"]},
    "Sampler": {
        "input": {"required": {"model": ["MODEL", {}], "seed": ["INT", {"default": 0}],
                               "steps": ["INT", {"default": 20}],
                               "mode": ["COMBO", {"options": ["x", "y"], "control_after_generate": True}],
                               "noise_seed": ["INT", {"control_after_generate": False}],
                               "cfg": ["FLOAT", {"default": 7.0}]},
                  "optional": {"text": ["STRING", {"multiline": True}], "forced": ["INT", {"forceInput": True}]},
                  "hidden": {"prompt": "PROMPT"}},
        "input_order": {"required": ["model", "seed", "steps", "mode", "noise_seed", "cfg"],
                        "optional": ["text", "forced"], "hidden": ["prompt"]},
        "output": ["LATENT"], "output_name": ["LATENT"]},
    "Patch": {"input": {"required": {"model": ["MODEL", {}], "strength": ["FLOAT", {}]}},
              "input_order": {"required": ["model", "strength"]}, "output": ["MODEL"], "output_name": ["MODEL"]},
}


def test_widget_layout_follows_frontend_control_rules():
    # seed: INT named "seed" with no flag → control; mode: combo with flag → control;
    # noise_seed: explicit False wins over the name; forceInput and hidden inputs have no widget.
    assert widget_layout(INFO["Sampler"]) == [("seed", True), ("steps", False), ("mode", True),
                                              ("noise_seed", False), ("cfg", False), ("text", False)]


def _ui(nodes, links):
    return {"nodes": nodes, "links": links, "version": 0.4}


def _sampler(node_id, model_link, values, mode=0, extra_inputs=()):
    return {"id": node_id, "type": "Sampler", "mode": mode, "widgets_values": values,
            "inputs": [{"name": "model", "type": "MODEL", "link": model_link}, *extra_inputs], "outputs": []}


def test_widgets_values_skip_control_entries_and_links_resolve():
    ui = _ui([
        {"id": 1, "type": "Loader", "widgets_values": ["b.ckpt"], "outputs": [{"name": "MODEL", "type": "MODEL"}]},
        _sampler(2, 1, [5, "fixed", 30, "y", "randomize", 9, 6.5, "hi"]),
        {"id": 3, "type": "Note", "widgets_values": ["read me"]},
    ], [[1, 1, 0, 2, 0, "MODEL"]])
    assert ui_to_api(ui, INFO) == {
        "1": {"class_type": "Loader", "inputs": {"name": "b.ckpt"}, "_meta": {"title": "Loader"}},
        "2": {"class_type": "Sampler", "inputs": {"seed": 5, "steps": 30, "mode": "y", "noise_seed": 9, "cfg": 6.5,
                                                  "text": "hi", "model": ["1", 0]}, "_meta": {"title": "Sampler"}},
    }


def test_reroute_bypass_and_mute():
    # 1 Loader → 4 Reroute → 5 Patch (bypassed: passes its MODEL input through) → 2 Sampler;
    # 6 Patch is muted, so 7 Sampler's model input is dropped. Both Patch nodes vanish from the prompt.
    ui = _ui([
        {"id": 1, "type": "Loader", "widgets_values": ["a.ckpt"]},
        {"id": 4, "type": "Reroute", "inputs": [{"name": "", "type": "*", "link": 10}]},
        {"id": 5, "type": "Patch", "mode": 4, "widgets_values": [0.5],
         "inputs": [{"name": "model", "type": "MODEL", "link": 11}], "outputs": [{"name": "MODEL", "type": "MODEL"}]},
        _sampler(2, 12, [1, "fixed", 2, "x", "fixed", 3, 1.0, ""]),
        {"id": 6, "type": "Patch", "mode": 2, "widgets_values": [1.0],
         "inputs": [{"name": "model", "type": "MODEL", "link": 13}], "outputs": [{"name": "MODEL", "type": "MODEL"}]},
        _sampler(7, 14, [1, "fixed", 2, "x", "fixed", 3, 1.0, ""]),
    ], [[10, 1, 0, 4, 0, "MODEL"], [11, 4, 0, 5, 0, "MODEL"], [12, 5, 0, 2, 0, "MODEL"],
        [13, 1, 0, 6, 0, "MODEL"], [14, 6, 0, 7, 0, "MODEL"]])
    api = ui_to_api(ui, INFO)
    assert sorted(api) == ["1", "2", "7"]
    assert api["2"]["inputs"]["model"] == ["1", 0]
    assert "model" not in api["7"]["inputs"]


def test_linked_widget_and_primitive_source():
    # steps is driven by a link from node 8 (a real node) and cfg by a PrimitiveNode (value stays the widget's).
    ui = _ui([
        {"id": 1, "type": "Loader", "widgets_values": ["a.ckpt"]},
        {"id": 8, "type": "Sampler", "widgets_values": [0, "fixed", 1, "x", "fixed", 0, 1.0, ""],
         "inputs": [{"name": "model", "type": "MODEL", "link": None}]},
        {"id": 9, "type": "PrimitiveNode", "widgets_values": [4.5, "fixed"]},
        _sampler(2, 1, [1, "fixed", 2, "x", "fixed", 3, 4.5, ""], extra_inputs=(
            {"name": "steps", "type": "INT", "widget": {"name": "steps"}, "link": 20},
            {"name": "cfg", "type": "FLOAT", "widget": {"name": "cfg"}, "link": 21})),
    ], [[1, 1, 0, 2, 0, "MODEL"], [20, 8, 0, 2, 1, "INT"], [21, 9, 0, 2, 2, "FLOAT"]])
    inputs = ui_to_api(ui, INFO)["2"]["inputs"]
    assert inputs["steps"] == ["8", 0]
    assert inputs["cfg"] == 4.5


def test_dict_widgets_values_and_titles():
    ui = _ui([{"id": 3, "type": "Patch", "title": "My patch", "widgets_values": {"strength": 0.25},
               "inputs": [{"name": "model", "type": "MODEL", "link": None}]}], [])
    assert ui_to_api(ui, INFO) == {"3": {"class_type": "Patch", "inputs": {"strength": 0.25},
                                         "_meta": {"title": "My patch"}}}


def test_missing_node_type_is_a_clear_error():
    ui = _ui([{"id": 1, "type": "Loader", "widgets_values": ["a.ckpt"]},
              {"id": 2, "type": "SomePackNode", "widgets_values": []}], [])
    with pytest.raises(WorkflowError, match=r"SomePackNode \(node 2\).*install the pack"):
        ui_to_api(ui, INFO)


def test_format_detection():
    assert is_ui_workflow({"nodes": [], "links": []})
    assert not is_ui_workflow({"1": {"class_type": "Loader", "inputs": {}}})
    with pytest.raises(WorkflowError, match="not a UI-format"):
        ui_to_api({"1": {"class_type": "Loader", "inputs": {}}}, INFO)
