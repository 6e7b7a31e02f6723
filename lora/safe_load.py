"""Safe reading of LoRA files and safe resolution of user-supplied LoRA names.

Rules (project brief; file layout from the safetensors spec, huggingface/safetensors ``README.md``):

- ``.safetensors`` is read only through the ``safetensors`` library: an 8-byte little-endian header length, a JSON
  header (tensor dtypes/shapes/offsets plus an optional ``__metadata__`` dict of str → str), then raw bytes.
  Nothing in it can execute code.
- Pickle containers (``.pt``, ``.pth``, ``.ckpt``, ``.bin``) are opened only with
  ``torch.load(weights_only=True)``, which refuses any pickled object that is not a tensor/container of tensors.
- After loading, every floating tensor must be finite and every ``<module>.alpha`` a single positive number.
  kohya and LyCORIS write ``alpha = rank`` whenever the trainer's alpha was None/0 (kohya ``networks/lora.py`` lines
  69-73, LyCORIS ``lycoris/modules/locon.py``), so an on-disk alpha ≤ 0 marks a broken file, which ComfyUI would
  silently turn into a no-op.
- A user name resolves only to a file inside one of the allowed roots: no absolute paths, no ``..``, no symlink
  whose target leaves the root.

Every problem raises :class:`LoraFileError`, a ``ValueError`` whose message names the file, the problem and the fix.
"""
import json
import os
import struct
from pathlib import Path

import torch

SAFETENSORS_EXTENSIONS = (".safetensors",)
PICKLE_EXTENSIONS = (".pt", ".pth", ".ckpt", ".bin")
LORA_EXTENSIONS = SAFETENSORS_EXTENSIONS + PICKLE_EXTENSIONS


class LoraFileError(ValueError):
    """A LoRA file or name that cannot be used; the message says which file, what is wrong and how to fix it."""


def read_safetensors_metadata(path):
    """Return the ``__metadata__`` dict (str → str) of a ``.safetensors`` file, reading only its header.

    Safetensors layout: u64 little-endian N, then N bytes of UTF-8 JSON (safetensors spec). Values are strings by spec;
    trainers JSON-encode nested objects (e.g. ``ss_tag_frequency``), which callers decode themselves.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise LoraFileError(f"LoRA file '{path}' is truncated (shorter than the 8-byte safetensors header); "
                                    "download it again.")
            (n,) = struct.unpack("<Q", head)
            size = path.stat().st_size
            if n > size - 8 or n > 100_000_000:
                raise LoraFileError(f"LoRA file '{path}' has a corrupt header (declares {n} header bytes, file has "
                                    f"{size}); it is truncated or not a safetensors file. Download it again.")
            header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LoraFileError(f"LoRA file '{path}' has an unreadable safetensors header ({e}); "
                            "the file is corrupt, download it again.") from e
    except OSError as e:
        raise LoraFileError(f"Cannot read LoRA file '{path}': {e}.") from e
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise LoraFileError(f"LoRA file '{path}' has a malformed __metadata__ entry (not an object).")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}


def _load_safetensors(path):
    from safetensors import SafetensorError, safe_open
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except SafetensorError as e:
        raise LoraFileError(f"LoRA file '{path}' is corrupt or truncated ({e}); download it again.") from e
    except OSError as e:
        raise LoraFileError(f"Cannot read LoRA file '{path}': {e}.") from e
    return tensors, metadata


def _load_pickle(path):
    import pickle
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise LoraFileError(f"LoRA file '{path}' is a pickle that contains objects other than tensors; Forgeline "
                            f"refuses to run pickled code. Convert it to .safetensors with a trusted tool. ({e})") from e
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise LoraFileError(f"LoRA file '{path}' is corrupt or truncated ({e}); download it again or convert it "
                            "to .safetensors.") from e
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise LoraFileError(f"LoRA file '{path}' does not hold a flat dict of tensors; it is not a LoRA state dict.")
    return {str(k): v for k, v in obj.items()}, {}


def check_lora_tensors(tensors, path="<memory>"):
    """Refuse non-finite floating tensors and any ``<module>.alpha`` that is not one positive number."""
    for key, t in tensors.items():
        if t.is_floating_point() and t.numel() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise LoraFileError(f"LoRA file '{path}': tensor '{key}' contains {bad} NaN/inf value(s); the file was "
                                "saved from a diverged training run or is corrupt. Use another epoch or re-download.")
        if key.endswith(".alpha"):
            if t.numel() != 1:
                raise LoraFileError(f"LoRA file '{path}': '{key}' has shape {tuple(t.shape)}; alpha must be a single "
                                    "number. The file is malformed.")
            a = float(t.reshape(()).item())
            if not a > 0:
                raise LoraFileError(f"LoRA file '{path}': '{key}' = {a}; alpha must be > 0 (kohya/LyCORIS store "
                                    "alpha = rank when none was set). Fix the file, e.g. set the alpha to the rank.")


def load_lora_file(path):
    """Load a LoRA file → ``(tensors, metadata)``; safetensors via the library, pickles only with weights_only=True.

    Raises :class:`LoraFileError` for a missing, corrupt or truncated file, an unknown extension, a pickle holding
    non-tensor objects, NaN/inf tensors or an alpha ≤ 0.
    """
    path = Path(path)
    if not path.is_file():
        raise LoraFileError(f"LoRA file '{path}' does not exist or is not a file.")
    ext = path.suffix.lower()
    if ext in SAFETENSORS_EXTENSIONS:
        tensors, metadata = _load_safetensors(path)
    elif ext in PICKLE_EXTENSIONS:
        tensors, metadata = _load_pickle(path)
    else:
        raise LoraFileError(f"LoRA file '{path}' has extension '{ext}'; expected one of {', '.join(LORA_EXTENSIONS)}.")
    if not tensors:
        raise LoraFileError(f"LoRA file '{path}' holds no tensors; it is empty or not a LoRA.")
    check_lora_tensors(tensors, path)
    return tensors, metadata


def resolve_lora_path(name, roots, extensions=LORA_EXTENSIONS):
    """Resolve a user-typed LoRA ``name`` to a file inside one of ``roots``; the name never leaves the roots.

    Refuses absolute paths, drive letters, ``..`` components, NUL bytes and symlinks whose real target lies outside
    the root they were found in. ``name`` may omit the extension; the first root holding a match wins.
    """
    if not isinstance(name, str) or not name.strip():
        raise LoraFileError("Empty LoRA name; type the file name relative to your loras folder, e.g. 'style/foo'.")
    if "\x00" in name:
        raise LoraFileError(f"LoRA name {name!r} contains a NUL byte; remove it.")
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or os.path.isabs(name) or (len(name) > 1 and name[1] == ":"):
        raise LoraFileError(f"LoRA name '{name}' is an absolute path; give a name relative to your loras folder "
                            "(e.g. 'style/foo.safetensors').")
    if ".." in parts:
        raise LoraFileError(f"LoRA name '{name}' contains '..'; names must stay inside the loras folder. Remove "
                            "the '..' parts.")
    rel = "/".join(p for p in parts if p not in ("", "."))
    candidates = [rel] if rel.lower().endswith(tuple(extensions)) else [rel] + [rel + e for e in extensions]
    escaped = None
    for root in roots:
        root_real = os.path.realpath(root)
        for cand in candidates:
            full = os.path.join(root_real, cand)
            if not os.path.lexists(full):
                continue
            real = os.path.realpath(full)
            if os.path.commonpath([real, root_real]) != root_real:
                escaped = (full, real)
                continue
            if os.path.isfile(real):
                return Path(real)
    if escaped:
        raise LoraFileError(f"LoRA name '{name}' resolves through a symlink to '{escaped[1]}', outside the allowed "
                            "folders; move the file into your loras folder instead of linking out of it.")
    raise LoraFileError(f"LoRA '{name}' not found in {', '.join(str(r) for r in roots) or 'no folders'}; check the "
                        f"spelling (extensions tried: {', '.join(extensions)}).")
