"""Textual-inversion embedding files, named and shaped as A1111 reads them (pure; the folders come from the host).

AUTOMATIC1111/stable-diffusion-webui ``modules/textual_inversion/textual_inversion.py``: every file is registered under its basename without extension and matched by token
ids anywhere in the prompt (``prompt.build_embedding_lookup`` does the matching). File contents
(``create_embedding_from_data``): a dict with ``clip_l`` and ``clip_g`` is an SDXL embedding (rows = vectors);
otherwise exactly one tensor (``emb_params``, ``string_to_param.*``, a concept name …), 1-D promoted to one row.
An embedding whose width does not fit the model (768 for SD1, 768 + 1280 for SDXL) is skipped, as A1111 skips it.
Only ``.safetensors`` files are read (no pickle); a ``.pt``/``.bin`` of the same name is reported, not loaded.

ComfyUI's ``embedding:name`` spelling is accepted too: ``embedding:name`` (with or without the extension) of a
known file becomes the bare ``name`` before parsing, so both spellings encode the same.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import torch

WIDTHS = {"l": 768, "g": 1280}
_PICKLE_EXTENSIONS = (".pt", ".bin", ".ckpt", ".pth")
_PREFIXED = re.compile(r"\bembedding:([^\s,()\[\]{}:|<>]+)", re.I)
_FILES_CACHE: dict = {}
_WALK_CACHE: dict = {}


@dataclass
class TextualInversion:
    """One embedding file: ``vectors`` token slots and the tensors per encoder (``{"l": [n, 768], "g": …}``)."""
    name: str
    path: str
    vectors: int
    shapes: dict
    _tensors: dict = field(default=None, repr=False)

    def tensors(self):
        if self._tensors is None:
            from safetensors.torch import load_file
            data = load_file(self.path, device="cpu")
            self._tensors = {enc: _rows(data[key]) for enc, key in _encoder_keys(data).items()}
        return self._tensors


def _rows(tensor):
    tensor = tensor.float()
    return tensor.unsqueeze(0) if tensor.ndim == 1 else tensor.reshape(-1, tensor.shape[-1])


def _encoder_keys(shapes):
    """Map encoder → tensor key: SDXL ``clip_l``/``clip_g``, else the single tensor by its width; {} if none."""
    if "clip_l" in shapes and "clip_g" in shapes:
        return {"l": "clip_l", "g": "clip_g"}
    if len(shapes) != 1:
        return {}
    key = next(iter(shapes))
    shape = tuple(shapes[key])
    width = shape[-1] if shape else 0
    for enc, size in WIDTHS.items():
        if width == size:
            return {enc: key}
    return {}


def _walk(folder):
    """Every file under ``folder`` (following links, each real directory once, so a link loop ends)."""
    seen, out = set(), []
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        out += [(root, file) for file in sorted(files)]
    return out, seen


def _tree_stamp(dirs):
    stamp = []
    for d in sorted(dirs):
        try:
            stamp.append((d, os.stat(d).st_mtime_ns))
        except OSError:
            stamp.append((d, None))
    return tuple(stamp)


def list_embedding_files(folders):
    """``({name: path of .safetensors}, {name: path of a pickle-format file})``, first folder wins, recursive.

    The walk is cached per folder list and redone only when a directory seen last time changed (its mtime), so an
    encode costs one ``stat`` per directory, not a listing.
    """
    key = tuple(folders)
    hit = _WALK_CACHE.get(key)
    if hit is not None and _tree_stamp(hit[0]) == hit[1]:
        return hit[2]
    safe, pickled, dirs = {}, {}, set()
    for folder in folders:
        files, seen = _walk(folder)
        dirs |= seen
        for root, file in files:
            stem, ext = os.path.splitext(file)
            ext = ext.lower()
            if ext == ".safetensors":
                safe.setdefault(stem, os.path.join(root, file))
            elif ext in _PICKLE_EXTENSIONS:
                pickled.setdefault(stem, os.path.join(root, file))
    result = (safe, pickled)
    _WALK_CACHE[key] = (dirs, _tree_stamp(dirs), result)
    return result


def _read_header(path):
    from safetensors import safe_open
    with safe_open(path, framework="pt", device="cpu") as f:
        return {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}


def load_embeddings(encoders, folders):
    """``{name: TextualInversion}`` usable with these encoders (``("l",)`` SD1, ``("l", "g")`` SDXL), plus notes.

    Headers are read once per file (cached by path and mtime); tensors load only when a prompt uses them.
    """
    safe, pickled = list_embedding_files(folders)
    found, notes = {}, []
    for name, path in safe.items():
        try:
            key = (path, os.path.getmtime(path))
            if key not in _FILES_CACHE:
                _FILES_CACHE[key] = _read_header(path)
            shapes = _FILES_CACHE[key]
        except Exception as exc:
            notes.append(f"embedding {name!r} ({path}) could not be read: {exc}")
            continue
        keys = _encoder_keys(shapes)
        if set(keys) != set(encoders):
            continue  # A1111: "skipped" (made for another model family)
        counts = {shapes[keys[enc]][0] if len(shapes[keys[enc]]) == 2 else 1 for enc in encoders}
        if len(counts) != 1:
            notes.append(f"embedding {name!r}: its encoders have different vector counts {sorted(counts)}; skipped")
            continue
        found[name] = TextualInversion(name, path, counts.pop(), {enc: shapes[keys[enc]] for enc in encoders})
    for name, path in pickled.items():
        if name not in safe:
            found.setdefault(name, None)
    return found, notes


def resolve_prefixed_names(text, embeddings):
    """Replace ComfyUI's ``embedding:name`` by the bare name A1111 matches; returns ``(text, warnings)``."""
    warnings = []

    def replace(match):
        raw = match.group(1)
        name = raw
        for ext in (".safetensors",) + _PICKLE_EXTENSIONS:
            if name.lower().endswith(ext):
                name = name[:-len(ext)]
        name = name.replace("\\", "/").rsplit("/", 1)[-1]
        if name in embeddings and embeddings[name] is not None:
            return name
        if name in embeddings:
            warnings.append(f"embedding {name!r} is not a .safetensors file; Forgeline loads no pickle files — "
                            "convert it to .safetensors (the text 'embedding:…' is encoded as plain words)")
        else:
            warnings.append(f"embedding {raw!r} not found in the embeddings folders; 'embedding:{raw}' is encoded "
                            "as plain words")
        return match.group(0)

    return _PREFIXED.sub(replace, text), warnings


def usable(embeddings):
    """Only the loadable (safetensors) entries, for the token matcher."""
    return {name: ti for name, ti in embeddings.items() if ti is not None}


def embedding_rows(ti, encoder, device=None):
    """The ``[vectors, width]`` float32 rows of ``ti`` for ``encoder`` (``l`` / ``g``)."""
    rows = ti.tensors()[encoder]
    return rows.to(device=device, dtype=torch.float32) if device is not None else rows
