"""Forgeline: A1111 / reForge generation semantics for ComfyUI.

ComfyUI imports this folder as a package and reads three names from it:
``NODE_CLASS_MAPPINGS`` / ``NODE_DISPLAY_NAME_MAPPINGS`` (V3 ``io.ComfyNode`` classes through the V1 mapping,
which loads on ComfyUI 0.3.75 and on current upstream) and ``WEB_DIRECTORY`` (the frontend extension).
Only ``nodes/`` talks to ComfyUI; the core packages (``prompt``, ``samplers``, ``schedulers``, ``lora``) are pure.
"""
import importlib.util

if importlib.util.find_spec("comfy_api") is not None:
    from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
else:  # imported outside ComfyUI (e.g. by pytest collecting the repository as a package): nothing to register
    NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = {}, {}

WEB_DIRECTORY = "./web"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
