"""Per-image LoRA inside ComfyUI sampling: the core ``lora.batched.BatchedLora`` on a cloned ModelPatcher.

How it is installed (patcher-extension API of ComfyUI 0.3.6x and later, ``comfy/patcher_extension.py``):

- the clone carries a handle in ``transformer_options[KEY]`` (shared, never deep-copied by ``clone()``);
- an ``OUTER_SAMPLE`` wrapper scopes one sampling job: it checks that the latent batch equals the number of
  prompt lines, computes every image's step tables (loractl keyframes over the run's steps, the HiRes pass's
  ``hrunet`` slot when the run carries Forgeline's hires marker), registers a torch forward hook on every patched
  Linear/Conv2d module of the shared UNet, runs the job, and in ``finally`` removes the hooks and drops the
  factors it moved to the accelerator;
- an ``APPLY_MODEL`` wrapper prepares each model call: rows → images from ``transformer_options["cond_or_uncond"]``
  (ComfyUI's ``_calc_cond_batch`` concatenates whole-batch chunks, so row ``n`` is image ``n mod B``) and the step
  from Forgeline's sampling context (``sampling_step`` for loractl timing, ``step`` for exact).

The hooks add ``Σ s·up(down(x))`` to the module's own output, so the weights are only read, never written: base
weights stay bit-identical, and the path is the same on ComfyUI 0.33's dynamic-VRAM patcher (read-only, file-backed
weights cast per forward), under lowvram offload and with quantised weights. Factors are moved to the activation's
device and dtype once per run (cached by the engine) and computed in that dtype, like ComfyUI's own LoRA bypass.
"""
from __future__ import annotations

import comfy.patcher_extension as pe
import comfy.utils

from ..lora.batched import BatchedLora, row_images

from . import lora_apply, sampling_hooks
from .activation_hooks import layer_hook

KEY = "forgeline_batched_lora"
WRAPPER_KEY = "forgeline.batched_lora"
PASS_KEY = "forgeline_pass"       # set by HiRes Fix (A1111) on its hires run (nodes/hires_fix.py)


class BatchedLoraHandle:
    """What a model clone carries: the engine and the lines' labels; shared by every clone (no deep copy)."""

    def __init__(self, engine: BatchedLora, labels):
        self.engine = engine
        self.labels = list(labels)
        self.active = False
        self.runs = 0
        self.calls = 0

    def __deepcopy__(self, memo):
        return self


def unet_shapes(model_patcher):
    """``{key: shape}`` of every ``diffusion_model.*`` weight and bias of the model (ComfyUI key names)."""
    return lora_apply.model_targets(model_patcher, None)


def pristine_weight(model_patcher, key):
    """The unpatched weight ``key`` (ComfyUI's backup when another clone's patches are merged in place)."""
    backup = getattr(model_patcher, "backup", {}) or {}
    if key in backup:
        entry = backup[key]
        return getattr(entry, "weight", entry[0] if isinstance(entry, tuple) else entry)
    return comfy.utils.get_attr(model_patcher.model, key)


def new_engine(model_patcher, images):
    """A :class:`BatchedLora` over ``model_patcher``'s UNet for ``images`` images."""
    return BatchedLora(images, unet_shapes(model_patcher), weight_of=lambda key: pristine_weight(model_patcher, key))


def install(model_clone, engine: BatchedLora, labels):
    """Put ``engine`` on ``model_clone`` (a clone the caller owns); returns the handle."""
    engine.build()
    handle = BatchedLoraHandle(engine, labels)
    model_clone.model_options.setdefault("transformer_options", {})[KEY] = handle
    sampling_hooks.attach(model_clone)
    model_clone.add_wrapper_with_key(pe.WrappersMP.OUTER_SAMPLE, WRAPPER_KEY, _outer_sample)
    model_clone.add_wrapper_with_key(pe.WrappersMP.APPLY_MODEL, WRAPPER_KEY, _apply_model)
    return handle


def install_lines(model_clone, per_line, labels, mode="loractl", what="per-image LoRA"):
    """Build and install the engine for ``per_line`` = per image ``[(use name, {key: [adapter]}, slots, block
    ratios), ...]``; an error names the image's label."""
    engine = new_engine(model_clone, len(per_line))
    for i, uses in enumerate(per_line):
        for name, unet, slots, ratios in uses:
            try:
                engine.add(i, name, unet, slots, 1.0, mode, ratios)
            except ValueError as e:
                raise ValueError(f"{what}: {labels[i]}: {e}") from None
    return install(model_clone, engine, labels)


def handle_of(model_patcher):
    return model_patcher.model_options.get("transformer_options", {}).get(KEY)


def _outer_sample(executor, noise, latent_image, sampler, sigmas, *args, **kwargs):
    guider = executor.class_obj
    topts = guider.model_options.get("transformer_options", {})
    handle = topts.get(KEY)
    if handle is None:
        return executor(noise, latent_image, sampler, sigmas, *args, **kwargs)
    engine = handle.engine
    if int(noise.shape[0]) != engine.images:
        raise ValueError(f"Batch prompts (A1111): {engine.images} prompt line(s) but the latent batch is "
                         f"{int(noise.shape[0])}; set the latent's batch_size to {engine.images} (connect the "
                         "node's batch_size output to Empty Latent Image) so image i gets line i")
    steps = sampling_hooks.run_total_steps(topts, max(int(sigmas.numel()) - 1, 1))
    pass_ = "hires" if (topts.get(PASS_KEY) or {}).get("pass") == "hires" else "first"
    engine.begin_run(steps, pass_)
    base = guider.model_patcher.model
    handles = []
    for name in engine.layers:
        module = comfy.utils.get_attr(base, name)
        handles.append(module.register_forward_hook(layer_hook(module, name, [engine])))
    handle.active = True
    handle.runs += 1
    try:
        return executor(noise, latent_image, sampler, sigmas, *args, **kwargs)
    finally:
        for h in handles:
            h.remove()
        handle.active = False
        engine.release()


def _apply_model(executor, x, t, c_concat=None, c_crossattn=None, control=None, transformer_options={}, **kwargs):
    handle = transformer_options.get(KEY)
    if handle is None or not handle.active:
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)
    chunks = len(transformer_options.get("cond_or_uncond") or [0])
    row_images(int(x.shape[0]), chunks, handle.engine.images)     # validates: rows = chunks x images
    ctx = sampling_hooks.current({"transformer_options": transformer_options})
    index = {"loractl": ctx.sampling_step, "exact": ctx.step} if ctx is not None else {"loractl": 0, "exact": 0}
    handle.engine.begin_call(chunks, index)
    handle.calls += 1
    try:
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)
    finally:
        handle.engine.end_call()


# -- loading one line's LoRAs -------------------------------------------------------------------------------------

def lora_path(name):
    """Absolute path of LoRA ``name`` inside ComfyUI's loras folders (``lora.resolve_lora_path``: no ``..``, no
    absolute names, no symlink out), or a file ComfyUI itself lists there (linked into the folder)."""
    import folder_paths

    from ..lora import LORA_EXTENSIONS, LoraFileError, resolve_lora_path

    try:
        return resolve_lora_path(name, list(folder_paths.get_folder_paths("loras")))
    except LoraFileError as e:
        if "symlink" not in str(e):
            raise
        listed = set(folder_paths.get_filename_list("loras"))
        for candidate in [name] + [name + ext for ext in LORA_EXTENSIONS]:
            if candidate in listed:
                return folder_paths.get_full_path("loras", candidate)
        raise


def model_targets(model_patcher, clip=None):
    """``{key: shape}`` of the UNet and, when given, the CLIP (family detection needs both)."""
    return lora_apply.model_targets(model_patcher, clip)


def load_unet_adapters(path, targets):
    """``LoadedLora`` of ``path`` for ``targets`` (``host.lora_apply.load_for``: parsed file from the shared file
    cache, matched result cached on the file's identity and the targets) and its UNet part ``{key: [adapter, …]}``."""
    loaded = lora_apply.load_for(path, targets)
    return loaded, {k: v for k, v in loaded.by_target.items() if k.startswith("diffusion_model.")}
