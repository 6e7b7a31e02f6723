"""Hostile LoRA files for the reliability tier (issue 12's list), written into a server's ``loras`` folder.

Each entry of :data:`BAD_LORAS` is ``name -> (writer, words)``: ``words`` are lower-case fragments of which at
least one must appear in the node error (the loader names the file too). The pickle that would write a file if
unpickled points at ``canary``; the test checks that the file never appears.
"""
import json
import pickle
import struct
from pathlib import Path

import torch
from safetensors.torch import save_file

_SD15_KEY = "lora_unet_input_blocks_1_1_proj_in"   # a kohya module of the SD1.5 UNet (320 channels)


def _raw(path, header: bytes, data: bytes = b""):
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)


class _FileWriter:
    """Unpickling this would run ``open(path, 'w')``: creating a file. weights_only loading must refuse it."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def _kohya(rank=4, in_ch=320, out_ch=320, dtype=torch.float32, fill=None):
    down = torch.randn(rank, in_ch, generator=torch.Generator().manual_seed(0)).to(dtype) * 0.01
    up = torch.randn(out_ch, rank, generator=torch.Generator().manual_seed(1)).to(dtype) * 0.01
    if fill is not None:
        up.view(-1)[0] = fill
    return {f"{_SD15_KEY}.lora_down.weight": down, f"{_SD15_KEY}.lora_up.weight": up,
            f"{_SD15_KEY}.alpha": torch.tensor(float(rank))}


def write_bad_loras(folder: Path, canary: Path) -> dict:
    """Write every hostile file into ``folder``; returns ``{file name: words expected in the error}``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}

    def add(name, words):
        out[name] = words
        return folder / name

    add("rel_empty.safetensors", ["empty"]).write_bytes(b"")
    good = folder / "rel_good_tmp.safetensors"
    save_file(_kohya(), str(good))
    data = good.read_bytes()
    good.unlink()
    add("rel_truncated.safetensors", ["truncated", "corrupt"]).write_bytes(data[: len(data) - 100])
    add("rel_header_bomb.safetensors", ["corrupt header"]).write_bytes(struct.pack("<Q", 2 ** 62) + b"{}")
    _raw(add("rel_nested_header.safetensors", ["corrupt"]), b'{"__metadata__":' + b"[" * 50000 + b"]" * 50000 + b"}")
    _raw(add("rel_offsets_past_end.safetensors", ["truncated"]),
         json.dumps({f"{_SD15_KEY}.lora_up.weight": {"dtype": "F32", "shape": [320, 4],
                                                     "data_offsets": [0, 320 * 4 * 4]}}).encode(), b"\0" * 64)
    save_file(_kohya(fill=float("nan")), str(add("rel_nan.safetensors", ["nan"])))
    save_file({k: (v * 1000).to(torch.int8) if v.ndim else v for k, v in _kohya().items()},
              str(add("rel_int8.safetensors", ["not floating point"])))
    save_file(_kohya(in_ch=17, out_ch=23), str(add("rel_wrong_shapes.safetensors", ["no module matches", "shape"])))
    out["forgeline_sdxl_kohya.safetensors"] = ["sdxl", "made for"]   # another architecture (fixture, linked)
    with open(add("rel_pickle_code.pt", ["pickle"]), "wb") as f:
        pickle.dump({f"{_SD15_KEY}.lora_up.weight": _FileWriter(canary)}, f, protocol=2)
    with open(add("rel_pickle_code.ckpt", ["pickle"]), "wb") as f:
        pickle.dump({"x": _FileWriter(canary)}, f, protocol=4)
    save_file({f"t{i}": torch.zeros(1) for i in range(100_000)},
              str(add("rel_100k_tensors.safetensors", ["100000 tensors"])))
    add("rel_not_a_file.txt.safetensors", ["corrupt", "truncated", "unreadable"]).write_bytes(b"hello world, no header")
    return out
