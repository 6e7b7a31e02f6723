"""host.infotext_files with ComfyUI's folder_paths in-process: names never leave the model folders, hashes come
from the files (hashlib, independently), A1111's EXIF UserComment survives Pillow's JPEG/WebP writers, and files
without parameters get a clear error."""
import hashlib
import io
import json
import struct

import pytest
from PIL import Image

import folder_paths
from forgeline.host import infotext_files as files
from forgeline.infotext.graph import GraphRun, LoraUse
from forgeline.infotext.png import InfotextFileError, decode_user_comment


@pytest.fixture
def loras(tmp_path, monkeypatch):
    root = tmp_path / "loras"
    (root / "sub").mkdir(parents=True)
    header = json.dumps({"w": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}).encode()
    data = struct.pack("<Q", len(header)) + header + b"\x01\x02\x03\x04"
    (root / "sub" / "style.safetensors").write_bytes(data)
    (tmp_path / "secret.safetensors").write_bytes(data)
    monkeypatch.setitem(folder_paths.folder_names_and_paths, "loras", ([str(root)], {".safetensors"}))
    monkeypatch.setattr(files, "_CACHE", None)
    monkeypatch.setattr(folder_paths, "get_user_directory", lambda: str(tmp_path / "user"))
    return root, hashlib.sha256(b"\x01\x02\x03\x04").hexdigest()


def test_names_stay_inside_the_folder(loras):
    assert files.model_file("loras", "../secret.safetensors") is None
    assert files.lora_file_by_name("../secret") is None
    assert files.lora_file_by_name("style").endswith("style.safetensors")
    assert files.lora_file_by_name("sub/style").endswith("style.safetensors")


def test_lora_hashes_by_tag_and_loader(loras):
    _, expected = loras
    run = GraphRun(settings={"prompt": "x"}, loras=[LoraUse("style", None, from_tag=True),
                                                   LoraUse("sub_style", "sub/style.safetensors"),
                                                   LoraUse("gone", None, from_tag=True)])
    notes = files.file_hashes(run)
    assert run.settings["lora_hashes"] == {"style": expected[:12], "sub_style": expected[:12]}
    assert notes == ["LoRA 'gone' not found in the loras folders; no hash written"]
    assert files.find_by_hash("lora", expected[:12]) == "sub/style.safetensors"
    assert files.find_by_hash("lora", "000000000000") is None


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_lossy_files_carry_the_user_comment(tmp_path, fmt):
    path = tmp_path / f"x.{fmt}"
    files.save_lossy(Image.new("RGB", (8, 8)), str(path), fmt, 90, "a, 猫\nSteps: 1, Sampler: Euler, Seed: 1",
                     {"1": {"class_type": "X"}}, {"workflow": {"nodes": []}})
    text, _ = files.read_parameters_from_file(str(path))
    assert text == "a, 猫\nSteps: 1, Sampler: Euler, Seed: 1"
    exif = Image.open(path).getexif()
    assert exif[0x0110].startswith("prompt:") and json.loads(exif[0x010F][len("workflow:"):]) == {"nodes": []}
    assert decode_user_comment(exif.get_ifd(0x8769)[0x9286]) == text


def test_png_without_parameters_is_a_clear_error():
    buf = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buf, format="PNG")
    with pytest.raises(InfotextFileError, match="no A1111 'parameters'"):
        files.read_parameters_from_bytes(buf.getvalue(), "plain.png")
    with pytest.raises(InfotextFileError, match="not an image"):
        files.read_parameters_from_bytes(b"hello", "notes.txt")
