"""Per-image LoRA in one batch: every image of a batch with its own LoRA set, applied on the activations.

Rule. For a batch of ``N`` model rows where row ``n`` belongs to image ``img(n)`` and image ``b`` has its own
LoRA uses ``(adapter, strength schedule, block weights)``, each patched layer computes

    y_n = W x_n + Σ_{u ∋ img(n)} s_u(img(n), t) · up_u(down_u(x_n))

grouped by use: every use's factors touch only the rows of its images (a strided gather of the runs of
consecutive images it covers → low-rank product → in-place add into the same rows of the output), the base product ``W x`` stays one batched GEMM over all rows, and rows of images without a LoRA
are never written. This is the S-LoRA / Punica idea (``punica-ai/punica:src/punica/ops/__init__.py`` ``add_lora_
sgmv``: the base GEMM stays batched, only the low-rank addition is gathered per adapter segment) in the pure-PyTorch
form of PEFT's mixed-batch forward (``huggingface/peft:src/peft/tuners/lora/layer.py`` ``_mixed_batch_forward``:
loop over the unique adapters, gather their sub-batch rows). Weights are never written, so the path works on
read-only / file-backed / quantised weights (ComfyUI 0.33 dynamic VRAM) and leaves them bit-identical.

Which formats take which path (factors from :mod:`.delta`):

- **LoRA and LoCon** (kohya, diffusers, PEFT, LyCORIS ``lora``; Tucker ``mid`` folded into the down factor by
  :func:`.delta.lora_factors`): the low-rank path. Linear: ``h = x·Aᵀ``, ``y += (s·h)·Bᵀ``. Conv2d (LoCon): ``h =
  conv2d(x, A)`` with the layer's kernel, stride, padding and dilation, ``y += conv1x1(s·h, B)`` (``B`` is always
  1×1, kohya ``networks/lora.py``). ``s`` is a per-row vector (strength × block weight × alpha/rank), so one
  adapter used by several images at different strengths is one gathered product.
- **LoHa, LoKr, (IA)³, full ``diff``, DoRA and bias deltas**: no per-row low-rank form is used (LoHa's Hadamard
  product of two rank-r matrices is not low rank; DoRA's magnitude renormalises the whole weight); they take the
  grouped *dense* pass: the strength-1 update ``U = ΔW`` (DoRA: ``W_dora − W``, (IA)³: ``W·w``;
  :func:`.delta.adapter_update` from the pristine weight) is computed once per run and its rows run
  ``y_rows += s·(x_rows·Uᵀ)`` (a conv with ``U`` for conv layers). This is exactly the merged layer minus the base
  on those rows (linear in ``s``, as ComfyUI's strength is) at the cost of one extra layer product for those rows
  only. A bias delta adds ``s·Δb`` to its rows' outputs.
- Layers other than Linear / Conv2d (norm weights) cannot be patched per row; :meth:`BatchedLora.add` refuses such
  keys (the caller names the prompt line).

CFG and row → image. ComfyUI's ``_calc_cond_batch`` (``comfy/samplers.py``) concatenates whole-batch chunks of the
latent (cond and uncond, in the order of ``transformer_options["cond_or_uncond"]``), so a model call with ``N``
rows and ``k`` chunks holds ``B = N / k`` images and row ``n`` is image ``n mod B`` (:func:`row_images`). The
uncond rows of image ``b`` get image ``b``'s LoRA, as in a single run of that image (the LoRA patches the model,
not a prompt).

Every-row mode (``every_row=True``, one "image"): the engine applies its uses to every row of every model call,
whatever the batch and CFG layout — scheduled strength for a whole batch (``host/lora_schedule.py``), the same
per-layer algebra with no gather (one ``addmm`` into the layer's output per term).

Step-scheduled strength: per image and use, loractl keyframes (:mod:`.loractl`) give a per-step table at run start
(:meth:`BatchedLora.begin_run`): ``mode="loractl"`` indexed by A1111's ``sampling_step`` (loractl's one-step lag),
``mode="exact"`` by the sampler step; constant strengths are plain numbers.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .delta import adapter_update, lora_factors
from .loractl import MODES, keyframe_weight, sampler_step_weight
from .requests import request_from_tag, schedule_params, unet_slots

PASSES = ("first", "hires")


def row_images(rows, chunks, images=None):
    """Image index of each of ``rows`` model rows made of ``chunks`` whole-batch chunks (``n mod B``).

    ``images`` (optional) is the expected batch; a mismatch raises ValueError saying both numbers."""
    if chunks < 1 or rows % chunks:
        raise ValueError(f"per-image LoRA: a model call of {rows} rows is not {chunks} whole-batch chunks")
    batch = rows // chunks
    if images is not None and batch != images:
        raise ValueError(f"per-image LoRA: the model call carries {batch} image(s) per chunk but the prompts are "
                         f"for {images}; the latent batch size must equal the number of prompt lines")
    return torch.arange(rows) % batch


def step_table(slot, strength, steps, mode="loractl"):
    """Per-step strength of one keyframe slot (a number or loractl ``[weights, positions]``) times ``strength``;
    a plain number for a constant slot. Same indexing as the scheduled merge engine (see module docstring)."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
    if not isinstance(slot, list):
        return float(strength) * float(slot)
    if mode == "loractl":
        return [float(strength) * keyframe_weight(slot, s, steps) for s in range(steps)]
    return [float(strength) * sampler_step_weight(slot, i, steps, "exact") for i in range(steps)]


def table_value(table, index):
    """Value of a step table at ``index`` (clamped to its ends); a number is constant."""
    if not isinstance(table, list):
        return float(table)
    return float(table[min(max(int(index), 0), len(table) - 1)])


@dataclass
class _Use:
    """One LoRA (file + block weights) used by some images, each with its own keyframes and strength."""

    name: str
    adapters: dict                                   # {key: [adapter, ...]}
    ratios: dict                                     # {key: block ratio}
    mode: str = "loractl"
    slots: dict = field(default_factory=dict)        # image -> {"first": slot, "hires": slot}
    strengths: dict = field(default_factory=dict)    # image -> strength
    tables: dict = field(default_factory=dict)       # image -> table of this run


@dataclass
class _Term:
    """One adapter of one use on one layer: ``low_rank`` (B [out, r] with alpha/r folded, A [r, in…]) or
    ``dense`` (U shaped like the weight) or ``bias`` (Δb [out])."""

    use: int
    kind: str
    tensors: tuple
    ratio: float = 1.0


class BatchedLora:
    """Per-image LoRA engine over one model's layers (see module docstring).

    ``images``: the batch size. ``shapes``: ``{weight or bias key: shape}``; ``weight_of(key)`` returns the
    pristine weight (only read, for (IA)³ / DoRA updates). Register uses with :meth:`add`, then :meth:`build`."""

    def __init__(self, images, shapes, weight_of=None, compute_dtype=torch.float32, every_row=False):
        if images < 1:
            raise ValueError("per-image LoRA needs at least one image")
        if every_row and images != 1:
            raise ValueError("every-row mode applies one LoRA set to all rows: images must be 1")
        self.images = int(images)
        self.every_row = bool(every_row)
        self.shapes = {k: tuple(v) for k, v in shapes.items()}
        self.weight_of = weight_of
        self.compute_dtype = compute_dtype
        self.uses: list[_Use] = []
        self.layers: dict = {}         # module name -> {"weight": [terms], "bias": [terms]}
        self.built = False
        self._device_cache: dict = {}
        self._terms: dict = {}         # every-row mode: (module, term) -> (input token, strength-1 term)
        self._call = None
        self._run_ready = False

    # -- registration ------------------------------------------------------------------------------------------
    def add(self, image, name, by_target, slots, strength=1.0, mode="loractl", ratios=None):
        """Give image ``image`` the LoRA ``name``: ``by_target`` ``{key: [adapter, …]}`` (a loaded file's
        ``LoadedLora.by_target``, UNet keys only), ``slots`` ``{"first": keyframes, "hires": keyframes}`` (numbers or
        loractl lists), ``strength`` multiplies them, ``ratios`` ``{key: block ratio}``. The same ``name`` on
        several images (same adapters, same block weights) is one use; raises ValueError for a key that is not a
        Linear/Conv2d weight or bias of this model."""
        if self.built:
            raise ValueError(f"add({name!r}) after build(); register every image's LoRAs first")
        if not 0 <= image < self.images:
            raise ValueError(f"image {image} is outside the batch of {self.images}")
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {MODES}")
        for key in by_target:
            shape = self.shapes.get(key)
            if shape is None:
                raise ValueError(f"LoRA '{name}' patches '{key}', which this model does not have")
            if key.endswith(".weight") and len(shape) not in (2, 4):
                raise ValueError(f"LoRA '{name}' patches '{key}' (shape {shape}), which is not a Linear or Conv2d "
                                 "weight; such layers cannot take a per-image LoRA. Use the LoRA on its own "
                                 "(LoRA Loader) or pick a LoRA without norm-layer deltas.")
            if not key.endswith((".weight", ".bias")):
                raise ValueError(f"LoRA '{name}' patches '{key}', which is neither a weight nor a bias")
        ratios = dict(ratios or {})
        use = next((u for u in self.uses if u.name == name), None)
        if use is None:
            use = _Use(name, {k: list(v) for k, v in by_target.items()}, ratios, mode)
            self.uses.append(use)
        elif use.mode != mode or use.ratios != ratios or set(use.adapters) != set(by_target):
            raise ValueError(f"LoRA use '{name}' registered twice with different adapters, mode or block weights; "
                             "give each distinct use its own name")
        if image in use.slots:
            raise ValueError(f"image {image} already has LoRA use '{name}'; combine the strengths into one")
        use.slots[image] = {p: slots[p] for p in PASSES}
        use.strengths[image] = float(strength)

    def build(self):
        """Factors per layer (fp32, on the adapters' device); dense updates from the pristine weights."""
        if self.built:
            return
        cd = self.compute_dtype
        for u, use in enumerate(self.uses):
            for key, adapters in use.adapters.items():
                module, _, param = key.rpartition(".")
                shape = self.shapes[key]
                ratio = float(use.ratios.get(key, 1.0))
                terms = self.layers.setdefault(module, {"weight": [], "bias": [], "shape": None})
                if param == "weight":
                    terms["shape"] = shape
                for adapter in adapters:
                    terms[param].append(self._term(u, key, adapter, shape, ratio, cd))
        self.built = True

    def _term(self, u, key, adapter, shape, ratio, cd):
        if key.endswith(".bias"):
            if getattr(adapter, "kind", None) != "diff":
                raise ValueError(f"LoRA '{self.uses[u].name}': only a plain delta can patch the bias '{key}'")
            return _Term(u, "bias", (adapter.tensors["diff"].to(cd).reshape(-1),), ratio)
        if getattr(adapter, "kind", None) == "lora" and getattr(adapter, "dora_scale", None) is None:
            return _Term(u, "low_rank", _low_rank_factors(adapter, shape, cd), ratio)
        if self.weight_of is None:
            raise ValueError(f"LoRA '{self.uses[u].name}' ({adapter.kind}) on '{key}' needs the pristine weight")
        weight = self.weight_of(key).detach().to(device="cpu", dtype=cd)
        return _Term(u, "dense", (adapter_update(adapter, weight, dtype=cd).reshape(shape),), ratio)

    # -- per run / per call --------------------------------------------------------------------------------------
    def begin_run(self, steps, pass_="first"):
        """Per-step tables of every (use, image) for a run of ``steps`` steps of pass ``pass_``."""
        self.build()
        if pass_ not in PASSES:
            raise ValueError(f"pass {pass_!r} is not one of {PASSES}")
        for use in self.uses:
            use.tables = {img: step_table(s[pass_], use.strengths[img], steps, use.mode)
                          for img, s in use.slots.items()}
        self._call = None
        self._terms.clear()
        self._run_ready = True

    def strengths_at(self, index_by_mode):
        """``[{image: strength}]`` per use at the step indices ``{"loractl": sampling_step, "exact": step}``."""
        return [{img: table_value(t, index_by_mode[use.mode]) for img, t in use.tables.items()} for use in self.uses]

    def begin_call(self, chunks, index_by_mode):
        """Prepare one model call of ``chunks`` whole-batch chunks (row ``c·B + i`` is image ``i``) at the step
        indices ``{"loractl": sampling_step, "exact": step}``.

        Per use: the maximal runs ``[a, b)`` of consecutive images it touches with non-zero strength and their
        strengths. A run's rows are the basic-slice view ``rows.unflatten(0, (chunks, B))[:, a:b]``, so gathering
        is a strided copy and the addition an in-place add into a view (no scatter)."""
        if not self._run_ready:
            raise ValueError("per-image LoRA: begin_run(steps) must be called before the first model call")
        if chunks < 1:
            raise ValueError("per-image LoRA: a model call needs at least one chunk")
        per_use = []
        for strengths in self.strengths_at(index_by_mode):
            scale = [0.0] * self.images
            for img, value in strengths.items():
                scale[img] = value
            runs, a = [], None
            for i in range(self.images + 1):
                on = i < self.images and scale[i] != 0.0
                if on and a is None:
                    a = i
                elif not on and a is not None:
                    runs.append((a, i, torch.tensor(scale[a:i], dtype=torch.float64).repeat(chunks), {}))
                    a = None
            per_use.append(runs)
        self._call = {"chunks": int(chunks), "uses": per_use}
        if self.every_row:                   # one image: each use's strength is a plain number for this call
            self._call["scalar"] = [runs[0][2][0].item() if runs else 0.0 for runs in per_use]
        return per_use

    def end_call(self):
        self._call = None

    @staticmethod
    def _column(run, device, dtype, dims, ratio=1.0):
        """The run's per-row strengths times ``ratio``, shaped to broadcast over ``dims``-d rows; made once per
        call (kept in the run) so a layer's term costs no extra allocation."""
        key = (str(device), dtype, dims, float(ratio))
        hit = run[3].get(key)
        if hit is None:
            hit = run[3][key] = (run[2] * float(ratio)).to(device=device, dtype=dtype).reshape(
                (-1,) + (1,) * (dims - 1))
        return hit

    def _factors(self, term, device, dtype):
        key = (id(term), str(device), dtype)
        hit = self._device_cache.get(key)
        if hit is None:
            hit = self._device_cache[key] = tuple(t.to(device=device, dtype=dtype) for t in term.tensors)
        return hit

    def release(self):
        """Drop the factors moved to accelerators (kept between calls of one run) and the kept terms."""
        self._device_cache.clear()
        self._terms.clear()
        self._call = None

    def has_layer(self, module):
        return module in self.layers

    def apply(self, module, x, y, stride=1, padding=0, dilation=1, groups=1, input_token=None):
        """``y`` (the layer's own output for input ``x``) plus every use's term on its rows; returns ``y``.

        Call between :meth:`begin_call` and :meth:`end_call`. ``y`` is added to **in place** (a Linear/Conv2d
        output is a fresh tensor); rows of images without a term are not touched. ``input_token`` (every-row mode):
        a value the caller guarantees to be equal only between calls whose ``x`` is equal (cross-attention K/V on
        an unchanged text conditioning); see :meth:`_apply_every_row`."""
        layer = self.layers.get(module)
        if layer is None or self._call is None:
            return y
        conv = layer["shape"] is not None and len(layer["shape"]) == 4
        if conv and groups != 1:
            raise ValueError(f"per-image LoRA on '{module}': grouped convolutions are not supported")
        if self.every_row:
            return self._apply_every_row(module, layer, conv, x, y, (stride, padding, dilation), input_token)
        dtype, device = y.dtype, y.device
        k, batch = self._call["chunks"], self.images
        if x.shape[0] != k * batch or y.shape[0] != k * batch:
            raise ValueError(f"per-image LoRA on '{module}': {x.shape[0]} rows are not {k} chunk(s) of the "
                             f"{batch} images")
        for term in layer["weight"] + layer["bias"]:
            for run in self._call["uses"][term.use]:
                a, b = run[0], run[1]
                full = a == 0 and b == batch
                xs = x if full else x.unflatten(0, (k, batch))[:, a:b].flatten(0, 1)
                col = self._column(run, device, dtype, y.dim(), term.ratio)
                if term.kind == "low_rank":
                    up, down = self._factors(term, device, dtype)
                    h = F.conv2d(xs, down, None, stride, padding, dilation) if conv else F.linear(xs, down)
                    h.mul_(col)                       # h is a fresh tensor of this layer
                    if y.is_contiguous():
                        _add_up(y, h, up, conv, k if not full else 1, batch, a, b, full)
                        continue
                    d = F.conv2d(h, up[:, :, None, None]) if conv else F.linear(h, up)
                elif term.kind == "dense":
                    (u,) = self._factors(term, device, dtype)
                    d = (F.conv2d(xs, u, None, stride, padding, dilation) if conv else F.linear(xs, u)) * col
                else:
                    (db,) = self._factors(term, device, dtype)
                    shape = [1] * y.dim()
                    shape[1 if conv else -1] = -1
                    d = db.reshape(shape) * col
                if full:
                    y.add_(d)
                else:
                    y.unflatten(0, (k, batch))[:, a:b].add_(d.expand((xs.shape[0],) + tuple(y.shape[1:]))
                                                            .unflatten(0, (k, b - a)))
        return y


    def _apply_every_row(self, module, layer, conv, x, y, geometry, token):
        """Every-row mode: ``y += s·up(down(x))`` (low rank, fused into one ``addmm_``/``baddbmm_`` with ``alpha=s``),
        ``y += s·(x·Uᵀ)`` (dense), ``y += s·Δb`` (bias), with ``s`` the call's strength × block ratio.

        With ``input_token``: the strength-1 term ``T = up(down(x))`` of a low-rank adapter is kept per layer and
        reused while the token is unchanged, so a step whose strength changes costs one ``y += s·T`` there (the
        term is linear in ``s``; the sum is the same up to fp rounding of the one extra product)."""
        stride, padding, dilation = geometry
        dtype, device = y.dtype, y.device
        scalars = self._call["scalar"]
        for term in layer["weight"] + layer["bias"]:
            s = scalars[term.use] * term.ratio
            if s == 0.0:
                continue
            if term.kind == "low_rank":
                up, down = self._factors(term, device, dtype)
                if token is not None:
                    memo = self._terms.get((module, id(term)))
                    if memo is None or memo[0] != token or memo[1].shape != y.shape or memo[1].dtype != dtype \
                            or memo[1].device != device:
                        h = F.conv2d(x, down, None, stride, padding, dilation) if conv else F.linear(x, down)
                        memo = (token, F.conv2d(h, up[:, :, None, None]) if conv else F.linear(h, up))
                        self._terms[(module, id(term))] = memo
                    y.add_(memo[1], alpha=s)
                    continue
                h = F.conv2d(x, down, None, stride, padding, dilation) if conv else F.linear(x, down)
                if not y.is_contiguous():
                    y.add_(F.conv2d(h, up[:, :, None, None]) if conv else F.linear(h, up), alpha=s)
                elif conv:
                    m = y.shape[0]
                    y.view(m, y.shape[1], -1).baddbmm_(up.expand(m, -1, -1), h.reshape(m, h.shape[1], -1), alpha=s)
                else:
                    y.view(-1, y.shape[-1]).addmm_(h.reshape(-1, h.shape[-1]), up.t(), alpha=s)
            elif term.kind == "dense":
                (u,) = self._factors(term, device, dtype)
                y.add_(F.conv2d(x, u, None, stride, padding, dilation) if conv else F.linear(x, u), alpha=s)
            else:
                (db,) = self._factors(term, device, dtype)
                shape = [1] * y.dim()
                shape[1 if conv else -1] = -1
                y.add_(db.reshape(shape), alpha=s)
        return y


_FACTORS: dict = {}     # id(adapter) -> (weak reference to it, {(shape, dtype): (up, down)})


def _low_rank_factors(adapter, shape, dtype=torch.float32):
    """``(up, down)`` of a plain ``lora`` adapter for a layer of ``shape`` (``delta.lora_factors``, alpha/r folded
    into ``up``, ``down`` shaped as the layer's kernel), computed once per adapter object while it is alive: a
    queued job that uses a cached LoRA file again (``lora.file_cache``) builds its engine without recomputing or
    reallocating any factor."""
    entry = _FACTORS.get(id(adapter))
    if entry is None or entry[0]() is not adapter:
        key = id(adapter)

        def forget(ref, key=key):
            if _FACTORS.get(key, (None,))[0] is ref:
                del _FACTORS[key]
        entry = _FACTORS[key] = (weakref.ref(adapter, forget), {})
    memo = (tuple(shape), dtype)
    hit = entry[1].get(memo)
    if hit is None:
        up, down = lora_factors(adapter, shape, dtype=dtype)
        hit = entry[1][memo] = (up, down.reshape((down.shape[0],) + tuple(shape[1:])))
    return hit


def _add_up(y, h, up, conv, chunks, batch, a, b, full):
    """``y[rows] += up · h`` for the rows of images ``[a, b)`` in each chunk, fused into one BLAS call per chunk
    (``addmm_`` for Linear, ``baddbmm_`` over the pixels for the 1x1 up of a LoCon), in place on the contiguous
    row block of each chunk."""
    n = b - a
    for c in range(chunks):
        yc = y if full else y[c * batch + a: c * batch + b]
        hc = h if full else h[c * n:(c + 1) * n]
        if conv:
            m = yc.shape[0]
            yc.view(m, yc.shape[1], -1).baddbmm_(up.expand(m, -1, -1), hc.reshape(m, hc.shape[1], -1))
        else:
            yc.view(-1, yc.shape[-1]).addmm_(hc.reshape(-1, hc.shape[-1]), up.t())


def entry_unet_slots(entry):
    """UNet keyframes per pass ``{"first": unet, "hires": hrunet}`` of one ``<lora:…>`` tag entry, read the way
    :func:`.requests.request_from_tag` reads it, so a plain ``<lora:x:0.8>`` gives 0.8 for both passes."""
    request = request_from_tag(entry)
    if not request.schedule:
        return {"first": request.strength_model, "hires": request.strength_model}
    return unet_slots(schedule_params(request.schedule))
