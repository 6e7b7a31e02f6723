"""API-format graphs for X/Y/Z Plot (A1111) and for one of its cells run alone (the standalone txt2img graph with
that cell's settings: A1111 Prompt Encode x2 -> KSampler (A1111) -> VAEDecode). Shared by e2e tests and
bench/pairs/xyz_grid_vs_runs.py."""
from .graphs import SD15


def _loader(ckpt, width, height):
    return {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "latent": {"class_type": "EmptyLatentImage", "inputs": {"width": width, "height": height, "batch_size": 1}},
    }


def xyz_plot(x=("Steps", "2-4"), y=("Sampler", "Euler a, euler"), z=("Nothing", ""), ckpt=SD15,
             positive="a photo of a cat", negative="blurry", seed=1, steps=3, cfg=7.0, sampler="forgeline_euler_a",
             scheduler="forgeline_karras", noise_source="a1111_gpu", width=64, height=64, confirm=False,
             legend=True, layout="grid of grids", prefix="xyz", **extra):
    graph = _loader(ckpt, width, height)
    graph["plot"] = {"class_type": "ForgelineXYZPlot", "inputs": {
        "model": ["ckpt", 0], "clip": ["ckpt", 1], "vae": ["ckpt", 2], "latent_image": ["latent", 0],
        "positive": positive, "negative": negative, "sampler_node": "KSampler (A1111)", "seed": seed,
        "steps": steps, "cfg": cfg, "sampler_name": sampler, "scheduler": scheduler, "denoise": 1.0, "eta": 1.0,
        "s_noise": 1.0, "noise_source": noise_source, "ensd": 0, "img2img_steps": "a1111", "clip_skip": 1,
        "emphasis": "Original", "x_type": x[0], "x_values": x[1], "y_type": y[0], "y_values": y[1],
        "z_type": z[0], "z_values": z[1], "draw_legend": legend, "z_layout": layout, "margin_size": 0,
        "confirm_large_grid": confirm, "hires_fix": False, "hires_upscaler": "Latent", "hires_upscale_by": 2.0,
        "hires_steps": 0, "hires_denoise": 0.7}}
    graph["plot"]["inputs"].update(extra)
    graph["save_grid"] = {"class_type": "SaveImage", "inputs": {"images": ["plot", 0], "filename_prefix": prefix}}
    graph["save_cells"] = {"class_type": "SaveImage", "inputs": {"images": ["plot", 1],
                                                                  "filename_prefix": prefix + "_cells"}}
    return graph


def _encode(text, negative, clip_skip, steps, width, height):
    return {"class_type": "ForgelinePromptEncode", "inputs": {
        "clip": ["ckpt", 1], "text": text, "negative": negative, "emphasis": "Original",
        "comma_padding_backtrack": 20, "clip_skip": clip_skip, "steps": steps, "hires_steps": 0, "width": width,
        "height": height, "crop_w": 0, "crop_h": 0, "target_width": width, "target_height": height}}


def cell_alone(ckpt=SD15, positive="a photo of a cat", negative="blurry", seed=1, steps=3, cfg=7.0,
               sampler="forgeline_euler_a", scheduler="forgeline_karras", noise_source="a1111_gpu", clip_skip=1,
               width=64, height=64, tag="", prefix="xyz_alone"):
    """One cell's settings as the graph a user would build by hand. ``tag`` goes into a node id so a builder can
    make each copy distinct for the output cache."""
    graph = _loader(ckpt, width, height)
    graph["pos" + tag] = _encode(positive, False, clip_skip, steps, width, height)
    graph["neg" + tag] = _encode(negative, True, clip_skip, steps, width, height)
    graph["sample" + tag] = {"class_type": "ForgelineKSampler", "inputs": {
        "model": ["ckpt", 0], "positive": ["pos" + tag, 0], "negative": ["neg" + tag, 0],
        "latent_image": ["latent", 0], "seed": seed, "steps": steps, "cfg": cfg, "sampler_name": sampler,
        "scheduler": scheduler, "denoise": 1.0, "eta": 1.0, "s_noise": 1.0, "noise_source": noise_source,
        "ensd": 0, "img2img_steps": "a1111"}}
    graph["decode" + tag] = {"class_type": "VAEDecode", "inputs": {"samples": ["sample" + tag, 0],
                                                                   "vae": ["ckpt", 2]}}
    graph["save" + tag] = {"class_type": "SaveImage", "inputs": {"images": ["decode" + tag, 0],
                                                                 "filename_prefix": prefix}}
    return graph


def cells_alone(settings_list, **common):
    """Several standalone cell graphs in ONE prompt (shared loader), node ids suffixed by the cell number."""
    graph = {}
    for k, settings in enumerate(settings_list):
        graph.update(cell_alone(tag=f"_{k}", **{**common, **settings}))
    return graph


def lora_hires_alone(positive, hires_steps, seed=1, steps=3, upscale_by=1.5, hires_denoise=0.5, prefix="xyz_lh"):
    """A cell with a <lora:...> tag and HiRes Fix, built by hand: Apply prompt LoRA tags -> A1111 Prompt Encode with
    the returned CLIP -> KSampler (A1111) -> HiRes Fix (A1111) -> VAEDecode."""
    graph = cell_alone(positive=positive, seed=seed, steps=steps, prefix=prefix)
    graph["tags"] = {"class_type": "ForgelineApplyPromptLoras", "inputs": {
        "model": ["ckpt", 0], "clip": ["ckpt", 1], "text": positive, "mode": "loractl"}}
    for enc in ("pos", "neg"):
        graph[enc]["inputs"]["clip"] = ["tags", 1]
    graph["sample"]["inputs"]["model"] = ["tags", 0]
    s = graph["sample"]["inputs"]
    graph["hires"] = {"class_type": "ForgelineHiResFix", "inputs": {
        "model": ["tags", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent": ["sample", 0],
        "seed": seed, "steps": steps, "cfg": s["cfg"], "sampler_name": s["sampler_name"],
        "scheduler": s["scheduler"], "upscaler": "Latent", "upscale_by": upscale_by, "resize_width": 0,
        "resize_height": 0, "hires_steps": hires_steps, "denoise": hires_denoise,
        "hires_sampler": "(same as first pass)", "hires_scheduler": "(same as first pass)", "hires_cfg": 0.0,
        "eta": 1.0, "s_noise": 1.0, "noise_source": s["noise_source"], "ensd": 0, "vae": ["ckpt", 2]}}
    for enc in ("pos", "neg"):
        graph[enc]["inputs"]["hires_steps"] = hires_steps
    graph["decode"]["inputs"]["samples"] = ["hires", 0]
    return graph
