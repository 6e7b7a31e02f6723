"""A seeded generator of bad API graphs for every Forgeline node, built from the server's ``/object_info``.

For each ``Forgeline*`` node: a base graph that wires its required link inputs from stock nodes (checkpoint,
CLIPTextEncode, EmptyLatentImage, a Karras SIGMAS node, KSamplerSelect, EmptyImage) and feeds its first output into
``PreviewAny`` (an output node, so ComfyUI validates it and nothing heavier runs). Each case changes ONE input:

- numbers (INT/FLOAT widgets): NaN, +/-inf and 1e308 as JSON numbers, the same as strings, 1e9, "abc", a dict;
- strings: 200 KB of prompt-like text, traversal names, and per input malformed schedules, block weights, tags,
  thousands of BREAK / AND / nested brackets;
- combos: a missing file, ``../`` and absolute names, 200 KB of text, a number;
- links: to a node id that does not exist, and a link that is not ``[node, slot]``.

Every case is *bad*: the outcome must be an HTTP 400 or a node error whose message names the input (or the missing
node id / file), never a success. :func:`cases` is deterministic for a seed; it draws ``per_input`` mutations for each
input so the count stays moderate (about 150).
"""
import random

SD15 = "forgeline_random_sd15_standin.safetensors"
BIG = 200_000

STOCK = {
    "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": SD15}},
    "pos": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["ckpt", 1]}},
    "neg": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["ckpt", 1]}},
    "latent": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "sigmas": {"class_type": "ForgelineKarrasSigmas", "inputs": {"steps": 2, "sigma_max": 14.614642,
                                                                  "sigma_min": 0.0291675, "rho": 7.0}},
    "sampler": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
    "image": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
}
SOURCES = {"MODEL": ["ckpt", 0], "CLIP": ["ckpt", 1], "VAE": ["ckpt", 2], "CONDITIONING": ["pos", 0],
           "LATENT": ["latent", 0], "SIGMAS": ["sigmas", 0], "SAMPLER": ["sampler", 0], "IMAGE": ["image", 0]}


# Values that make a node's base graph valid and cheap (one step, one update), so every case fails because of the
# ONE input it changes; optional links a node needs to run at all.
BASE_VALUES = {
    "ForgelineBatchPrompts": {"prompts": "a cat\na dog", "steps": 2},
    "ForgelineTrainLoraACRF": {"latents": ["latent", 0], "steps": 1, "grad_accumulation": 1, "anchor_steps": 2,
                               "rank": 1},
    "ForgelineXYZPlot": {"x_values": "1", "steps": 1, "positive": "a cat"},
    "ForgelineA1111Parameters": {"text": "a cat\nSteps: 2, Sampler: Euler a, Seed: 1, Size: 64x64"},
    "ForgelineXYZGridAssemble": {"plot": '{"nx": 1, "ny": 1, "nz": 1}'},
}
# Free text where a path-like value is legitimate words (not a name of anything): only its size is bad.
# Negative prompts and the values of an axis of type "Nothing" (A1111 ignores them) are such text too.
FREE_TEXT = {("ForgelineTrainLoraACRF", "trigger_words"), ("ForgelineXYZCell", "label"),
             ("ForgelineBatchPrompts", "negative"), ("ForgelineXYZPlot", "negative"),
             ("ForgelineXYZPlot", "y_values"), ("ForgelineXYZPlot", "z_values")}
PROMPTS = ("text", "prompts", "positive")  # inputs that take a positive prompt: the prompt cases


def _random_prompt(rng, n=BIG):
    alphabet = "abcdefgh ,()[]:|<>BREAK AND 0123456789.@=_\n"
    return "".join(rng.choice(alphabet) for _ in range(n))


def _number_mutations(kind):
    out = [("nan", float("nan")), ("inf", float("inf")), ("-inf", -float("inf")), ("1e308", 1e308),
           ("str_nan", "nan"), ("str_inf", "inf"), ("str_1e9", "1e9"), ("abc", "abc"), ("dict", {"a": 1})]
    if kind == "INT":
        out.append(("10**30", 10 ** 30))
    return out


def _string_mutations(name, rng):
    traversal = [("dotdot", "../../../../etc/passwd"), ("absolute", "/etc/passwd")]
    if name in PROMPTS:
        return [("200k_random", _random_prompt(rng)), ("2000_break", "a BREAK " * 2000), ("300_and", "a AND " * 300),
                ("5000_parens", "(" * 5000 + "x"), ("weight_1e40", "(x:" + "9" * 40 + ")"),
                ("tag_nan", "a <lora:forgeline_sd15_kohya:nan>"), ("tag_inf_sched", "<lora:x:0@0,inf@1>"),
                ("and_weight_inf", "a AND b:" + "9" * 400),
                ("many_tags", "<lora:forgeline_sd15_kohya:0.1> " * 70), ("200k_lt_colon", "<a:" * (BIG // 3))]
    if name.startswith("schedule") and name != "schedules":
        return [("nan", "0@0,nan@1"), ("inf", "inf"), ("1e999", "0@0,1e999@1"), ("garbage", "0@0,oops@1"),
                ("position_huge", "0@0,1@1e9"), ("200k", "0@0," * (BIG // 4))]
    if name == "schedules":
        return [("nan", "s: 0@0,nan@1"), ("inf", "s: inf"), ("garbage", "s: 0@,@1"), ("200k", "s: " + "0@0," * (BIG // 4)),
                ("empty", "")]
    if name.startswith("block_weights"):
        return [("nan", "nan" + ",1" * 16), ("inf", "1" + ",1" * 15 + ",inf"), ("wrong_count", "1,2,3"),
                ("huge", "1e300" + ",0" * 11), ("200k", "1," * (BIG // 2))]
    if name == "filename_prefix":
        return traversal
    return traversal + [("200k", "x" * BIG)]


def _combo_mutations(name):
    return [("missing_file", "no_such_file_forgeline.safetensors"), ("dotdot", "../../checkpoints/" + SD15),
            ("absolute", "/etc/passwd"), ("200k", "x" * BIG), ("number", 12345)]


def _link_mutations():
    return [("missing_node", ["nope", 0]), ("not_a_pair", ["ckpt"])]


def _default(spec):
    kind, options = spec[0], (spec[1] if len(spec) > 1 else {}) or {}
    if isinstance(kind, list):
        return options.get("default", kind[0] if kind else None)
    if kind == "COMBO":
        choices = options.get("options") or []
        return options.get("default", choices[0] if choices else None)
    if "default" in options:
        return options["default"]
    return {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}.get(kind)


def base_graph(node_id, info):
    """``(graph, widget inputs {name: kind}, link inputs [name])`` for one node, or None if it cannot be wired."""
    graph = {k: {"class_type": v["class_type"], "inputs": dict(v["inputs"])} for k, v in STOCK.items()}
    inputs, widgets, links = {}, {}, []
    required = (info.get("input") or {}).get("required") or {}
    for name, spec in required.items():
        kind = spec[0]
        if isinstance(kind, str) and kind in SOURCES:
            inputs[name] = list(SOURCES[kind])
            links.append(name)
        elif isinstance(kind, list) or kind in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"):
            inputs[name] = _default(spec)
            widgets[name] = "COMBO" if isinstance(kind, list) else kind
        else:
            return None
    for name, value in BASE_VALUES.get(node_id, {}).items():
        inputs[name] = value
        if isinstance(value, list):
            links.append(name)
    graph["node"] = {"class_type": node_id, "inputs": inputs}
    graph["out"] = {"class_type": "PreviewAny", "inputs": {"source": ["node", 0]}}
    return graph, widgets, links


def cases(object_info, seed=12, per_input=2):
    """``[(case id, node class, input name, mutation name, graph)]`` for every Forgeline node, seeded."""
    rng = random.Random(seed)
    out = []
    for node_id in sorted(k for k in object_info if k.startswith("Forgeline")):
        built = base_graph(node_id, object_info[node_id])
        if built is None:
            continue
        graph, widgets, links = built
        for name, kind in sorted(widgets.items()):
            if kind in ("INT", "FLOAT"):
                pool = _number_mutations(kind)
            elif kind == "STRING":
                pool = _string_mutations(name, rng)
                if (node_id, name) in FREE_TEXT:
                    pool = [(m, v) for m, v in pool if m == "200k"]
            elif kind == "COMBO":
                pool = _combo_mutations(name)
            else:
                continue  # BOOLEAN: ComfyUI's bool() accepts any value, nothing is bad
            picked = rng.sample(pool, min(per_input, len(pool)))
            if kind == "STRING" and name == "text":
                picked = pool  # the prompt cases of issue 12: all of them
            for mutation, value in picked:
                g = {k: {"class_type": v["class_type"], "inputs": dict(v["inputs"])} for k, v in graph.items()}
                g["node"]["inputs"][name] = value
                out.append((f"{node_id}.{name}.{mutation}", node_id, name, mutation, g))
        for name in links[:1]:
            for mutation, value in _link_mutations():
                g = {k: {"class_type": v["class_type"], "inputs": dict(v["inputs"])} for k, v in graph.items()}
                g["node"]["inputs"][name] = value
                out.append((f"{node_id}.{name}.{mutation}", node_id, name, mutation, g))
    return out


def lora_file_graph(lora_name):
    """LoRA loader on the SD1.5 stand-in with ``lora_name``, its trigger words into PreviewAny (no sampling)."""
    graph = {k: {"class_type": v["class_type"], "inputs": dict(v["inputs"])} for k, v in STOCK.items()
             if k == "ckpt"}
    graph["node"] = {"class_type": "ForgelineLoraLoader", "inputs": {
        "model": ["ckpt", 0], "clip": ["ckpt", 1], "lora_name": lora_name, "strength_model": 1.0,
        "strength_clip": 1.0, "schedule": "", "block_weights": "", "mode": "loractl"}}
    graph["out"] = {"class_type": "PreviewAny", "inputs": {"source": ["node", 2]}}
    return graph
