"""Parsed LoRA files kept across queued jobs: an LRU cache bounded by tensor bytes.

Rule: a file is identified by ``(absolute path, size, mtime_ns)`` (``os.stat``), so an edited or replaced file
(new size or modification time) is read again and its stale entry dropped; nothing else about the file is trusted.
Entries are the ``(tensors, metadata)`` pair the safe loader returns (``safe_load.load_lora_file``) and are
weighed by the bytes of their tensors; the least recently used entries are evicted while the total exceeds the
budget. The budget is ``FORGELINE_LORA_CACHE_MB`` (MiB, default 1024; 0 disables caching) read when the cache is
made. A file larger than the whole budget is returned but not kept. Cached tensors are shared between jobs and
must be treated as read-only (the loader's consumers only read them).

This is the "adapter cache" of S-LoRA (``S-LoRA/S-LoRA``: adapters stay resident so a request for a recent
adapter costs no load), here for host memory: swapping between recently used LoRAs never re-reads a file.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict

import torch

ENV_VAR = "FORGELINE_LORA_CACHE_MB"
DEFAULT_MB = 1024


def budget_from_env(default_mb=DEFAULT_MB):
    """The byte budget from ``FORGELINE_LORA_CACHE_MB`` (a non-negative number of MiB), else ``default_mb``."""
    text = os.environ.get(ENV_VAR, "").strip()
    if not text:
        return int(default_mb * 2**20)
    try:
        mb = float(text)
    except ValueError:
        raise ValueError(f"{ENV_VAR}={text!r} is not a number of MiB; set e.g. {ENV_VAR}=1024 (0 = no cache)") from None
    if mb < 0:
        raise ValueError(f"{ENV_VAR}={text!r} must be >= 0 MiB")
    return int(mb * 2**20)


def file_key(path):
    """``(absolute path, size, mtime_ns)`` of ``path``."""
    st = os.stat(path)
    return (os.path.abspath(str(path)), int(st.st_size), int(st.st_mtime_ns))


def value_bytes(value):
    """Bytes of every tensor inside ``value`` (tensors, dicts, lists, tuples; other objects weigh 0)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(value_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(value_bytes(v) for v in value)
    return 0


class LoraFileCache:
    """LRU of loaded files by bytes (see module docstring). ``get(path, load)`` returns ``load(path)``, cached."""

    def __init__(self, max_bytes=None):
        self.max_bytes = budget_from_env() if max_bytes is None else int(max_bytes)
        self._entries: OrderedDict = OrderedDict()      # key -> (value, bytes)
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = self.misses = self.evictions = 0

    def __len__(self):
        return len(self._entries)

    def __contains__(self, path):
        try:
            return file_key(path) in self._entries
        except OSError:
            return False

    def get(self, path, load):
        key = file_key(path)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return hit[0]
            for stale in [k for k in self._entries if k[0] == key[0]]:
                self._drop(stale)
        value = load(path)
        self.misses += 1
        size = value_bytes(value)
        with self._lock:
            if size > self.max_bytes or key in self._entries:
                return value
            self._entries[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes and self._entries:
                self._drop(next(iter(self._entries)))
                self.evictions += 1
        return value

    def _drop(self, key):
        _, size = self._entries.pop(key)
        self.bytes -= size

    def clear(self):
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def stats(self):
        return {"entries": len(self._entries), "bytes": self.bytes, "max_bytes": self.max_bytes, "hits": self.hits,
                "misses": self.misses, "evictions": self.evictions}


_SHARED = None


def shared_cache():
    """The process-wide cache used by :func:`.formats.load.load_lora` (made on first use)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = LoraFileCache()
    return _SHARED
