"""infotext.hashes against A1111 1.10.1 ``modules/hashes.py`` (calculate_sha256, addnet_hash_safetensors),
``sd_models.model_hash`` (AutoV1) and ``extensions-builtin/Lora/network.py`` (sshs_model_hash, shorthash[0:12]).

The expected digests are computed here with hashlib over the byte ranges A1111 reads, independently of the module.
"""
import hashlib
import json
import os
import struct

import pytest

from forgeline.infotext import hashes


def _safetensors(path, metadata=None, payload=b"\x01\x02" * 5000):
    header = {"w": {"dtype": "U8", "shape": [len(payload)], "data_offsets": [0, len(payload)]}}
    if metadata is not None:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + payload)
    return 8 + len(raw)


def test_autov2_is_whole_file_sha256_first_10(tmp_path):
    f = tmp_path / "m.safetensors"
    _safetensors(f)
    assert hashes.autov2(f, cache=hashes.HashCache()) == hashlib.sha256(f.read_bytes()).hexdigest()[:10]


def test_lora_hash_skips_the_header(tmp_path):
    f = tmp_path / "l.safetensors"
    start = _safetensors(f, {"ss_network_dim": "4"})
    expected = hashlib.sha256(f.read_bytes()[start:]).hexdigest()
    assert hashes.addnet_hash_safetensors(f) == expected
    assert hashes.lora_shorthash(f, cache=hashes.HashCache()) == expected[:12]


def test_metadata_change_keeps_lora_hash_but_changes_autov2(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    _safetensors(a, {"x": "1"})
    _safetensors(b, {"x": "2222"})
    cache = hashes.HashCache()
    assert hashes.lora_shorthash(a, cache=cache) == hashes.lora_shorthash(b, cache=cache)
    assert hashes.autov2(a, cache=cache) != hashes.autov2(b, cache=cache)


def test_sshs_model_hash_is_used_as_is(tmp_path):
    f = tmp_path / "k.safetensors"
    _safetensors(f, {"sshs_model_hash": "ABCDEF0123456789" + "0" * 48})
    assert hashes.lora_shorthash(f, cache=hashes.HashCache()) == "ABCDEF012345"


def test_non_safetensors_lora_hashes_whole_file(tmp_path):
    f = tmp_path / "l.pt"
    f.write_bytes(b"abc" * 100)
    assert hashes.lora_shorthash(f, cache=hashes.HashCache()) == hashlib.sha256(b"abc" * 100).hexdigest()[:12]


def test_header_longer_than_file_hashes_empty(tmp_path):
    f = tmp_path / "bad.safetensors"
    f.write_bytes(struct.pack("<Q", 1000) + b"{}")
    assert hashes.addnet_hash_safetensors(f) == hashes.EMPTY_SHA256


def test_autov1(tmp_path):
    f = tmp_path / "old.ckpt"
    data = os.urandom(0x100000 + 0x10000 + 10)
    f.write_bytes(data)
    assert hashes.model_hash_v1(f) == hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]


def test_streaming_progress_and_cache(tmp_path):
    f = tmp_path / "big.bin"
    f.write_bytes(b"x" * (hashes.BLOCK * 2 + 5))
    seen = []
    cache = hashes.HashCache(str(tmp_path / "cache.json"))
    hashes.autov2(f, progress=lambda done, total: seen.append((done, total)), cache=cache)
    assert seen == [(hashes.BLOCK, hashes.BLOCK * 2 + 5), (hashes.BLOCK * 2, hashes.BLOCK * 2 + 5),
                    (hashes.BLOCK * 2 + 5, hashes.BLOCK * 2 + 5)]
    seen.clear()
    hashes.autov2(f, progress=lambda done, total: seen.append(done), cache=cache)
    assert seen == []                                                   # cached: not read again
    reloaded = hashes.HashCache(str(tmp_path / "cache.json"))
    assert len(reloaded) == 1
    os.utime(f, ns=(1, 1))                                              # mtime changed: hashed again
    hashes.autov2(f, progress=lambda done, total: seen.append(done), cache=cache)
    assert seen


def test_huge_header_is_refused(tmp_path):
    f = tmp_path / "h.safetensors"
    f.write_bytes(struct.pack("<Q", 2 ** 40))
    with pytest.raises(ValueError, match="header length"):
        hashes.addnet_hash_safetensors(f)


def test_hash_matches():
    assert hashes.hash_matches("ABCDEF0123", "abcdef0123456789")
    assert not hashes.hash_matches("", "abc") and not hashes.hash_matches("abd", "abc")
