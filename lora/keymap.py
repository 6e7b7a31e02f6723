"""Map LoRA module names to a model's state-dict keys (ComfyUI naming) for SD1.x/SD2.x and SDXL.

Input is the list of target keys only (``diffusion_model.*`` of ``model.model`` and ``clip_l.transformer.*`` /
``clip_g.transformer.*`` / ``clip_h.transformer.*`` of ComfyUI's CLIP), so no ComfyUI import is needed.

UNet names (kohya-ss/sd-scripts ``networks/lora.py``; ComfyUI ``comfy/lora.py`` ``model_lora_keys_unet``). A target
``diffusion_model.<ldm path>.weight`` is reachable as

- ``lora_unet_<ldm path with . → _>`` (kohya SDXL, trained on LDM names) and the generic ``diffusion_model.<path>``;
- its diffusers path D, derived by the SD UNet ↔ LDM conversion rules (diffusers ``convert_original_stable_
  diffusion_to_diffusers``), with ``nrb`` res-blocks per level read from the first ``input_blocks.N.0.op``
  downsampler (``nrb = N − 1``):

  ========================================  =================================================================
  LDM                                        diffusers
  ========================================  =================================================================
  ``input_blocks.0.0``                       ``conv_in``
  ``input_blocks.n.0`` / ``.1``, n ≥ 1       ``down_blocks.i.resnets.j`` / ``.attentions.j``,
                                             ``i, j = divmod(n − 1, nrb + 1)``; ``j = nrb`` → ``down_blocks.i.
                                             downsamplers.0.conv`` (``.0.op``)
  ``middle_block.0`` / ``.1`` / ``.2``       ``mid_block.resnets.0`` / ``mid_block.attentions.0`` / ``resnets.1``
  ``output_blocks.n.0`` / ``.1``             ``up_blocks.i.resnets.j`` / ``.attentions.j``, ``i, j = divmod(n, nrb+1)``
  ``output_blocks.n.k.conv`` (k = 1 or 2)    ``up_blocks.i.upsamplers.0.conv`` (the last block of a level)
  resnet ``in_layers.0/2``, ``emb_layers.1``, ``norm1``/``conv1``, ``time_emb_proj``, ``norm2``/``conv2``,
  ``out_layers.0/3``, ``skip_connection``    ``conv_shortcut``
  ``time_embed.0/2``, ``label_emb.0.0/2``    ``time_embedding.linear_1/2``, ``add_embedding`` (and ``class_
                                             embedding``) ``.linear_1/2``
  ``out.0`` / ``out.2``                      ``conv_norm_out`` / ``conv_out``
  ========================================  =================================================================

  and D is reachable as ``lora_unet_<D with _>`` (kohya SD1.5), ``lycoris_<D with _>`` (SimpleTuner), the old
  diffusers attn-processor names ``[unet.]<D with .to_ → .processor.to_, to_out.0 → to_out>``, and, which ComfyUI
  0.3.75 lacks (Comfy-Org/ComfyUI#9753), the modern diffusers/PEFT names ``D`` and ``unet.D``.

Text encoders (ComfyUI ``comfy/lora.py`` ``model_lora_keys_clip``): ``clip_l``/``clip_h`` answer to ``lora_te_``,
``lora_te1_`` and ``text_encoder.``; ``clip_g`` answers to ``lora_te2_`` / ``text_encoder_2.`` when ``clip_l`` is
present (SDXL) and to ``lora_te_`` / ``text_encoder.`` / ``lora_prior_te_`` alone; every weight also answers to
``text_encoders.<key>``. Unlike ComfyUI (six module types in 32 layers) every ``.transformer.`` weight is mapped.
"""
import re

RESNET_LDM_TO_DIFFUSERS = {
    "in_layers.0": "norm1",
    "in_layers.2": "conv1",
    "emb_layers.1": "time_emb_proj",
    "out_layers.0": "norm2",
    "out_layers.3": "conv2",
    "skip_connection": "conv_shortcut",
}

BASIC_LDM_TO_DIFFUSERS = {
    "input_blocks.0.0": ("conv_in",),
    "time_embed.0": ("time_embedding.linear_1",),
    "time_embed.2": ("time_embedding.linear_2",),
    "label_emb.0.0": ("add_embedding.linear_1", "class_embedding.linear_1"),
    "label_emb.0.2": ("add_embedding.linear_2", "class_embedding.linear_2"),
    "out.0": ("conv_norm_out",),
    "out.2": ("conv_out",),
}

CLIP_TOWERS = ("clip_l", "clip_g", "clip_h")


def infer_model_family(target_keys):
    """``"sdxl"`` when the keys hold ``clip_g`` or ``label_emb`` (SDXL's pooled/size embedding), ``"sd2"`` for
    ``clip_h``, else ``"sd1"``."""
    keys = list(target_keys)
    if any(k.startswith(("clip_g.", "diffusion_model.label_emb.")) for k in keys):
        return "sdxl"
    if any(k.startswith("clip_h.") for k in keys):
        return "sd2"
    return "sd1"


def unet_res_blocks_per_level(unet_keys):
    """``nrb`` from the first downsampler ``input_blocks.N.0.op`` (N = nrb + 1); 2 (SD1/SD2/SDXL) if none."""
    ns = [int(m.group(1)) for k in unet_keys if (m := re.match(r"(?:diffusion_model\.)?input_blocks\.(\d+)\.0\.op\.", k))]
    return min(ns) - 1 if ns else 2


def _resnet_suffix(rest):
    for ldm, dif in RESNET_LDM_TO_DIFFUSERS.items():
        if rest == ldm or rest.startswith(ldm + "."):
            return dif + rest[len(ldm):]
    return None


def ldm_to_diffusers_paths(path, nrb=2, upsampler_paths=()):
    """Diffusers UNet module path(s) for an LDM module ``path`` (no ``diffusion_model.`` prefix, no ``.weight``).

    Returns a tuple (empty when the module has no diffusers counterpart). ``upsampler_paths`` is the set of LDM
    prefixes ``output_blocks.n.k`` that are upsamplers (k = 1 without attention, 2 with).
    """
    for ldm, difs in BASIC_LDM_TO_DIFFUSERS.items():
        if path == ldm or path.startswith(ldm + "."):
            return tuple(d + path[len(ldm):] for d in difs)
    parts = path.split(".")
    if parts[0] == "input_blocks" and len(parts) >= 3:
        n, sub, rest = int(parts[1]), parts[2], ".".join(parts[3:])
        if n == 0:
            return ()
        i, j = divmod(n - 1, nrb + 1)
        if j == nrb:
            return (f"down_blocks.{i}.downsamplers.0.conv" + rest[len("op"):],) if sub == "0" and rest.split(".")[0] == "op" else ()
        if sub == "0":
            r = _resnet_suffix(rest)
            return (f"down_blocks.{i}.resnets.{j}.{r}",) if r else ()
        if sub == "1":
            return (f"down_blocks.{i}.attentions.{j}" + ("." + rest if rest else ""),)
        return ()
    if parts[0] == "middle_block" and len(parts) >= 3:
        sub, rest = parts[1], ".".join(parts[2:])
        if sub in ("0", "2"):
            r = _resnet_suffix(rest)
            return (f"mid_block.resnets.{int(sub) // 2}.{r}",) if r else ()
        if sub == "1":
            return ("mid_block.attentions.0." + rest,)
        return ()
    if parts[0] == "output_blocks" and len(parts) >= 3:
        n, sub, rest = int(parts[1]), parts[2], ".".join(parts[3:])
        i, j = divmod(n, nrb + 1)
        if f"output_blocks.{n}.{sub}" in upsampler_paths:
            return (f"up_blocks.{i}.upsamplers.0.conv" + rest[len("conv"):],) if rest.split(".")[0] == "conv" else ()
        if sub == "0":
            r = _resnet_suffix(rest)
            return (f"up_blocks.{i}.resnets.{j}.{r}",) if r else ()
        if sub == "1":
            return (f"up_blocks.{i}.attentions.{j}." + rest,)
        return ()
    return ()


def _processor_name(dpath):
    """Old diffusers attn-processor alias: ``.to_q`` → ``.processor.to_q``, ``to_out.0`` → ``processor.to_out``."""
    name = dpath.replace(".to_", ".processor.to_")
    return name[:-2] if name.endswith(".to_out.0") else name


def unet_lora_key_map(target_keys):
    """Alias → ``diffusion_model.*`` key for every UNet weight (see module docstring for the alias rules)."""
    keys = [k for k in target_keys if k.startswith("diffusion_model.")]
    nrb = unet_res_blocks_per_level(keys)
    upsamplers = {".".join(m.group(1).split(".")[:3]) for k in keys
                  if (m := re.match(r"diffusion_model\.(output_blocks\.\d+\.\d+)\.conv\.weight$", k))}
    key_map = {}
    for k in keys:
        if not k.endswith(".weight"):
            key_map[k] = k
            continue
        path = k[len("diffusion_model."):-len(".weight")]
        key_map["lora_unet_" + path.replace(".", "_")] = k
        key_map[k[:-len(".weight")]] = k
    for k in keys:
        if not k.endswith(".weight"):
            continue
        path = k[len("diffusion_model."):-len(".weight")]
        for d in ldm_to_diffusers_paths(path, nrb, upsamplers):
            u = d.replace(".", "_")
            key_map["lora_unet_" + u] = k
            key_map["lycoris_" + u] = k
            p = _processor_name(d)
            key_map[p] = k
            key_map["unet." + p] = k
            key_map.setdefault(d, k)
            key_map.setdefault("unet." + d, k)
    return key_map


def clip_lora_key_map(target_keys):
    """Alias → ``clip_*.transformer.*`` key for every text-encoder weight (ComfyUI ``model_lora_keys_clip`` rules)."""
    keys = [k for k in target_keys if k.split(".")[0] in CLIP_TOWERS]
    towers = {k.split(".")[0] for k in keys}
    prefixes = {
        "clip_h": (("lora_te_", "lora_te1_"), ("text_encoder.",)),
        "clip_l": (("lora_te_", "lora_te1_"), ("text_encoder.",)),
        "clip_g": ((("lora_te2_",), ("text_encoder_2.",)) if "clip_l" in towers
                   else (("lora_te_", "lora_prior_te_"), ("text_encoder.",))),
    }
    key_map = {}
    for k in keys:
        if not k.endswith(".weight"):
            continue
        key_map["text_encoders." + k[:-len(".weight")]] = k
        tower, _, rest = k.partition(".")
        if not rest.startswith("transformer."):
            continue
        path = rest[len("transformer."):-len(".weight")]
        kohya, dotted = prefixes[tower]
        for p in kohya:
            key_map[p + path.replace(".", "_")] = k
        for p in dotted:
            key_map[p + path] = k
    if "clip_g.transformer.text_projection.weight" in keys:
        key_map["lora_prior_te_text_projection"] = "clip_g.transformer.text_projection.weight"
        key_map["lora_te2_text_projection"] = "clip_g.transformer.text_projection.weight"
    return key_map


def lora_key_map(target_keys):
    """Alias → target key for the UNet and all text encoders of one model (``target_keys``: any iterable of keys)."""
    keys = list(target_keys)
    key_map = clip_lora_key_map(keys)
    key_map.update(unet_lora_key_map(keys))
    return key_map


def preferred_lora_names(target_key, key_map, family="sd1"):
    """Names a trainer would write for ``target_key``: dict with ``kohya``, ``kohya_ldm``, ``diffusers`` (when known).

    ``kohya`` is the SD1.5-style ``lora_unet_<diffusers path>`` (or ``lora_te_`` for SD1/SD2, ``lora_te1_``/
    ``lora_te2_`` for SDXL), ``kohya_ldm`` the SDXL-style ``lora_unet_<ldm path>``, ``diffusers`` the dotted
    ``unet.<path>`` / ``text_encoder[_2].<path>`` name used by diffusers and PEFT.
    """
    names = [a for a, t in key_map.items() if t == target_key]
    out = {}
    ldm = None
    if target_key.startswith("diffusion_model.") and target_key.endswith(".weight"):
        ldm = "lora_unet_" + target_key[len("diffusion_model."):-len(".weight")].replace(".", "_")
        out["kohya_ldm"] = ldm
        dif = [a for a in names if a.startswith("lora_unet_") and a != ldm]
        out["kohya"] = dif[0] if dif else ldm
        dotted = [a for a in names if a.startswith("unet.") and ".processor." not in a]
        if dotted:
            out["diffusers"] = dotted[0]
        return out
    te = ("lora_te1_", "lora_te2_") if family == "sdxl" else ("lora_te_",)
    for a in names:
        if a.startswith(te) and "kohya" not in out:
            out["kohya"] = a
        elif a.startswith(("text_encoder.", "text_encoder_2.")) and "diffusers" not in out:
            out["diffusers"] = a
    return out
