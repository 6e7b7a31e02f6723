"""API graphs with Forgeline's LoRA nodes (e2e tests, benchmarks, bundled-workflow reference)."""
from forgeline.tests.e2e.graphs import SD15, txt2img


def _through(graph, node_id, node):
    """Insert ``node`` (taking ckpt MODEL/CLIP) between the checkpoint and the sampler / text encoders."""
    graph[node_id] = node
    graph["sample"]["inputs"]["model"] = [node_id, 0]
    if "clip" in node["inputs"]:
        graph["pos"]["inputs"]["clip"] = [node_id, 1]
        graph["neg"]["inputs"]["clip"] = [node_id, 1]
    return graph


def lora_txt2img(lora="forgeline_sd15_style_r16.safetensors", schedule="", strength_model=1.0, strength_clip=1.0,
                 block_weights="", mode="loractl", **kw):
    """txt2img through ForgelineLoraLoader (schedule '' = constant, '0@0,1@1' = ramp)."""
    g = txt2img(**kw)
    return _through(g, "lora", {"class_type": "ForgelineLoraLoader", "inputs": {
        "model": ["ckpt", 0], "clip": ["ckpt", 1], "lora_name": lora, "strength_model": strength_model,
        "strength_clip": strength_clip, "schedule": schedule, "block_weights": block_weights, "mode": mode,
        "hires_pass": False}})


def prompt_tag_txt2img(positive="a photo of a cat <lora:forgeline_sd15_kohya:0.8>", **kw):
    """Tags applied by ForgelineApplyPromptLoras; the positive is encoded from its tag-free text."""
    g = txt2img(positive=positive, **kw)
    g["tags"] = {"class_type": "ForgelineApplyPromptLoras", "inputs": {
        "model": ["ckpt", 0], "clip": ["ckpt", 1], "text": positive, "mode": "loractl"}}
    g["sample"]["inputs"]["model"] = ["tags", 0]
    g["pos"]["inputs"].update({"clip": ["tags", 1], "text": ["tags", 2]})
    g["neg"]["inputs"]["clip"] = ["tags", 1]
    return g


def lcm_txt2img(lcm="forgeline_sd15_lcm_lora.safetensors", style="forgeline_sd15_style_r16.safetensors",
                style_strength=0.8, lcm_strength=1.0, **kw):
    """ForgelineLCMLoraMerge, its preset (lcm, sgm_uniform, 4 steps, cfg 1) wired into the KSampler."""
    g = txt2img(**kw)
    g["lcm"] = {"class_type": "ForgelineLCMLoraMerge", "inputs": {
        "model": ["ckpt", 0], "clip": ["ckpt", 1], "lcm_lora": lcm, "style_lora": style,
        "style_strength": style_strength, "lcm_strength": lcm_strength, "save_merged": False,
        "filename_prefix": "checkpoints/forgeline_lcm_merged"}}
    g["sample"]["inputs"].update({"model": ["lcm", 0], "steps": ["lcm", 2], "cfg": ["lcm", 3],
                                  "sampler_name": ["lcm", 4], "scheduler": ["lcm", 5]})
    g["pos"]["inputs"]["clip"] = ["lcm", 1]
    g["neg"]["inputs"]["clip"] = ["lcm", 1]
    return g


def hooks_txt2img(lora="forgeline_sd15_style_r16.safetensors", start=0.0, end=1.0, **kw):
    """ComfyUI's own hooks doing the same ramp: CreateHookLora → CreateHookKeyframesInterpolated (linear, one
    keyframe per step, so the strength changes every step) → SetHookKeyframes → SetClipHooks(apply_to_conds) so
    positive and negative share the hook group (CFG stays one batch)."""
    g = txt2img(**kw)
    steps = g["sample"]["inputs"]["steps"]
    g["hook"] = {"class_type": "CreateHookLora", "inputs": {"lora_name": lora, "strength_model": 1.0,
                                                            "strength_clip": 1.0}}
    g["kf"] = {"class_type": "CreateHookKeyframesInterpolated", "inputs": {
        "strength_start": start, "strength_end": end, "interpolation": "linear", "start_percent": 0.0,
        "end_percent": 1.0, "keyframes_count": max(min(steps, 100), 2), "print_keyframes": False}}
    g["hookkf"] = {"class_type": "SetHookKeyframes", "inputs": {"hooks": ["hook", 0], "hook_kf": ["kf", 0]}}
    g["cliphooks"] = {"class_type": "SetClipHooks", "inputs": {"clip": ["ckpt", 1], "apply_to_conds": True,
                                                               "schedule_clip": False, "hooks": ["hookkf", 0]}}
    g["pos"]["inputs"]["clip"] = ["cliphooks", 0]
    g["neg"]["inputs"]["clip"] = ["cliphooks", 0]
    return g


def plot_graph(schedules="style: 0@0,1@1", steps=20, hr_steps=0, prefix="forgeline_lora_plot"):
    return {"plot": {"class_type": "ForgelineLoraWeightPlot", "inputs": {
                "schedules": schedules, "steps": steps, "hr_steps": hr_steps, "mode": "as loractl reads"}},
            "save": {"class_type": "SaveImage", "inputs": {"images": ["plot", 0], "filename_prefix": prefix}}}


__all__ = ["SD15", "lora_txt2img", "prompt_tag_txt2img", "lcm_txt2img", "hooks_txt2img", "plot_graph"]
