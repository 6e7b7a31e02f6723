"""Trainable LoRA factors on a torch model's attention projections, and their export in kohya's file format.

Targets (AC-RF technical report v1.1 §5.3-§5.4): the attention projections ``to_q``, ``to_k``, ``to_v``, ``to_out``
(the standard set), optionally the feed-forward (``ff.net.0.proj`` / ``ff.net.2`` in LDM/ComfyUI UNets,
``feed_forward``/``ff`` ``w1..w3`` in DiTs). Norms, embedders and the final layer are never selected.

LoRA maths as kohya-ss/sd-scripts ``networks/lora.py`` (``LoRAModule``):

- ``down``: ``[r, in]`` (Linear) or ``[r, cin, kh, kw]`` (Conv2d, same stride/padding as the layer), initialised
  ``kaiming_uniform_(a=sqrt(5))``, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)); ``up``: ``[out, r]`` / ``[out, r, 1, 1]``,
  zeros, so the untrained LoRA is the identity;
- ``scale = alpha / r`` (alpha 0 or None -> r); forward ``org(x) + up(down(x)) * multiplier * scale``;
- file: ``<name>.lora_down.weight``, ``<name>.lora_up.weight``, ``<name>.alpha`` (0-d tensor), with ``<name>`` =
  ``lora_unet_`` + the module path with ``.`` -> ``_``: the diffusers path for SD1.x (kohya trains SD1.5 on the
  diffusers UNet), the LDM path for SDXL and other models (kohya ``sdxl_original_unet``), via ``lora.keymap``.

The factors live in fp32 and are applied as forward hooks (``out + delta(x)``), so the base weights are never
written.
"""
from __future__ import annotations

import json
import math
import re

import torch
import torch.nn.functional as F

from ..lora.keymap import lora_key_map, preferred_lora_names

ATTENTION = "attention"
FEED_FORWARD = "feed_forward"
TARGET_GROUPS = (ATTENTION, FEED_FORWARD)
_ATTN_RE = re.compile(r"(^|\.)(to_q|to_k|to_v|to_out(\.0)?)$")
_FF_RE = re.compile(r"(^|\.)(ff|feed_forward)\.(net\.0\.proj|net\.2|w1|w2|w3)$")
_FROZEN_RE = re.compile(r"(norm|embed|final_layer|adaLN)", re.IGNORECASE)


def target_group(name):
    """``"attention"``, ``"feed_forward"`` or ``None`` for a module path (§5.3; §5.4 exclusions win)."""
    if _FROZEN_RE.search(name):
        return None
    if _ATTN_RE.search(name):
        return ATTENTION
    if _FF_RE.search(name):
        return FEED_FORWARD
    return None


def select_targets(named_modules, groups=(ATTENTION,), name_filter=None):
    """``[(name, module)]`` of the Linear / Conv2d layers in ``groups``; ``name_filter(name) -> bool`` narrows."""
    for g in groups:
        if g not in TARGET_GROUPS:
            raise ValueError(f"targets: {g!r} is not one of {TARGET_GROUPS}")
    out = []
    for name, m in named_modules:
        if not isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
            continue
        if target_group(name) in groups and (name_filter is None or name_filter(name)):
            out.append((name, m))
    return out


class LoraFactor(torch.nn.Module):
    """One layer's trainable ``down``/``up`` pair (kohya ``LoRAModule``); ``delta(x) = up(down(x)) * scale``."""

    def __init__(self, layer, rank, alpha, name="layer", generator=None, device=None):
        super().__init__()
        w = layer.weight
        out_f, in_f = int(w.shape[0]), int(w.shape[1])
        if rank > min(out_f, in_f):
            raise ValueError(f"rank {rank} is larger than layer '{name}' ({out_f} x {in_f}); set rank to at most "
                             f"{min(out_f, in_f)}")
        self.is_conv = isinstance(layer, torch.nn.Conv2d)
        self.rank = int(rank)
        self.alpha = float(alpha) if alpha else float(rank)
        self.scale = self.alpha / self.rank
        self.multiplier = 1.0
        device = device if device is not None else w.device
        if self.is_conv:
            kh, kw = layer.kernel_size
            down_shape, up_shape = (rank, in_f, kh, kw), (out_f, rank, 1, 1)
            self.conv = dict(stride=layer.stride, padding=layer.padding, dilation=layer.dilation)
            fan_in = in_f * kh * kw
        else:
            down_shape, up_shape, fan_in = (rank, in_f), (out_f, rank), in_f
        bound = 1.0 / math.sqrt(fan_in)   # kaiming_uniform_(a=sqrt(5)): gain sqrt(1/3), bound sqrt(3)*gain/sqrt(fan_in)
        down = (torch.rand(down_shape, generator=generator, dtype=torch.float32) * 2.0 - 1.0) * bound
        self.down = torch.nn.Parameter(down.to(device))
        self.up = torch.nn.Parameter(torch.zeros(up_shape, dtype=torch.float32, device=device))

    def delta(self, x):
        x = x.to(self.down.dtype)
        if self.is_conv:
            h = F.conv2d(x, self.down, None, **self.conv)
            return F.conv2d(h, self.up) * (self.scale * self.multiplier)
        return F.linear(F.linear(x, self.down), self.up) * (self.scale * self.multiplier)

    def weight_delta(self):
        """The merged update ``up @ down * scale`` in the layer's weight shape (kohya ``merge_to``)."""
        d = self.up.flatten(1) @ self.down.flatten(1)
        if self.is_conv:
            d = d.reshape(self.up.shape[0], *self.down.shape[1:])
        return d * self.scale


class LoraNetwork(torch.nn.Module):
    """All factors of one training run, keyed by module path; ``attach`` hooks them onto the live layers."""

    def __init__(self, targets, rank, alpha, seed=0, device=None):
        super().__init__()
        if not targets:
            raise ValueError("targets: no layer of the model matches the chosen targets")
        gen = torch.Generator().manual_seed(int(seed))
        self.names = [n for n, _ in targets]
        self.rank, self.alpha = int(rank), (float(alpha) if alpha else float(rank))
        self.factors = torch.nn.ModuleDict({self._key(n): LoraFactor(m, rank, alpha, n, gen, device) for n, m in targets})
        self._layers = dict(targets)
        self._handles = []

    @staticmethod
    def _key(name):
        return name.replace(".", "__")

    def factor(self, name):
        return self.factors[self._key(name)]

    def attach(self):
        """Register ``out + delta(input)`` forward hooks on every target layer (base weights untouched)."""
        self.detach()
        for name in self.names:
            f = self.factor(name)

            def hook(module, args, output, f=f):
                return output + f.delta(args[0]).to(output.dtype)

            self._handles.append(self._layers[name].register_forward_hook(hook))
        return self

    def detach(self):
        for h in self._handles:
            h.remove()
        self._handles = []

    def snapshot(self):
        return {k: v.detach().clone() for k, v in self.state_dict().items()}

    def restore(self, snap):
        self.load_state_dict(snap)


def kohya_names(module_names, unet_keys, prefix="diffusion_model."):
    """``{module path: kohya module name}`` for paths of the diffusion model; ``unet_keys``: all its state-dict keys
    with ``prefix`` (ComfyUI names). SD1.x gets the diffusers-path names kohya writes, others the LDM-path names."""
    keys = [k if k.startswith(prefix) else prefix + k for k in unet_keys]
    key_map = lora_key_map(keys)
    sdxl = any(k.startswith(prefix + "label_emb.") for k in keys)
    nrb_ok = any(k.startswith(prefix + "input_blocks.") for k in keys)
    out = {}
    for name in module_names:
        target = f"{prefix}{name}.weight"
        names = preferred_lora_names(target, key_map)
        out[name] = names["kohya"] if (nrb_ok and not sdxl) else names["kohya_ldm"]
    return out


def export_kohya(network, names, dtype=torch.float32):
    """Kohya state dict: ``<name>.lora_down.weight``, ``<name>.lora_up.weight``, ``<name>.alpha`` per factor."""
    sd = {}
    for path in network.names:
        f = network.factor(path)
        k = names[path]
        sd[f"{k}.lora_down.weight"] = f.down.detach().to("cpu", dtype).contiguous()
        sd[f"{k}.lora_up.weight"] = f.up.detach().to("cpu", dtype).contiguous()
        sd[f"{k}.alpha"] = torch.tensor(f.alpha, dtype=dtype)
    return sd


def kohya_metadata(*, rank, alpha, base_model_version, steps, num_images, output_name="", trigger_words=(),
                   model_name="", resolution="", acrf=None, extra=None):
    """``ss_*`` / ``modelspec.*`` strings as kohya-ss/sd-scripts ``train_network.py`` writes them (all values str).

    Trigger words go to ``modelspec.trigger_phrase`` and, kohya-style, to ``ss_tag_frequency`` under a DreamBooth
    dir ``"1_<words>"`` with every word counted once per image (what trigger-word readers sum)."""
    words = [w.strip() for w in trigger_words if w and w.strip()]
    arch = {"sd_v1": "stable-diffusion-v1", "sdxl_base_v1-0": "stable-diffusion-xl-v1-base"}.get(base_model_version,
                                                                                             base_model_version)
    meta = {
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(int(rank)),
        "ss_network_alpha": str(float(alpha)),
        "ss_network_args": json.dumps({}),
        "ss_base_model_version": base_model_version,
        "ss_v2": "False",
        "ss_steps": str(int(steps)),
        "ss_max_train_steps": str(int(steps)),
        "ss_num_train_images": str(int(num_images)),
        "ss_output_name": output_name,
        "ss_sd_model_name": model_name,
        "ss_resolution": resolution,
        "ss_training_comment": "Forgeline Train LoRA (AC-RF)",
        "modelspec.sai_model_spec": "1.0.1",
        "modelspec.architecture": f"{arch}/lora",
        "modelspec.implementation": "https://github.com/Stability-AI/generative-models",
        "modelspec.title": output_name,
    }
    if words:
        d = "1_" + " ".join(words)
        meta["modelspec.trigger_phrase"] = ", ".join(words)
        meta["ss_tag_frequency"] = json.dumps({d: {w.lower(): int(num_images) for w in words}})
        meta["ss_dataset_dirs"] = json.dumps({d: {"n_repeats": 1, "img_count": int(num_images)}})
    for k, v in (acrf or {}).items():
        meta[f"ss_acrf_{k}"] = str(v)
    meta.update({k: str(v) for k, v in (extra or {}).items()})
    return meta
