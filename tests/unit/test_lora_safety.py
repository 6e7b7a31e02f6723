"""Bad LoRA files and unsafe names must fail with a clear LoraFileError (a ValueError) naming the file/name and fix.

Rules: project brief (no pickle code execution, ``torch.load`` only with ``weights_only=True``, clear errors);
safetensors layout (huggingface/safetensors spec); alpha ≤ 0 is never written by kohya/LyCORIS (kohya
``networks/lora.py`` and LyCORIS ``locon.py`` write alpha = rank when the trainer's alpha is None/0).
"""
import os
import pickle
import struct

import pytest
import torch
from safetensors.torch import save_file

from forgeline.lora.formats import (LoraFileError, load_lora, load_lora_file, read_safetensors_metadata,
                                    resolve_lora_path)
from forgeline.tests.fixtures.lora_files import tiny_sd15_targets, write_kohya_lora


def good_file(tmp_path, name="good"):
    return write_kohya_lora(tmp_path, tiny_sd15_targets(), rank=2, seed=1, name=name)


def test_error_is_a_value_error():
    assert issubclass(LoraFileError, ValueError)


def test_good_file_loads_with_metadata(tmp_path):
    p = good_file(tmp_path)
    tensors, meta = load_lora_file(p)
    assert meta["ss_base_model_version"] == "sd_v1"
    assert read_safetensors_metadata(p) == meta
    assert len(tensors) == 33


def test_random_bytes_are_refused(tmp_path):
    p = tmp_path / "noise.safetensors"
    p.write_bytes(os.urandom(64))
    with pytest.raises(LoraFileError, match=r"noise\.safetensors.*(corrupt|truncated)"):
        load_lora_file(p)
    with pytest.raises(LoraFileError, match="noise.safetensors"):
        read_safetensors_metadata(p)


@pytest.mark.parametrize("cut", [4, 100, -10])
def test_truncated_file_is_refused(tmp_path, cut):
    src = good_file(tmp_path).read_bytes()
    p = tmp_path / "cut.safetensors"
    p.write_bytes(src[:cut])
    with pytest.raises(LoraFileError, match=r"cut\.safetensors.*(truncated|corrupt).*download it again"):
        load_lora_file(p)


def test_header_json_garbage_is_refused(tmp_path):
    p = tmp_path / "badjson.safetensors"
    p.write_bytes(struct.pack("<Q", 5) + b"{nope")
    with pytest.raises(LoraFileError, match="badjson"):
        read_safetensors_metadata(p)
    with pytest.raises(LoraFileError, match="badjson"):
        load_lora_file(p)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_tensor_is_refused(tmp_path, bad):
    up = torch.randn(8, 2)
    up[3, 1] = bad
    p = tmp_path / "nan.safetensors"
    save_file({"lora_unet_x.lora_up.weight": up, "lora_unet_x.lora_down.weight": torch.randn(2, 8)}, str(p))
    with pytest.raises(LoraFileError, match=r"nan\.safetensors.*'lora_unet_x\.lora_up\.weight'.*NaN/inf"):
        load_lora_file(p)


@pytest.mark.parametrize("alpha", [0.0, -4.0])
def test_alpha_not_positive_is_refused(tmp_path, alpha):
    p = tmp_path / "alpha.safetensors"
    save_file({"lora_unet_x.lora_up.weight": torch.randn(8, 2), "lora_unet_x.lora_down.weight": torch.randn(2, 8),
               "lora_unet_x.alpha": torch.tensor(alpha)}, str(p))
    with pytest.raises(LoraFileError, match=r"alpha\.safetensors.*'lora_unet_x\.alpha'.*must be > 0.*set the alpha"):
        load_lora_file(p)


def test_alpha_with_many_values_is_refused(tmp_path):
    p = tmp_path / "alpha2.safetensors"
    save_file({"lora_unet_x.lora_up.weight": torch.randn(8, 2), "lora_unet_x.lora_down.weight": torch.randn(2, 8),
               "lora_unet_x.alpha": torch.ones(2)}, str(p))
    with pytest.raises(LoraFileError, match="single number"):
        load_lora_file(p)


class _Payload:
    """Pickling this object records a call to ``os.getcwd`` — harmless, but not a tensor, so it must be refused."""

    def __reduce__(self):
        return (os.getcwd, ())


@pytest.mark.parametrize("ext", [".pt", ".ckpt", ".bin"])
def test_pickle_with_code_is_refused(tmp_path, ext):
    p = tmp_path / f"evil{ext}"
    with open(p, "wb") as f:
        pickle.dump({"lora_unet_x.lora_up.weight": _Payload()}, f, protocol=2)
    with pytest.raises(LoraFileError, match=rf"evil\{ext}.*refuses to run pickled code.*safetensors"):
        load_lora_file(p)


def test_pickle_of_plain_tensors_loads_weights_only_and_is_reported(tmp_path):
    t = tiny_sd15_targets()
    name = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"
    p = tmp_path / "plain.pt"
    torch.save({f"{name}.lora_up.weight": torch.randn(8, 2), f"{name}.lora_down.weight": torch.randn(2, 8)}, p)
    loaded = load_lora(p, t)
    assert loaded.report.pickle_loaded
    assert len(loaded.adapters) == 1
    assert any("weights_only=True" in w for w in loaded.report.warnings)


def test_truncated_pickle_is_refused(tmp_path):
    p = tmp_path / "cut.pt"
    torch.save({"a.lora_up.weight": torch.randn(8, 2)}, p)
    p.write_bytes(p.read_bytes()[:50])
    with pytest.raises(LoraFileError, match=r"cut\.pt.*corrupt or truncated"):
        load_lora_file(p)


def test_unknown_extension_and_missing_file(tmp_path):
    (tmp_path / "x.gguf").write_bytes(b"GGUF")
    with pytest.raises(LoraFileError, match=r"x\.gguf.*expected one of"):
        load_lora_file(tmp_path / "x.gguf")
    with pytest.raises(LoraFileError, match="does not exist"):
        load_lora_file(tmp_path / "missing.safetensors")


# ------------------------------------------------------------------------------------------------ path safety

@pytest.fixture
def roots(tmp_path):
    a, b, outside = tmp_path / "loras", tmp_path / "extra_loras", tmp_path / "secret"
    for d in (a, b, outside, a / "style"):
        d.mkdir()
    (a / "style" / "ink.safetensors").write_bytes(b"x")
    (b / "only_b.pt").write_bytes(b"x")
    (outside / "private.safetensors").write_bytes(b"x")
    return a, b, outside


def test_resolves_inside_roots_with_and_without_extension(roots):
    a, b, _ = roots
    assert resolve_lora_path("style/ink.safetensors", [a, b]) == (a / "style" / "ink.safetensors").resolve()
    assert resolve_lora_path("style/ink", [a, b]) == (a / "style" / "ink.safetensors").resolve()
    assert resolve_lora_path("style\\ink", [a, b]) == (a / "style" / "ink.safetensors").resolve()
    assert resolve_lora_path("only_b", [a, b]) == (b / "only_b.pt").resolve()


@pytest.mark.parametrize("name", ["../secret/private.safetensors", "style/../../secret/private",
                                  "..\\secret\\private.safetensors", ".."])
def test_dotdot_is_refused(roots, name):
    with pytest.raises(LoraFileError, match=r"contains '\.\.'.*inside the loras folder"):
        resolve_lora_path(name, roots[:2])


def test_absolute_paths_are_refused(roots):
    a, b, outside = roots
    for name in (str(outside / "private.safetensors"), "/etc/passwd", "C:\\loras\\x.safetensors", "\\\\server\\x"):
        with pytest.raises(LoraFileError, match="absolute path"):
            resolve_lora_path(name, [a, b])


def test_symlink_escaping_root_is_refused(roots):
    a, b, outside = roots
    (a / "sneaky.safetensors").symlink_to(outside / "private.safetensors")
    (a / "linkdir").symlink_to(outside, target_is_directory=True)
    with pytest.raises(LoraFileError, match="symlink.*outside the allowed folders"):
        resolve_lora_path("sneaky", [a, b])
    with pytest.raises(LoraFileError, match="symlink.*outside the allowed folders"):
        resolve_lora_path("linkdir/private.safetensors", [a, b])


def test_symlink_inside_root_is_allowed(roots):
    a, b, _ = roots
    (a / "alias.safetensors").symlink_to(a / "style" / "ink.safetensors")
    assert resolve_lora_path("alias", [a, b]) == (a / "style" / "ink.safetensors").resolve()


@pytest.mark.parametrize("name", ["", "   ", "a\x00b"])
def test_empty_or_nul_names_are_refused(roots, name):
    with pytest.raises(LoraFileError):
        resolve_lora_path(name, roots[:2])


def test_missing_name_lists_roots(roots):
    a, b, _ = roots
    with pytest.raises(LoraFileError, match=r"'nope' not found in .*loras.*extra_loras"):
        resolve_lora_path("nope", [a, b])


# -- hostile files (issue 12): each refused before any tensor is read, in bounded time and memory ------------------

def _raw(tmp_path, name, header: bytes, data: bytes = b""):
    p = tmp_path / f"{name}.safetensors"
    p.write_bytes(struct.pack("<Q", len(header)) + header + data)
    return p


def test_empty_file_is_refused(tmp_path):
    p = tmp_path / "empty.safetensors"
    p.write_bytes(b"")
    with pytest.raises(LoraFileError, match=r"empty\.safetensors' is empty"):
        load_lora_file(p)


def test_header_bomb_is_refused_without_reading_it(tmp_path):
    p = tmp_path / "bomb.safetensors"
    p.write_bytes(struct.pack("<Q", 2 ** 62) + b"{}")
    with pytest.raises(LoraFileError, match=r"bomb\.safetensors' has a corrupt header \(declares 4611686018427387904"):
        load_lora_file(p)


@pytest.mark.parametrize("depth", [65, 100_000])
def test_deeply_nested_header_is_corrupt_not_a_recursion_error(tmp_path, depth):
    p = _raw(tmp_path, "nested", b'{"__metadata__":' + b"[" * depth + b"]" * depth + b"}")
    for read in (load_lora_file, read_safetensors_metadata):
        with pytest.raises(LoraFileError, match=rf"nested\.safetensors' is corrupt: its header nests JSON {depth + 1} "):
            read(p)


def test_json_depth_scan_ignores_brackets_in_strings():
    from forgeline.lora.safe_load import json_nesting_depth
    assert json_nesting_depth(b'{"a": "[[[[\\"[[{{", "b": [1, {"c": "\\\\"}]}') == 3
    assert json_nesting_depth(b"[" * 10 + b"]" * 10) == 10
    # a string spanning the 4 MiB block boundary, escaped quote and backslash run included
    big = b'{"k": "' + b"\\\\" * (1 << 21) + b'\\"[[[[" , "x": [[1]]}'
    assert json_nesting_depth(big) == 3


def test_offsets_past_the_end_are_refused(tmp_path):
    header = b'{"a.lora_up.weight": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}}'
    p = _raw(tmp_path, "short", header, b"\0" * 10)
    with pytest.raises(LoraFileError, match=r"short\.safetensors' is truncated: tensor 'a.lora_up.weight' lies at "
                                            r"bytes 0-64 of the data, which has only 10"):
        load_lora_file(p)


def test_offsets_not_matching_the_shape_are_refused(tmp_path):
    header = b'{"a.lora_up.weight": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 8]}}'
    p = _raw(tmp_path, "odd", header, b"\0" * 64)
    with pytest.raises(LoraFileError, match=r"odd\.safetensors' is corrupt: tensor 'a.lora_up.weight' has 8 bytes"):
        load_lora_file(p)


@pytest.mark.parametrize("dtype", [torch.int8, torch.uint8, torch.int32])
def test_integer_lora_tensors_are_refused(tmp_path, dtype):
    p = tmp_path / "quant.safetensors"
    save_file({"lora_unet_x.lora_up.weight": torch.ones(4, 4, dtype=dtype)}, str(p))
    with pytest.raises(LoraFileError, match=r"quant\.safetensors': tensor 'lora_unet_x.lora_up.weight' is [IU]\d+, "
                                            "not floating point"):
        load_lora_file(p)


def test_integer_tensors_in_a_pickle_are_refused(tmp_path):
    p = tmp_path / "quant.pt"
    torch.save({"lora_unet_x.lora_up.weight": torch.ones(4, 4, dtype=torch.int8)}, p)
    with pytest.raises(LoraFileError, match=r"quant\.pt': tensor 'lora_unet_x.lora_up.weight' is int8"):
        load_lora_file(p)


def test_100k_tiny_tensors_are_refused_from_the_header(tmp_path):
    p = tmp_path / "many.safetensors"
    save_file({f"t{i}": torch.zeros(1) for i in range(100_000)}, str(p))
    with pytest.raises(LoraFileError, match=r"many\.safetensors' lists 100000 tensors, above the limit of 50000"):
        load_lora_file(p)


class _Writer:
    """Unpickling this would create a file (``open(path, 'w')``): weights_only must refuse it before any call."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_that_would_write_a_file_never_writes_it(tmp_path):
    target = tmp_path / "pwned.txt"
    p = tmp_path / "writer.ckpt"
    with open(p, "wb") as f:
        pickle.dump({"lora_unet_x.lora_up.weight": _Writer(str(target))}, f, protocol=2)
    with pytest.raises(LoraFileError, match=r"writer\.ckpt.*refuses to run pickled code"):
        load_lora_file(p)
    assert not target.exists()
