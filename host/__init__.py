"""Forgeline's host floor: the only code that touches ComfyUI internals.

One module per ComfyUI subsystem (model patcher and wrappers, weight adapters, CLIP encode, sampling hooks, noise
seeding, dropdown registration, model folders, upscale models, images, graph expansion, training). Differences
between the supported hosts (ComfyUI 0.3.75 and 0.33.0) are handled here by feature detection, never by version
string. Modules import ComfyUI lazily or at module level; nothing outside ``host/`` and ``nodes/`` imports ComfyUI,
and ``nodes/`` only imports ``comfy_api`` (schemas) plus this package and the core packages.
"""
