"""ComfyUI model folders (``folder_paths``): the only place Forgeline asks the host where models live.

Names from prompts and files resolve only inside these folders (``lora.resolve_lora_path`` refuses ``..``, absolute
names and links that leave the folder). One exception, as ComfyUI itself allows it: a file the user linked *into* a
loras folder and that ComfyUI lists there (a listed name never contains ``..`` and is never absolute).
"""
from __future__ import annotations

from pathlib import Path

import folder_paths

from ..lora import LORA_EXTENSIONS, LoraFileError, resolve_lora_path


def folders(kind: str) -> list[str]:
    """The folders of one model kind (``loras``, ``embeddings``, ``checkpoints`` …); [] for an unknown kind."""
    try:
        return list(folder_paths.get_folder_paths(kind))
    except Exception:  # a kind this host does not know
        return []


def names(kind: str) -> list[str]:
    """The files ComfyUI lists for a model kind (what its dropdowns show)."""
    return folder_paths.get_filename_list(kind)


def lora_roots() -> list[str]:
    return folders("loras")


def lora_names() -> list[str]:
    return names("loras")


def resolve_lora(name) -> Path:
    """Absolute path of LoRA ``name`` inside the loras folders (LoraFileError otherwise; module docstring)."""
    try:
        return resolve_lora_path(name, lora_roots())
    except LoraFileError as e:
        if "symlink" not in str(e):
            raise
        listed = set(lora_names())
        for candidate in [name] + [name + ext for ext in LORA_EXTENSIONS]:
            if candidate in listed:
                return Path(folder_paths.get_full_path("loras", candidate))
        raise


def output_directory() -> str:
    return folder_paths.get_output_directory()
