"""The hashes A1111 writes into infotext, streamed in constant memory and cached by (path, size, mtime).

Source: AUTOMATIC1111/stable-diffusion-webui v1.10.1

- ``Model hash`` = AutoV2: ``modules/hashes.py: calculate_sha256`` over the whole file, first 10 hex digits
  (``sd_models.CheckpointInfo.calculate_shorthash``). The pre-2023 AutoV1 (``sd_models.model_hash``): SHA-256 of the
  0x10000 bytes at offset 0x100000, first 8 hex digits.
- ``VAE hash``: whole-file SHA-256, first 10 (``sd_vae.get_loaded_vae_hash``).
- ``Lora hashes``: ``extensions-builtin/Lora/network.py: NetworkOnDisk`` takes the safetensors metadata
  ``sshs_model_hash`` when present, else ``hashes.sha256_from_cache(..., use_addnet_hash=True)`` =
  ``hashes.addnet_hash_safetensors``: SHA-256 of the file after its 8-byte little-endian header length ``n`` and the
  ``n``-byte JSON header (bytes ``[8+n, EOF)``); other formats hash the whole file. ``shorthash = hash[0:12]``.
- ``TI hashes``: whole-file SHA-256, first 12 (``textual_inversion.Embedding.set_hash``).

Files are read in 1 MiB blocks; ``progress(done_bytes, total_bytes)`` is called after each block.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import threading

BLOCK = 1024 * 1024
AUTOV1_OFFSET, AUTOV1_LENGTH = 0x100000, 0x10000
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _stream(handle, start, total, progress, digest):
    handle.seek(start)
    done = 0
    while True:
        block = handle.read(BLOCK)
        if not block:
            break
        digest.update(block)
        done += len(block)
        if progress is not None:
            progress(done, total)
    return digest.hexdigest()


def sha256_file(path, progress=None):
    """Full SHA-256 hex digest of a file (A1111 ``hashes.calculate_sha256``)."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        return _stream(handle, 0, size, progress, hashlib.sha256())


def safetensors_data_offset(handle, size):
    """``8 + n``: where the tensor data of a safetensors file starts; ValueError for a header that cannot be."""
    head = handle.read(8)
    if len(head) < 8:
        raise ValueError("not a safetensors file: shorter than its 8-byte header length")
    n = struct.unpack("<Q", head)[0]
    if n > MAX_SAFETENSORS_HEADER:
        raise ValueError(f"safetensors header length {n} is larger than {MAX_SAFETENSORS_HEADER} bytes")
    return min(8 + n, size)


def addnet_hash_safetensors(path, progress=None):
    """A1111 ``hashes.addnet_hash_safetensors``: SHA-256 of the bytes after the safetensors header."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        start = safetensors_data_offset(handle, size)
        return _stream(handle, start, size - start, progress, hashlib.sha256())


def read_safetensors_metadata(path):
    """The ``__metadata__`` dict of a safetensors header ({} when absent or unreadable)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            start = safetensors_data_offset(handle, size)
            header = json.loads(handle.read(start - 8).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}


def model_hash_v1(path):
    """A1111's legacy 8-digit model hash (AutoV1): SHA-256 of 64 KiB at offset 1 MiB."""
    with open(path, "rb") as handle:
        handle.seek(AUTOV1_OFFSET)
        return hashlib.sha256(handle.read(AUTOV1_LENGTH)).hexdigest()[:8]


def is_safetensors(path):
    return os.path.splitext(str(path))[1].lower() == ".safetensors"


class HashCache:
    """Full hashes keyed by (kind, real path, size, mtime_ns): a changed file is hashed again, an unchanged one
    never is. Optionally persisted as JSON (written atomically). Thread-safe."""

    def __init__(self, path=None):
        self.path = path
        self._lock = threading.Lock()
        self._data = {}
        if path and os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as handle:
                    data = json.load(handle)
                if isinstance(data, dict):
                    self._data = {k: v for k, v in data.items() if isinstance(v, str)}
            except (OSError, ValueError):
                self._data = {}

    @staticmethod
    def key(kind, path):
        st = os.stat(path)
        return f"{kind}|{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}"

    def get_or_compute(self, kind, path, compute, progress=None):
        key = self.key(kind, path)
        with self._lock:
            if key in self._data:
                return self._data[key]
        value = compute(path, progress)
        with self._lock:
            self._data[key] = value
            self._save()
        return value

    def __len__(self):
        return len(self._data)

    def _save(self):
        if not self.path:
            return
        tmp = f"{self.path}.tmp"
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(self._data, handle)
            os.replace(tmp, self.path)
        except OSError:
            pass


_DEFAULT_CACHE = HashCache()


def _cache(cache):
    return _DEFAULT_CACHE if cache is None else cache


def full_sha256(path, progress=None, cache=None):
    return _cache(cache).get_or_compute("sha256", path, sha256_file, progress)


def autov2(path, progress=None, cache=None):
    """``Model hash`` / ``VAE hash``: the first 10 hex digits of the whole-file SHA-256."""
    return full_sha256(path, progress, cache)[:10]


def lora_hash(path, progress=None, cache=None):
    """The full hash A1111 keeps for a LoRA: ``sshs_model_hash`` when the safetensors metadata carries one, else
    the tensor-data hash (safetensors) or the whole-file SHA-256 (other formats)."""
    if is_safetensors(path):
        meta = read_safetensors_metadata(path)
        stored = meta.get("sshs_model_hash")
        if isinstance(stored, str) and stored.strip():
            return stored.strip()
        return _cache(cache).get_or_compute("addnet", path, addnet_hash_safetensors, progress)
    return full_sha256(path, progress, cache)


def lora_shorthash(path, progress=None, cache=None):
    """``Lora hashes`` value: the first 12 characters of :func:`lora_hash`."""
    return lora_hash(path, progress, cache)[:12]


def embedding_shorthash(path, progress=None, cache=None):
    """``TI hashes`` value: the first 12 hex digits of the whole-file SHA-256."""
    return full_sha256(path, progress, cache)[:12]


def hash_matches(short, full):
    """True when an infotext hash (8/10/12 digits, any case) is a prefix of a full hash."""
    if not short or not full:
        return False
    return full.lower().startswith(short.strip().lower())
