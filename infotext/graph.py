"""The settings of an executed ComfyUI API prompt, read upstream from its save node (pure dict logic).

An API prompt is ``{node_id: {"class_type": str, "inputs": {name: value | [source_id, output_index]}}}`` (what
ComfyUI's ``/prompt`` runs and hands to a node as the hidden ``PROMPT``). From the save node the walk finds the last
sampling node, then its first pass (HiRes Fix / a stock second KSampler over an upscaled latent), the latent size and
batch, the prompts behind positive and negative, the CLIP and model chains (clip skip, LoRA loaders, checkpoint)
and the VAE. Forgeline nodes (KSampler / HiRes Fix / Refiner / Prompt Encode / LoRA loaders) and the stock
KSampler, KSamplerAdvanced, CLIPTextEncode, CLIPSetLastLayer, LoraLoader, CheckpointLoaderSimple, VAELoader graphs
are understood. The result names settings as A1111's processing attributes (see ``create.PROCESSING_DEFAULTS``);
files to hash are returned separately, because hashing is the host's job.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from . import names

NOISE_SOURCE_RNG = {"a1111_gpu": "GPU", "gpu": "GPU", "a1111_cpu": "CPU", "cpu": "CPU", "a1111_nv": "NV",
                    "nv": "NV", "comfy": "ComfyUI"}
RNG_NOISE_SOURCE = {"GPU": "a1111_gpu", "CPU": "a1111_cpu", "NV": "a1111_nv", "ComfyUI": "comfy"}
HIRES_SAME = "(same as first pass)"
SAMPLER_CLASSES = {"KSampler", "KSamplerAdvanced", "ForgelineKSampler", "ForgelineHiResFix", "ForgelineRefiner"}
LATENT_UPSCALE_METHODS = {"bilinear": "Latent", "nearest-exact": "Latent (nearest-exact)",
                          "bicubic": "Latent (bicubic)", "area": "Latent (area)", "bislerp": "Latent (bislerp)"}
LORA_LOADERS = {"LoraLoader", "LoraLoaderModelOnly", "ForgelineLoraLoader", "ForgelineLoraStack"}
CHECKPOINT_LOADERS = {"CheckpointLoaderSimple", "CheckpointLoader", "ImageOnlyCheckpointLoader"}
MAX_WALK = 10000


@dataclass
class LoraUse:
    name: str            # name written in the infotext (tag name, or the file stem for loader nodes)
    file: str | None     # loras-folder file name when a loader node names it (tags: None, resolve by name)
    te: object = 1.0
    unet: object = 1.0
    schedule: str = ""
    from_tag: bool = False


@dataclass
class GraphRun:
    settings: dict = field(default_factory=dict)
    checkpoint: str | None = None
    vae: str | None = None
    refiner_checkpoint: str | None = None
    hires_checkpoint: str | None = None
    loras: list = field(default_factory=list)
    batch_size: int = 1
    notes: list = field(default_factory=list)


def is_link(value):
    return isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[1], int) \
        and isinstance(value[0], (str, int))


PRIMITIVE_KEYS = ("value", "string", "text", "prompt", "seed", "int", "float", "number", "boolean")


class _Walker:
    def __init__(self, prompt, resolve_link=None):
        if not isinstance(prompt, dict):
            raise ValueError("the executed prompt is not a dict of nodes")
        self.prompt = prompt
        self.steps = 0
        self.resolve_link = resolve_link
        self.unresolved = []

    def node(self, link):
        if not is_link(link):
            return None, None
        self.steps += 1
        if self.steps > MAX_WALK:
            raise ValueError("the prompt graph is too large or cyclic to walk")
        node = self.prompt.get(str(link[0]))
        return (node, link[1]) if isinstance(node, dict) else (None, None)

    def inputs(self, node):
        return node.get("inputs") or {}

    def value(self, node, name, default=None):
        """A widget value, following links to primitive nodes (one output, the value in a widget) or to nodes the
        ``resolve_link(class_type, inputs, output_index)`` callback can evaluate; anything else gives ``default``
        and is noted."""
        value = self.inputs(node).get(name, default)
        seen = 0
        while is_link(value) and seen < 32:
            seen += 1
            src, out = self.node(value)
            if src is None:
                return default
            cls, ins = str(src.get("class_type", "")), self.inputs(src)
            if self.resolve_link is not None:
                got = self.resolve_link(cls, ins, out)
                if got is not None:
                    value = got
                    continue
            key = next((k for k in PRIMITIVE_KEYS if k in ins), None)
            if out == 0 and key is not None and ("Primitive" in cls or cls in ("String", "Int", "Float", "Boolean")
                                                 or len(ins) == 1):
                value = ins[key]
                continue
            self.unresolved.append(f"{node.get('class_type')}.{name} (from {cls})")
            return default
        return value

    def find_upstream(self, start_links, classes):
        """Breadth-first upstream search from the given links for the first node whose class is in ``classes``."""
        queue, seen = list(start_links), set()
        while queue:
            link = queue.pop(0)
            node, _ = self.node(link)
            if node is None or str(link[0]) in seen:
                continue
            seen.add(str(link[0]))
            if node.get("class_type") in classes:
                return str(link[0]), node
            queue.extend(v for v in self.inputs(node).values() if is_link(v))
        return None, None


def _stem(name):
    return os.path.splitext(os.path.basename(str(name).replace("\\", "/")))[0]


def _num(x):
    """A LoRA weight as a prompt tag writes it: 0.8, 1, -0.25."""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    return str(int(f)) if f == int(f) else repr(f)


def lora_tag(use):
    """``<lora:name:weight>`` (A1111), ``<lora:name:te:unet>`` when they differ, the loractl schedule when set."""
    if use.schedule:
        return f"<lora:{use.name}:{use.schedule}>"
    if _num(use.te) == _num(use.unet):
        return f"<lora:{use.name}:{_num(use.unet)}>"
    return f"<lora:{use.name}:{_num(use.te)}:{_num(use.unet)}>"


class _Reader:
    def __init__(self, prompt, resolve_link=None):
        self.w = _Walker(prompt, resolve_link)
        self.run = GraphRun()
        self.loader_ids = set()

    # -- conditioning ---------------------------------------------------------------------------------------------
    def text(self, link):
        """Prompt text, clip skip, emphasis and the CLIP link behind a conditioning link."""
        for _ in range(64):
            node, out = self.w.node(link)
            if node is None:
                return None
            cls, ins = node.get("class_type"), self.w.inputs(node)
            if cls == "ForgelinePromptEncode":
                return {"text": self.w.value(node, "text", ""), "clip_skip": self.w.value(node, "clip_skip", 1),
                        "emphasis": self.w.value(node, "emphasis", "Original"), "clip": ins.get("clip"),
                        "old": bool(self.w.value(node, "old_prompt_editing_timelines", False))}
            if cls in ("CLIPTextEncode", "CLIPTextEncodeSDXLRefiner"):
                return {"text": self.w.value(node, "text", ""), "clip": ins.get("clip")}
            if cls == "CLIPTextEncodeSDXL":
                return {"text": self.w.value(node, "text_g", ""), "clip": ins.get("clip")}
            nxt = None
            if cls and "ControlNetApply" in cls and "positive" in ins:
                nxt = ins.get("positive" if out == 0 else "negative")
            else:
                for key in ("conditioning", "conditioning_to", "cond", "conditioning_1"):
                    if is_link(ins.get(key)):
                        nxt = ins[key]
                        break
            if nxt is None:
                self.run.notes.append(f"conditioning from {cls} is not read")
                return None
            link = nxt
        return None

    def clip_chain(self, link):
        """(clip_skip from CLIPSetLastLayer or None) while collecting LoRA loaders on the CLIP path."""
        clip_skip = None
        for _ in range(256):
            node, _ = self.w.node(link)
            if node is None:
                return clip_skip
            cls, ins = node.get("class_type"), self.w.inputs(node)
            if cls == "CLIPSetLastLayer" and clip_skip is None:
                clip_skip = -int(self.w.value(node, "stop_at_clip_layer", -1))
            if cls in LORA_LOADERS or cls == "ForgelineApplyPromptLoras":
                self.lora_node(str(link[0]), node)
            if cls in CHECKPOINT_LOADERS:
                return clip_skip
            link = ins.get("clip")
        return clip_skip

    # -- model ----------------------------------------------------------------------------------------------------
    def model_chain(self, link):
        """The checkpoint file behind a model link, collecting LoRA loaders on the way."""
        for _ in range(256):
            node, _ = self.w.node(link)
            if node is None:
                return None
            cls, ins = node.get("class_type"), self.w.inputs(node)
            if cls in LORA_LOADERS or cls == "ForgelineApplyPromptLoras":
                self.lora_node(str(link[0]), node)
            if cls in CHECKPOINT_LOADERS:
                return self.w.value(node, "ckpt_name")
            if cls == "UNETLoader":
                return self.w.value(node, "unet_name")
            nxt = ins.get("model")
            if not is_link(nxt):
                nxt = next((v for k, v in ins.items() if is_link(v) and "model" in k), None)
            link = nxt
        return None

    def lora_node(self, node_id, node):
        if node_id in self.loader_ids:
            return
        self.loader_ids.add(node_id)
        cls = node.get("class_type")
        if cls == "ForgelineApplyPromptLoras":
            return                                   # its tags are in the prompt text
        suffixes = [""] if cls != "ForgelineLoraStack" else [f"_{i}" for i in range(1, 33)]
        for sfx in suffixes:
            name = self.w.value(node, f"lora_name{sfx}")
            if not name or name == "None":
                continue
            unet = self.w.value(node, f"strength_model{sfx}", 1.0)
            te = 0.0 if cls == "LoraLoaderModelOnly" else self.w.value(node, f"strength_clip{sfx}", 1.0)
            schedule = str(self.w.value(node, f"schedule{sfx}", "") or "")
            self.run.loras.append(LoraUse(_stem(name), str(name), te, unet, schedule))

    # -- latent ---------------------------------------------------------------------------------------------------
    def latent(self, link, s):
        node, _ = self.w.node(link)
        for _ in range(64):
            if node is None:
                return
            cls = node.get("class_type")
            if cls in ("EmptyLatentImage", "ForgelineEmptyLatent", "EmptySD3LatentImage"):
                s["width"] = int(self.w.value(node, "width", 512))
                s["height"] = int(self.w.value(node, "height", 512))
                self.run.batch_size = int(self.w.value(node, "batch_size", 1))
                return
            if cls in ("VAEEncode", "VAEEncodeTiled", "VAEEncodeForInpaint"):
                s["img2img"] = True
                return
            nxt = self.w.inputs(node).get("samples")
            if not is_link(nxt):
                return
            node, _ = self.w.node(nxt)

    # -- samplers -------------------------------------------------------------------------------------------------
    def sampler_settings(self, node, s):
        cls = node.get("class_type")
        v = lambda k, d=None: self.w.value(node, k, d)  # noqa: E731
        s["seed"] = int(v("noise_seed" if cls == "KSamplerAdvanced" else "seed", 0))
        s["steps"] = int(v("steps", 20))
        s["cfg_scale"] = float(v("cfg", 7.0))
        comfy_sampler, comfy_scheduler = v("sampler_name"), v("scheduler")
        label = names.a1111_sampler_label(comfy_sampler)
        if label is None:
            self.run.notes.append(f"sampler {comfy_sampler!r} has no A1111 name; written as is")
        s["sampler_name"] = label or str(comfy_sampler)
        sched = names.a1111_scheduler_label(comfy_scheduler, label)
        if sched is None:
            self.run.notes.append(f"scheduler {comfy_scheduler!r} has no A1111 name; written as is")
        s["scheduler"] = sched or str(comfy_scheduler)
        if cls in ("ForgelineKSampler", "ForgelineHiResFix", "ForgelineRefiner"):
            s["eta"] = float(v("eta", 1.0))
            s["s_noise"] = float(v("s_noise", 1.0))
            s["randn_source"] = NOISE_SOURCE_RNG.get(str(v("noise_source", "a1111_gpu")), "GPU")
            s["eta_noise_seed_delta"] = int(v("ensd", 0))
        else:
            s["randn_source"] = "ComfyUI"
        if cls == "ForgelineKSampler":
            strength = float(v("variation_strength", 0.0) or 0.0)
            if strength:
                s["subseed"] = int(v("variation_seed", 0))
                s["subseed_strength"] = strength
            w, h = int(v("resize_seed_from_width", 0) or 0), int(v("resize_seed_from_height", 0) or 0)
            if w > 0 and h > 0:
                s["seed_resize_from_w"], s["seed_resize_from_h"] = w, h
        return comfy_sampler, comfy_scheduler

    def prompts(self, node, s, pos_key="positive", neg_key="negative"):
        ins = self.w.inputs(node)
        pos, neg = self.text(ins.get(pos_key)), self.text(ins.get(neg_key))
        s["prompt"] = str(pos["text"]) if pos else ""
        s["negative_prompt"] = str(neg["text"]) if neg else ""
        clip_skip = None
        for t in (pos, neg):
            if t is None:
                continue
            chain_skip = self.clip_chain(t.get("clip"))
            if "clip_skip" in t:
                clip_skip = int(t["clip_skip"])
                s["emphasis"] = str(t.get("emphasis", "Original"))
                if t.get("old"):
                    s["old_prompt_editing_timelines"] = True
            elif chain_skip is not None and clip_skip is None:
                clip_skip = chain_skip
        if clip_skip is not None:
            s["clip_skip"] = clip_skip

    def first_pass(self, node_id, node, s):
        cls = node.get("class_type")
        ins = self.w.inputs(node)
        if cls == "ForgelineRefiner":
            self.sampler_settings(node, s)
            self.prompts(node, s, "base_positive", "base_negative")
            self.run.checkpoint = self.model_chain(ins.get("base_model"))
            self.run.refiner_checkpoint = self.model_chain(ins.get("refiner_model"))
            switch_at = float(self.w.value(node, "switch_at", 0.8))
            if switch_at < 1.0 and self.run.refiner_checkpoint:
                s["refiner_checkpoint"] = _stem(self.run.refiner_checkpoint)
                s["refiner_switch_at"] = switch_at
                if self.w.value(node, "switch_by", "timestep") == "steps":
                    s["refiner_switch_by_sampling_steps"] = True
            self.latent(ins.get("latent_image"), s)
            return
        self.sampler_settings(node, s)
        self.prompts(node, s)
        self.run.checkpoint = self.model_chain(ins.get("model"))
        denoise = float(self.w.value(node, "denoise", 1.0))
        self.latent(ins.get("latent_image"), s)
        if s.get("img2img"):
            s["denoising_strength"] = denoise
        elif denoise < 1.0:
            self.run.notes.append(f"txt2img first pass with denoise {denoise} is not an A1111 setting")

    def hires_from_node(self, node, s):
        v = lambda k, d=None: self.w.value(node, k, d)  # noqa: E731
        s["enable_hr"] = True
        s["denoising_strength"] = float(v("denoise", 0.7))
        s["hr_upscaler"] = str(v("upscaler", "Latent"))
        rw, rh = int(v("resize_width", 0) or 0), int(v("resize_height", 0) or 0)
        if rw or rh:
            s["hr_resize_x"], s["hr_resize_y"] = rw, rh
        else:
            s["hr_scale"] = float(v("upscale_by", 2.0))
        s["hr_second_pass_steps"] = int(v("hires_steps", 0) or 0)
        label = s.get("sampler_name")
        hs, hsched = v("hires_sampler", HIRES_SAME), v("hires_scheduler", HIRES_SAME)
        if hs not in (None, HIRES_SAME):
            label = names.a1111_sampler_label(hs) or str(hs)
            s["hr_sampler_name"] = label
        if hsched not in (None, HIRES_SAME):
            s["hr_scheduler"] = names.a1111_scheduler_label(hsched, label) or str(hsched)
        hcfg = float(v("hires_cfg", 0.0) or 0.0)
        if hcfg:
            s["hr_cfg"] = hcfg
        ins = self.w.inputs(node)
        for key, attr in (("hires_positive", "hr_prompt"), ("hires_negative", "hr_negative_prompt")):
            t = self.text(ins.get(key)) if is_link(ins.get(key)) else None
            if t is not None:
                s[attr] = str(t["text"])

    def read(self, save_id):
        save = self.w.prompt.get(str(save_id))
        if not isinstance(save, dict):
            raise ValueError(f"save node {save_id!r} is not in the executed prompt")
        images = [v for v in self.w.inputs(save).values() if is_link(v)]
        final_id, final = self.w.find_upstream(images, SAMPLER_CLASSES)
        s = self.run.settings
        if final is None:
            self.run.notes.append("no sampling node found upstream of the save node")
            return self.run
        _, decode = self.w.find_upstream(images, {"VAEDecode", "VAEDecodeTiled"})
        if decode is not None:
            vnode, _ = self.w.node(self.w.inputs(decode).get("vae"))
            if vnode is not None and vnode.get("class_type") == "VAELoader":
                self.run.vae = self.w.value(vnode, "vae_name")
        cls, ins = final.get("class_type"), self.w.inputs(final)
        if cls == "ForgelineHiResFix":
            first_id, first = self.w.find_upstream([ins.get("latent")], SAMPLER_CLASSES - {"ForgelineHiResFix"})
            if first is not None:
                self.first_pass(first_id, first, s)
            else:
                self.sampler_settings(final, s)
                self.prompts(final, s)
                self.run.checkpoint = self.model_chain(ins.get("model"))
            self.hires_from_node(final, s)
        elif cls in ("KSampler", "KSamplerAdvanced") and self._stock_two_pass(final, s):
            pass
        else:
            self.first_pass(final_id, final, s)
        if self.run.vae:
            s["vae_name"] = os.path.basename(str(self.run.vae))
        if self.run.checkpoint:
            s["model_name"] = _stem(self.run.checkpoint)
        return self.run

    def _stock_two_pass(self, final, s):
        """KSampler(denoise < 1) over LatentUpscale(By)(KSampler) = A1111 hires; KSamplerAdvanced over
        KSamplerAdvanced = base -> refiner."""
        ins = self.w.inputs(final)
        up, _ = self.w.node(ins.get("latent_image"))
        if final.get("class_type") == "KSampler" and up is not None and \
                up.get("class_type") in ("LatentUpscale", "LatentUpscaleBy"):
            first_id, first = self.w.find_upstream([self.w.inputs(up).get("samples")], SAMPLER_CLASSES)
            denoise = float(self.w.value(final, "denoise", 1.0))
            if first is None or denoise >= 1.0:
                return False
            self.first_pass(first_id, first, s)
            s["enable_hr"] = True
            s["denoising_strength"] = denoise
            method = str(self.w.value(up, "upscale_method", "bilinear"))
            s["hr_upscaler"] = LATENT_UPSCALE_METHODS.get(method, f"Latent ({method})")
            if up.get("class_type") == "LatentUpscaleBy":
                s["hr_scale"] = float(self.w.value(up, "scale_by", 1.5))
            else:
                s["hr_resize_x"] = int(self.w.value(up, "width", 0))
                s["hr_resize_y"] = int(self.w.value(up, "height", 0))
            s["hr_second_pass_steps"] = int(self.w.value(final, "steps", 0))
            self.run.notes.append("stock KSampler hires pass: steps are ComfyUI's (steps over a denoise-long "
                                  "schedule), not A1111's Hires steps")
            hs = s.get("sampler_name")
            fs = names.a1111_sampler_label(self.w.value(final, "sampler_name")) or str(self.w.value(final, "sampler_name"))
            if fs != hs:
                s["hr_sampler_name"] = fs
            return True
        if final.get("class_type") == "KSamplerAdvanced" and up is not None and \
                up.get("class_type") == "KSamplerAdvanced":
            self.first_pass(None, up, s)
            refiner = self.model_chain(ins.get("model"))
            steps = int(self.w.value(final, "steps", 1))
            start = int(self.w.value(final, "start_at_step", 0))
            if refiner and steps:
                self.run.refiner_checkpoint = refiner
                s["refiner_checkpoint"] = _stem(refiner)
                s["refiner_switch_at"] = start / steps
                s["refiner_switch_by_sampling_steps"] = True
            return True
        return False


def read_prompt_settings(prompt, save_node_id, resolve_link=None):
    """:class:`GraphRun` for the image the save node ``save_node_id`` received in the executed ``prompt``.

    LoRAs of loader nodes are added to the settings' prompt as A1111 tags (``<lora:name:weight>``) unless the
    prompt already tags them, so the infotext reads as A1111 would have written it."""
    reader = _Reader(prompt, resolve_link)
    try:
        run = reader.read(save_node_id)
    except (TypeError, ValueError) as exc:
        if "save node" in str(exc):
            raise
        run = reader.run
        run.notes.append(f"the graph could not be read completely: {exc}")
    if reader.w.unresolved:
        run.notes.append("values not known before running, left at defaults: " + ", ".join(reader.w.unresolved))
    s = run.settings
    prompt_text = s.get("prompt", "")
    from ..lora.extra_networks import lora_entries, parse_extra_networks
    try:
        tagged = {e["name"] for e in lora_entries(parse_extra_networks(prompt_text)[1])}
    except Exception:  # malformed tags: leave the text alone, A1111 would too
        tagged = set()
    extra_tags = []
    for use in run.loras:
        if use.name not in tagged:
            extra_tags.append(lora_tag(use))
    for name in sorted(tagged):
        run.loras.append(LoraUse(name, None, from_tag=True))
    if extra_tags and s is not None and "prompt" in s:
        s["prompt"] = (prompt_text + (" " if prompt_text and not prompt_text.endswith((" ", "\n")) else "")
                       + " ".join(extra_tags))
    return run
