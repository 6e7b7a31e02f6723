"""Node expansion: build ComfyUI sub-graphs (``comfy_execution.graph_utils.GraphBuilder``) that a node returns as
``io.NodeOutput(..., expand=graph)``, so the work runs through ComfyUI's own executor.

How ComfyUI runs an expansion (comfyanonymous/ComfyUI:execution.py ``execute``, comfy_execution/caching.py; the same
in 0.3.75 and 0.33.0 with the classic cache): the new nodes become ephemeral nodes of the prompt, displayed on the
expanding node; their outputs are cached in a sub-cache keyed by the expanding node's id and class, each entry keyed by its input
signature (class, inputs, and the signatures of all ancestors -- not its id). So when the expanding node re-runs
with one axis value changed, every sub-graph node whose inputs did not change is a cache hit and only the changed
cells sample again; interrupting stops between and inside nodes as for any graph. Links from the new nodes may
point at nodes of the user's graph: we wire them to the expanding node's own input links (read from the hidden
``dynprompt``), so a cell's ancestry is the user's loaders, exactly as a standalone graph would have it.

The X/Y/Z plot's cell sub-graph (one per cell, see xyz/cells.py) is the standalone A1111 txt2img graph:
[CheckpointLoaderSimple] -> [Apply prompt LoRA tags] -> A1111 Prompt Encode (positive, negative) -> KSampler (A1111)
or KSampler | Refiner handoff (A1111) -> [HiRes Fix (A1111)] -> VAEDecode -> X/Y/Z cell (progress text), and one
assemble node that takes every cell image and draws the grid.

Which caches keep a cell when the plot node itself is a cache hit differs by cache type, not by version:
ComfyUI's classic cache (``HierarchicalCache``, the default of 0.3.75) keeps an expanded node's results in a
sub-cache owned by the expanding node, and keeps that sub-cache as long as the expanding node is in the prompt, so
a prompt in which the plot is a cache hit leaves its cells alone. The generation caches (``LRUCache`` and its
``RAMPressureCache``, the default of 0.33.0: comfy_execution/caching.py) store expanded nodes in the flat cache and
mark them live only in ``ensure_subcache_for``, i.e. when the expanding node runs; after every node 0.33's executor
calls ``ram_release(ram_inactive)`` (execution.py ``execute_async``), whose default threshold is all of the
machine's RAM, so every entry not marked in the current prompt is dropped. A prompt in which the plot was a cache
hit therefore drops all its cells, and the next change re-runs every cell. ``expansion_fingerprint`` detects the
cache the running prompt uses and, on those caches, makes the plot node expand on every prompt (cheap: it only
plans and builds the sub-graph), so its cells are marked live and are cache hits unless their own settings changed.
Limit on those caches: 0.33 drops the cells as soon as the executor has processed one node of the next prompt, so
when it processes another node before the plot (an output node elsewhere in the graph, even a cached one) the cells
run again; in a graph whose outputs all hang off the plot, the plot is the first node it processes.
"""
from __future__ import annotations

import itertools
import json
import sys

from comfy_execution.graph_utils import GraphBuilder, is_link

SAME = "(same as first pass)"
_prompts = itertools.count()


def running_output_cache():
    """The output cache of the prompt whose node fingerprints are being taken (``None`` when not called from
    there): the ``outputs_cache`` of the ``execution.IsChangedCache`` up the call stack (the executor calls a node's
    ``fingerprint_inputs`` from ``IsChangedCache.get``, in 0.3.75 and 0.33.0 alike)."""
    try:
        from execution import IsChangedCache
    except ImportError:
        return None
    frame = sys._getframe(1)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, IsChangedCache):
            return getattr(owner, "outputs_cache", None)
        frame = frame.f_back
    return None


def keeps_expansion_on_hit(cache) -> bool:
    """Whether ``cache`` keeps an expanded node's sub-graph results while the expanding node is a cache hit: true
    for the classic ``HierarchicalCache`` (a sub-cache per expanding node, kept while that node is in the prompt),
    false for the flat generation caches (LRU, RAM pressure) and for anything unknown."""
    try:
        from comfy_execution.caching import HierarchicalCache
    except ImportError:
        return False
    return isinstance(cache, HierarchicalCache)


def expansion_fingerprint():
    """``fingerprint_inputs`` value for a node whose expansion must stay cached: a constant where the running
    cache keeps the sub-graph across a hit of the node, otherwise a new value per prompt, so that the node expands
    again and its unchanged sub-graph nodes are found (and kept) in the cache."""
    if keeps_expansion_on_hit(running_output_cache()):
        return "kept"
    return f"expand-{next(_prompts)}"


def own_inputs(dynprompt, unique_id: str) -> dict:
    """The expanding node's inputs as the prompt has them (links stay ``[node_id, socket]``)."""
    return dict(dynprompt.get_node(unique_id).get("inputs", {}))


def source_node(dynprompt, link):
    """The prompt node a link comes from (``None`` for a value)."""
    if not is_link(link) or not dynprompt.has_node(link[0]):
        return None
    return dynprompt.get_node(link[0])


def input_names(class_type: str) -> set:
    """Names of every input a registered node class declares (for inputs another version may lack)."""
    import nodes

    cls = nodes.NODE_CLASS_MAPPINGS.get(class_type)
    if cls is None:
        return set()
    types = cls.INPUT_TYPES()
    return {name for section in ("required", "optional") for name in types.get(section, {})}


def checkpoint_names() -> list:
    import folder_paths

    return list(folder_paths.get_filename_list("checkpoints"))


def prompt_with_expansion(dynprompt, expansion: dict, sinks: dict) -> dict:
    """An API prompt in which each of ``sinks`` ({node id: IMAGE link}) is a save node of an expanded sub-graph:
    the user's nodes (``dynprompt``'s original prompt), the expansion's nodes (``GraphBuilder.finalize()``; their
    links to the user's nodes kept) and one SaveImage per sink -- so that the infotext walk
    (infotext.graph.read_prompt_settings) reads a cell exactly as it reads the standalone graph of that cell."""
    view = {str(k): v for k, v in dynprompt.get_original_prompt().items()}
    view.update(expansion)
    for sink, link in sinks.items():
        view[sink] = {"class_type": "SaveImage", "inputs": {"images": link}}
    return view


def send_progress_text(text: str, node_id: str) -> None:
    try:
        from server import PromptServer
    except ImportError:
        return
    if getattr(PromptServer, "instance", None) is not None and hasattr(PromptServer.instance, "send_progress_text"):
        PromptServer.instance.send_progress_text(text, node_id)


class CellGraphs:
    """Builds the cell sub-graphs of one plot into one GraphBuilder.

    ``links``: the plot node's own links (model, clip, vae, latent_image, refiner_model, refiner_clip);
    ``fixed``: the inputs no axis changes (emphasis, s_noise, ensd, img2img_steps, hires_upscale_by, ...);
    ``sampler``: "KSampler (A1111)" or "KSampler"; ``base_ckpt``: the checkpoint name the user's loader loads, if
    model/clip/vae come from a CheckpointLoaderSimple (a cell on that checkpoint reuses it instead of loading a copy).
    """

    def __init__(self, links: dict, fixed: dict, sampler: str, base_ckpt: str | None = None,
                 loader_ids: dict | None = None):
        self.g = GraphBuilder()
        self.links = links
        self.fixed = fixed
        self.sampler = sampler
        self.base_ckpt = base_ckpt
        self.loader_ids = loader_ids or {}
        self.ksampler_inputs = input_names("ForgelineKSampler")
        self._ckpts = {}
        self.decoded = {}  # cell index -> the link to its decoded IMAGE (what a save node of the cell reads)

    def _checkpoint(self, name):
        """model, clip, vae links of a cell on checkpoint ``name`` (clip/vae replaced only where they came from the
        base checkpoint loader, as A1111 keeps a separately chosen VAE)."""
        model, clip, vae = self.links["model"], self.links["clip"], self.links["vae"]
        if name is None or name == self.base_ckpt:
            return model, clip, vae
        if name not in self._ckpts:
            self._ckpts[name] = self.g.node("CheckpointLoaderSimple", id=f"ckpt_{len(self._ckpts)}", ckpt_name=name)
        node = self._ckpts[name]
        from_base = lambda key: self.loader_ids.get(key) is not None and self.loader_ids.get(key) == \
            self.loader_ids.get("model")
        return node.out(0), node.out(1) if from_base("clip") else clip, node.out(2) if from_base("vae") else vae

    def _encode(self, cid, clip, text, negative, s):
        f = self.fixed
        return self.g.node("ForgelinePromptEncode", id=cid, clip=clip, text=text, negative=negative,
                           emphasis=f["emphasis"], comma_padding_backtrack=f["comma_padding_backtrack"],
                           clip_skip=s["clip_skip"], steps=s["steps"],
                           hires_steps=s["hires_steps"] if s.get("hires") else 0, width=f["width"],
                           height=f["height"], crop_w=0, crop_h=0, target_width=f["width"],
                           target_height=f["height"]).out(0)

    def add_cell(self, k: int, s: dict):
        """One cell's nodes; returns the link to its IMAGE."""
        g, f, p = self.g, self.fixed, f"c{k}_"
        model, clip, vae = self._checkpoint(s.get("ckpt_name"))
        if "<lora:" in s["positive"] or "<lyco:" in s["positive"]:
            tags = g.node("ForgelineApplyPromptLoras", id=p + "lora", model=model, clip=clip, text=s["positive"],
                          mode="loractl")
            model, clip = tags.out(0), tags.out(1)
        pos = self._encode(p + "pos", clip, s["positive"], False, s)
        neg = self._encode(p + "neg", clip, s["negative"], True, s)
        a1111 = self.sampler == "KSampler (A1111)"
        noise = dict(eta=s["eta"], s_noise=f["s_noise"], noise_source=s["noise_source"] if a1111 else "comfy",
                     ensd=f["ensd"] if a1111 else 0)
        common = dict(seed=s["seed"], steps=s["steps"], cfg=s["cfg"], sampler_name=s["sampler_name"],
                      scheduler=s["scheduler"])
        if s.get("refiner"):
            rclip = self.links["refiner_clip"]
            rpos = self._encode(p + "rpos", rclip, s["positive"], False, s)
            rneg = self._encode(p + "rneg", rclip, s["negative"], True, s)
            latent = g.node("ForgelineRefiner", id=p + "sample", base_model=model, base_positive=pos,
                            base_negative=neg, refiner_model=self.links["refiner_model"], refiner_positive=rpos,
                            refiner_negative=rneg, latent_image=self.links["latent_image"],
                            switch_at=s["refiner_switch_at"], switch_by="timestep", refiner_cfg=0.0,
                            aesthetic_score=6.0, negative_aesthetic_score=2.5, **common, **noise).out(0)
        elif a1111:
            extra = {k2: s[k2] for k2 in ("variation_seed", "variation_strength")
                     if k2 in self.ksampler_inputs and s.get(k2) is not None}
            latent = g.node("ForgelineKSampler", id=p + "sample", model=model, positive=pos, negative=neg,
                            latent_image=self.links["latent_image"], denoise=s["denoise"],
                            img2img_steps=f["img2img_steps"], **common, **noise, **extra).out(0)
        else:
            latent = g.node("KSampler", id=p + "sample", model=model, positive=pos, negative=neg,
                            latent_image=self.links["latent_image"], denoise=s["denoise"], **common).out(0)
        if s.get("hires"):
            latent = g.node("ForgelineHiResFix", id=p + "hires", model=model, positive=pos, negative=neg,
                            latent=latent, upscaler=s["hires_upscaler"], upscale_by=f["hires_upscale_by"],
                            resize_width=0, resize_height=0, hires_steps=s["hires_steps"], denoise=s["hires_denoise"],
                            hires_sampler=SAME, hires_scheduler=SAME, hires_cfg=0.0, vae=vae, **common,
                            **noise).out(0)
        self.decoded[k] = g.node("VAEDecode", id=p + "decode", samples=latent, vae=vae).out(0)
        return self.decoded[k]

    def progress(self, image, k: int, total: int, label: str, display_node: str):
        return self.g.node("ForgelineXYZCell", id=f"c{k}_done", images=image, index=k + 1, total=total, label=label,
                           display_node=display_node).out(0)

    def assemble(self, images_by_index: list, plot: dict):
        inputs = {f"cell_{i}": link for i, link in enumerate(images_by_index)}
        node = self.g.node("ForgelineXYZGridAssemble", id="assemble", plot=json.dumps(plot), **inputs)
        return node.out(0), node.out(1)

    def finalize(self) -> dict:
        return self.g.finalize()
