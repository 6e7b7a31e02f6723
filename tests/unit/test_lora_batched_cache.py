"""LoRA file cache (lora/file_cache.py): LRU eviction by tensor bytes, invalidation when a file's mtime or size
changes, the FORGELINE_LORA_CACHE_MB budget, and load_lora reading through the shared cache."""
import os

import pytest
import torch

from forgeline.lora import file_cache as fc


def _file(tmp_path, name, data=b"x"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _loader(calls, nbytes):
    def load(path):
        calls.append(str(path))
        return {"t": torch.zeros(nbytes, dtype=torch.uint8)}, {}
    return load


def test_evicts_least_recently_used_by_bytes(tmp_path):
    cache = fc.LoraFileCache(max_bytes=250)
    calls = []
    a, b, c = (_file(tmp_path, n) for n in ("a", "b", "c"))
    load = _loader(calls, 100)
    cache.get(a, load)
    cache.get(b, load)
    cache.get(a, load)                     # a is now the most recent
    assert len(calls) == 2 and cache.bytes == 200
    cache.get(c, load)                     # 300 > 250: evict b (least recent), keep a and c
    assert cache.bytes == 200 and cache.evictions == 1
    assert a in cache and c in cache and b not in cache
    cache.get(a, load)
    assert len(calls) == 3                 # a was a hit
    cache.get(b, load)
    assert len(calls) == 4                 # b had been evicted


def test_mtime_or_size_change_reloads_and_drops_stale(tmp_path):
    cache = fc.LoraFileCache(max_bytes=10_000)
    calls = []
    p = _file(tmp_path, "lora.safetensors", b"abc")
    load = _loader(calls, 10)
    first = cache.get(p, load)
    assert cache.get(p, load) is first and len(calls) == 1
    st = os.stat(p)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    second = cache.get(p, load)
    assert second is not first and len(calls) == 2
    assert len(cache) == 1 and cache.bytes == 10     # the stale entry is gone
    p.write_bytes(b"abcdef")                          # size change
    cache.get(p, load)
    assert len(calls) == 3 and len(cache) == 1


def test_oversized_file_is_not_kept_and_zero_budget_disables(tmp_path):
    calls = []
    p = _file(tmp_path, "big")
    cache = fc.LoraFileCache(max_bytes=50)
    cache.get(p, _loader(calls, 100))
    cache.get(p, _loader(calls, 100))
    assert len(calls) == 2 and len(cache) == 0 and cache.bytes == 0


def test_budget_from_env(monkeypatch):
    monkeypatch.setenv(fc.ENV_VAR, "2")
    assert fc.budget_from_env() == 2 * 2**20
    monkeypatch.setenv(fc.ENV_VAR, "0")
    assert fc.LoraFileCache().max_bytes == 0
    monkeypatch.setenv(fc.ENV_VAR, "lots")
    with pytest.raises(ValueError, match="FORGELINE_LORA_CACHE_MB"):
        fc.budget_from_env()
    monkeypatch.delenv(fc.ENV_VAR)
    assert fc.budget_from_env() == fc.DEFAULT_MB * 2**20


def test_load_lora_reads_through_the_shared_cache(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    from forgeline.lora.formats import load as load_mod

    p = tmp_path / "k.safetensors"
    save_file({"lora_unet_m.lora_up.weight": torch.ones(2, 1), "lora_unet_m.lora_down.weight": torch.ones(1, 2)},
              str(p))
    cache = fc.LoraFileCache(max_bytes=10_000)
    monkeypatch.setattr(load_mod, "shared_cache", lambda: cache)
    targets = {"diffusion_model.m.weight": (2, 2)}
    load_mod.load_lora(p, targets)
    load_mod.load_lora(p, targets)
    assert cache.misses == 1 and cache.hits == 1 and cache.bytes == 16
