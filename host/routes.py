"""HTTP routes the editor extension (``web/js``) calls, so the browser shows what the Python code will do.

- ``POST /forgeline/parse`` ``{"text", "steps"?, "and_split"?}`` → ``prompt_lint.lint_prompt`` (tokens +
  diagnostics, with warnings for LoRA names missing from ``models/loras``; ``and_split`` false for a negative
  prompt, which A1111 encodes as one text).
- ``POST /forgeline/sigmas`` ``{"scheduler", "steps", "denoise"?, "family"?}`` → ``{"sigmas": [...]}``: ComfyUI's own
  ``comfy.samplers.calculate_sigmas`` on the default discrete (SD1.x/SDXL, ``scaled_linear`` β 0.00085→0.012)
  model sampling, so every scheduler in the dropdown — core or registered by this pack — previews exactly; a
  denoise below 1 follows ComfyUI ``KSampler.set_steps`` (``schedulers.ksampler_denoise_sigmas``).
- ``POST /forgeline/lora_curve`` ``{"schedule", "steps", "mode"?}`` → ``{"unet": [...], "te": [...]}``: per sampler
  step weights of a loractl schedule written as the LoRA loader's ``schedule`` input takes it (the tag items after
  the name: ``0@0,1@1``, ``1:unet=0@0,1@0.5``), by ``lora.sampler_step_weights`` (mode ``loractl`` or ``exact``).

Every route answers HTTP 400 ``{"error": message}`` for bad input. The routes are added once in ``on_load`` when a
PromptServer is running (ComfyUI also serves them under ``/api/…``).
"""
from __future__ import annotations

import logging

from ..prompt.lint import lint_prompt
from ..schedulers import ays_sigmas, ksampler_denoise_sigmas

log = logging.getLogger("forgeline")
MAX_STEPS = 1000
_REGISTERED = False


def _int(body: dict, name: str, default=None, lo=1, hi=MAX_STEPS) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or not lo <= value <= hi:
        raise ValueError(f"'{name}' must be a whole number from {lo} to {hi}, got {value!r}")
    return int(value)


def parse_route(body: dict, known_loras=None) -> dict:
    text = body.get("text")
    if not isinstance(text, str):
        raise ValueError("'text' must be the prompt string")
    and_split = body.get("and_split", True)
    if not isinstance(and_split, bool):
        raise ValueError(f"'and_split' must be true or false, got {and_split!r}")
    return lint_prompt(text, _int(body, "steps", 20), known_loras, and_split=and_split)


def sigmas_route(body: dict) -> dict:
    import comfy.model_sampling
    import comfy.samplers

    from .sampling import FORGELINE_SCHEDULERS

    scheduler = body.get("scheduler")
    if scheduler not in comfy.samplers.SCHEDULER_HANDLERS:
        raise ValueError(f"unknown scheduler {scheduler!r}; choose one of {list(comfy.samplers.SCHEDULER_HANDLERS)}")
    steps = _int(body, "steps", 20)
    denoise = body.get("denoise", 1.0)
    if isinstance(denoise, bool) or not isinstance(denoise, (int, float)) or not 0.0 < denoise <= 1.0:
        raise ValueError(f"'denoise' must be a number in (0, 1], got {denoise!r}")
    sampling = comfy.model_sampling.ModelSamplingDiscrete()
    family = checkpoint_family(body.get("ckpt_name")) if body.get("ckpt_name") else body.get("model_type")
    if family is not None and family not in ("SD1", "SDXL"):
        raise ValueError(f"'model_type' must be SD1 or SDXL, got {family!r}")

    def calc(n):
        kind, variant = FORGELINE_SCHEDULERS.get(scheduler, (None, None))
        if kind == "ays":  # the editor knows the checkpoint; the handler alone cannot see the family
            return ays_sigmas(family or "SD1", n, variant=variant)
        return comfy.samplers.calculate_sigmas(sampling, scheduler, n)

    sigmas = calc(steps) if denoise >= 1.0 else ksampler_denoise_sigmas(calc, steps, float(denoise))
    return {"sigmas": [float(s) for s in sigmas], "scheduler": scheduler, "steps": steps, "denoise": float(denoise)}


def checkpoint_family(ckpt_name) -> str:
    """``"SDXL"`` or ``"SD1"`` from a checkpoint's safetensors key names (SDXL has ``conditioner.embedders.1``)."""
    import folder_paths
    from safetensors import safe_open

    if not isinstance(ckpt_name, str) or ckpt_name not in folder_paths.get_filename_list("checkpoints"):
        raise ValueError(f"'ckpt_name' {ckpt_name!r} is not a checkpoint ComfyUI lists")
    path = folder_paths.get_full_path("checkpoints", ckpt_name)
    if not path.endswith(".safetensors"):
        return "SD1"
    with safe_open(path, framework="pt", device="cpu") as f:
        return "SDXL" if any(k.startswith("conditioner.embedders.1.") for k in f.keys()) else "SD1"


def lora_curve_route(body: dict) -> dict:
    from ..lora import sampler_step_weights

    schedule = body.get("schedule")
    if isinstance(schedule, (int, float)) and not isinstance(schedule, bool):
        schedule = str(schedule)
    if not isinstance(schedule, str) or not schedule.strip():
        raise ValueError("'schedule' must be a weight or loractl keyframes like '0@0,1@0.5'")
    mode = body.get("mode", "loractl")
    weights = sampler_step_weights(["lora"] + schedule.strip().split(":"), _int(body, "steps", 20), mode=mode)
    return {"unet": weights["unet"], "te": weights["te"], "mode": mode}


def _known_loras():
    try:
        import folder_paths

        return folder_paths.get_filename_list("loras")
    except Exception:  # no ComfyUI folders (e.g. a bare import): skip the unknown-name check
        return None


def json_route(fn, threaded=False, error_fields=None):
    """An aiohttp handler for ``POST`` routes taking and returning JSON: a non-object body or a ``ValueError`` is an
    HTTP 400 with ``{"error": message}`` (plus ``error_fields(exc)``); ``threaded`` runs ``fn`` off the event loop
    so long work (hashing a file) does not stop the server answering."""
    import asyncio

    from aiohttp import web

    async def route(request):
        try:
            body = await request.json()
        except Exception:
            return web.json_response({"error": "send a JSON object body"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "send a JSON object body"}, status=400)
        try:
            result = await asyncio.get_running_loop().run_in_executor(None, fn, body) if threaded else fn(body)
            return web.json_response(result)
        except ValueError as exc:
            return web.json_response({"error": str(exc), **(error_fields(exc) if error_fields else {})}, status=400)
    return route


def prompt_server_routes():
    """The running PromptServer's route table, or None without a server (a bare import)."""
    try:
        from server import PromptServer
    except ImportError:
        return None
    server = getattr(PromptServer, "instance", None)
    return None if server is None else server.routes


def on_load() -> None:
    """Register the routes on the running PromptServer (idempotent; nothing to do without a server)."""
    global _REGISTERED
    routes = prompt_server_routes()
    if _REGISTERED or routes is None:
        return
    routes.post("/forgeline/parse")(json_route(lambda body: parse_route(body, _known_loras())))
    routes.post("/forgeline/sigmas")(json_route(sigmas_route))
    routes.post("/forgeline/lora_curve")(json_route(lora_curve_route))
    from . import infotext_routes
    infotext_routes.register(routes)
    _REGISTERED = True
