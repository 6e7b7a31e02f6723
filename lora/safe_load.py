"""Safe reading of LoRA files and safe resolution of user-supplied LoRA names.

Rules (project brief; file layout from the safetensors spec, huggingface/safetensors ``README.md``):

- ``.safetensors`` is read only through the ``safetensors`` library: an 8-byte little-endian header length, a JSON
  header (tensor dtypes/shapes/offsets plus an optional ``__metadata__`` dict of str → str), then raw bytes.
  Nothing in it can execute code.
- Pickle containers (``.pt``, ``.pth``, ``.ckpt``, ``.bin``) are opened only with
  ``torch.load(weights_only=True)``, which refuses any pickled object that is not a tensor/container of tensors.
- After loading, every floating tensor must be finite and every ``<module>.alpha`` a single positive number.
  kohya and LyCORIS write ``alpha = rank`` whenever the trainer's alpha was None/0 (kohya ``networks/lora.py``, LyCORIS ``lycoris/modules/locon.py``), so an
  on-disk alpha ≤ 0 marks a broken file, which ComfyUI would silently turn into a no-op.
- A user name resolves only to a file inside one of the allowed roots: no absolute paths, no ``..``, no symlink
  whose target leaves the root.

Every problem raises :class:`LoraFileError`, a ``ValueError`` whose message names the file, the problem and the fix.
"""
import json
import math
import os
import struct
from pathlib import Path

import numpy as np
import torch

from ..limits.values import MAX_HEADER_DEPTH, MAX_LORA_TENSORS, MAX_SAFETENSORS_HEADER

SAFETENSORS_EXTENSIONS = (".safetensors",)
PICKLE_EXTENSIONS = (".pt", ".pth", ".ckpt", ".bin")
LORA_EXTENSIONS = SAFETENSORS_EXTENSIONS + PICKLE_EXTENSIONS


class LoraFileError(ValueError):
    """A LoRA file or name that cannot be used; the message says which file, what is wrong and how to fix it."""


_FLOAT_DTYPES = {"F16", "BF16", "F32", "F64", "F8_E4M3", "F8_E5M2"}
_DTYPE_BYTES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8, "F8_E4M3": 1, "F8_E5M2": 1, "I8": 1, "U8": 1, "I16": 2,
                "U16": 2, "I32": 4, "U32": 4, "I64": 8, "U64": 8, "BOOL": 1}
_SCAN_BLOCK = 1 << 22


def json_nesting_depth(data):
    """Deepest ``[``/``{`` nesting of JSON bytes, outside strings, by a linear scan (no recursion, no parse).

    Strings are tracked by unescaped ``"``; a character is escaped when an odd number of backslashes precede it.
    Works in 4 MiB blocks with numpy, carrying (depth, inside-string, trailing backslash run) across blocks."""
    depth = best = 0
    inside = False
    run = 0  # backslashes ending the previous block
    for begin in range(0, len(data), _SCAN_BLOCK):
        a = np.frombuffer(data, dtype=np.uint8, count=min(_SCAN_BLOCK, len(data) - begin), offset=begin)
        n = len(a)
        is_bs = a == 0x5C
        index = np.arange(n, dtype=np.int64)
        last_other = np.maximum.accumulate(np.where(is_bs, -1, index))
        run_end = np.where(is_bs, index - last_other, 0)        # backslashes ending at i (this block only)
        run_end = np.where(is_bs & (last_other < 0), run_end + run, run_end)
        before = np.empty(n, dtype=np.int64)
        before[0] = run
        before[1:] = run_end[:-1]
        escaped = (before % 2) == 1
        quotes = (a == 0x22) & ~escaped
        parity = (np.cumsum(quotes, dtype=np.int64) % 2).astype(bool) ^ inside
        step = np.zeros(n, dtype=np.int64)
        step[((a == 0x5B) | (a == 0x7B)) & ~parity] = 1
        step[((a == 0x5D) | (a == 0x7D)) & ~parity] = -1
        levels = depth + np.cumsum(step)
        if n:
            best = max(best, int(levels.max()))
            depth = int(levels[-1])
            inside = bool(parity[-1])
            run = int(run_end[-1])
    return best


def _corrupt(path, what):
    return LoraFileError(f"LoRA file '{path}' is corrupt: {what}. It is not a usable safetensors file; download it "
                         "again (or re-save it with a trusted tool).")


def read_safetensors_header(path):
    """The parsed JSON header of a ``.safetensors`` file, checked before any tensor is read.

    Refused with :class:`LoraFileError`: a file shorter than 8 bytes, a header length beyond the file or
    ``limits.MAX_SAFETENSORS_HEADER`` (header bomb), JSON nested deeper than ``limits.MAX_HEADER_DEPTH`` (checked
    by :func:`json_nesting_depth` before ``json.loads``, which would recurse), a header that is not an object of
    ``{"dtype", "shape", "data_offsets"}`` entries, more than ``limits.MAX_LORA_TENSORS`` tensors, offsets past the
    end of the data or not matching dtype x shape."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise LoraFileError(f"LoRA file '{path}' is {'empty' if not head else 'truncated'} ({size} bytes, "
                                    "shorter than the 8-byte safetensors header); download it again.")
            (n,) = struct.unpack("<Q", head)
            if n > size - 8 or n > MAX_SAFETENSORS_HEADER:
                raise LoraFileError(f"LoRA file '{path}' has a corrupt header (declares {n} header bytes, file has "
                                    f"{size}; the limit is {MAX_SAFETENSORS_HEADER}); it is truncated or not a "
                                    "safetensors file: download it again.")
            raw = f.read(n)
    except OSError as e:
        raise LoraFileError(f"Cannot read LoRA file '{path}': {e}.") from e
    depth = json_nesting_depth(raw)
    if depth > MAX_HEADER_DEPTH:
        raise _corrupt(path, f"its header nests JSON {depth} levels deep (a safetensors header has 3)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise LoraFileError(f"LoRA file '{path}' has an unreadable safetensors header ({str(e)[:200]}); "
                            "the file is corrupt, download it again.") from None
    if not isinstance(header, dict):
        raise _corrupt(path, "its header is not a JSON object")
    count = len(header) - ("__metadata__" in header)
    if count > MAX_LORA_TENSORS:
        raise LoraFileError(f"LoRA file '{path}' lists {count} tensors, above the limit of "
                            f"{MAX_LORA_TENSORS} (an SDXL LoRA has about 2200); it is not a LoRA file.")
    data_size = size - 8 - n
    for key, info in header.items():
        if key == "__metadata__":
            continue
        if not (isinstance(info, dict) and isinstance(info.get("dtype"), str) and isinstance(info.get("shape"), list)
                and isinstance(info.get("data_offsets"), list) and len(info["data_offsets"]) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                        for v in info["shape"] + info["data_offsets"])):
            raise _corrupt(path, f"the header entry for tensor {key[:80]!r} is malformed")
        begin, end = info["data_offsets"]
        if end > data_size or begin > end:
            raise LoraFileError(f"LoRA file '{path}' is truncated: tensor {key[:80]!r} lies at bytes {begin}-{end} of "
                                f"the data, which has only {data_size} bytes: download it again.")
        width = _DTYPE_BYTES.get(info["dtype"])
        if width is not None and end - begin != width * math.prod(info["shape"]):
            raise _corrupt(path, f"tensor {key[:80]!r} has {end - begin} bytes for shape {info['shape']} "
                                 f"of {info['dtype']}")
    return header


def check_header_dtypes(header, path):
    """LoRA weights must be floating point: refuse int8/uint8/... tensors (quantized or not a LoRA); an integer
    scalar is allowed (an int ``.alpha``, LyCORIS's bool ``on_input`` flag)."""
    for key, info in header.items():
        if key == "__metadata__" or info["dtype"] in _FLOAT_DTYPES:
            continue
        if math.prod(info["shape"]) == 1:
            continue  # alpha written as an int, LyCORIS (IA)3 "on_input" flag
        raise LoraFileError(f"LoRA file '{path}': tensor {key[:80]!r} is {info['dtype']}, not floating point. LoRA "
                            "weights must be F16/BF16/F32; this file is quantized or not a LoRA. Use the original "
                            "(unquantized) file.")


def read_safetensors_metadata(path):
    """Return the ``__metadata__`` dict (str → str) of a ``.safetensors`` file, reading only its header.

    Safetensors layout: u64 little-endian N, then N bytes of UTF-8 JSON (safetensors spec). Values are strings by
    spec; trainers JSON-encode nested objects (e.g. ``ss_tag_frequency``), which callers decode themselves."""
    header = read_safetensors_header(path)
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise LoraFileError(f"LoRA file '{path}' has a malformed __metadata__ entry (not an object).")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}


def _load_safetensors(path):
    from safetensors import SafetensorError, safe_open
    check_header_dtypes(read_safetensors_header(path), path)
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
    if len(tensors) > MAX_LORA_TENSORS:
        raise LoraFileError(f"LoRA file '{path}' holds {len(tensors)} tensors, above the limit of {MAX_LORA_TENSORS} "
                            "(an SDXL LoRA has about 2200); it is not a LoRA file.")
    for key, t in tensors.items():
        if not t.is_floating_point() and t.numel() != 1:
            raise LoraFileError(f"LoRA file '{path}': tensor '{key}' is {str(t.dtype).replace('torch.', '')}, not "
                                "floating point. LoRA weights must be float16/bfloat16/float32; this file is "
                                "quantized or not a LoRA. Use the original (unquantized) file.")
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
