"""Encoded prompts kept across queued jobs, so a LoRA swap back to a recent LoRA re-encodes nothing.

Rule: an entry is the CONDITIONING that A1111 Prompt Encode returned for exactly the same inputs:

- the base CLIP's weights: the identity of the ComfyUI ``CLIP.patcher.model`` (every clone shares it; checked by
  ``is`` through a weak reference, so an address reused by a later checkpoint never hits) and that patcher's
  ``patches_uuid`` (ComfyUI ``comfy/model_patcher.py``: a new uuid on every ``add_patches``; clones copy it), plus
  its ``layer_idx`` (CLIP Set Last Layer) and ``tokenizer_options``;
- what the line adds to that CLIP: each ``<lora:…>`` entry's file identity (``lora.file_cache.file_key``: path,
  size, mtime) and every field of the tag except the UNet strength (which the text encoder never sees);
- the text, the negative flag, the encode options, and the embedding files (name, path, size, mtime) the encoder
  would look up.

A hit returns the same conditioning object (consumers treat conditioning as read-only; Batch prompts concatenates
it into new tensors). ComfyUI's own output cache keeps only each node's last result, so without this a job that
swaps A → B → A encodes A twice and re-patches the CLIP's weights with A's text-encoder LoRA twice (measured in
``bench/pairs/lora_swap_vs_native.py``). Entries are bounded by count (``MAX_ENTRIES``; an SD1.5 77-token cond is
0.24 MB, SDXL 0.63 MB, so 64 entries stay under ~40 MB for one-chunk prompts), least recently used evicted.
"""
from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict

MAX_ENTRIES = 64


def clip_identity(clip):
    """``(weights object, signature)`` of a ComfyUI CLIP's base weights (see module docstring)."""
    patcher = clip.patcher
    options = getattr(clip, "tokenizer_options", None) or {}
    sig = (id(patcher.model), str(getattr(patcher, "patches_uuid", "")), getattr(clip, "layer_idx", None),
           repr(sorted(options.items(), key=str)))
    return patcher.model, sig


def file_signature(paths):
    """``((path, size, mtime_ns), …)`` of existing files; a file that vanished is left out (the encoder skips it)."""
    out = []
    for path in sorted(str(p) for p in paths):
        try:
            st = os.stat(path)
        except OSError:
            continue
        out.append((path, int(st.st_size), int(st.st_mtime_ns)))
    return tuple(out)


class CondCache:
    """LRU of encoded conditioning (see module docstring); ``get(owner, key, make)``."""

    def __init__(self, max_entries=MAX_ENTRIES):
        self.max_entries = int(max_entries)
        self._entries: OrderedDict = OrderedDict()      # key -> (weakref to owner, value)
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __len__(self):
        return len(self._entries)

    def get(self, owner, key, make):
        """The cached value for ``key`` made while ``owner`` (the CLIP weights object) was alive, else ``make()``."""
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0]() is owner:
                self._entries.move_to_end(key)
                self.hits += 1
                return hit[1]
        value = make()
        with self._lock:
            self.misses += 1
            if self.max_entries > 0:
                self._entries[key] = (weakref.ref(owner), value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return value

    def clear(self):
        with self._lock:
            self._entries.clear()

    def stats(self):
        return {"entries": len(self._entries), "hits": self.hits, "misses": self.misses}


SHARED = CondCache()
