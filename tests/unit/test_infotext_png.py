"""infotext.png: A1111's containers (Pillow PngInfo.add_text tEXt/iTXt choice, piexif "unicode" UserComment =
b"UNICODE\\0" + UTF-16BE) and the bounded PNG text reader (oversized and bomb chunks refused)."""
import io
import struct
import zlib

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from forgeline.infotext import png


def _png(info):
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def test_latin1_text_is_text_chunk_and_reads_back():
    info = PngInfo()
    info.add_text("parameters", "café × 2\nSteps: 20")
    data = _png(info)
    assert b"tEXtparameters\x00caf\xe9 \xd7 2" in data          # Latin-1 bytes, as A1111's files have them
    assert png.read_png_text(data)["parameters"] == "café × 2\nSteps: 20"


def test_utf8_text_is_itxt_and_compressed_variants_read():
    info = PngInfo()
    info.add_text("parameters", "一只猫")
    info.add_text("z", "zipped " * 10, zip=True)
    info.add_itxt("c", "压缩 " * 10, zip=True)
    data = _png(info)
    assert b"iTXtparameters" in data
    got = png.read_png_text(data)
    assert got == {"parameters": "一只猫", "z": "zipped " * 10, "c": "压缩 " * 10}


def _chunk(ctype, body):
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def test_decompression_bomb_is_refused():
    bomb = zlib.compress(b"a" * (50 * 1024 * 1024), 9)
    data = png.PNG_SIGNATURE + _chunk(b"zTXt", b"parameters\x00\x00" + bomb) + _chunk(b"IEND", b"")
    with pytest.raises(png.InfotextFileError, match="decompression bomb"):
        png.read_png_text(data, max_text=1024 * 1024)


def test_huge_text_chunk_refused_and_not_png():
    data = png.PNG_SIGNATURE + _chunk(b"tEXt", b"parameters\x00" + b"x" * 5000) + _chunk(b"IEND", b"")
    with pytest.raises(png.InfotextFileError, match="larger than"):
        png.read_png_text(data, max_text=1000)
    with pytest.raises(png.InfotextFileError, match="not a PNG"):
        png.read_png_text(b"GIF89a")


def test_user_comment_is_piexif_unicode():
    # piexif.helper.UserComment.dump(text, encoding="unicode"): b"UNICODE\0" + text.encode("utf_16_be")
    raw = png.user_comment("a, 猫")
    assert raw == b"UNICODE\x00" + "a, 猫".encode("utf_16_be")
    assert png.decode_user_comment(raw) == "a, 猫"
    assert png.decode_user_comment(b"ASCII\x00\x00\x00hi") == "hi"
    assert png.decode_user_comment("plain") == "plain" and png.decode_user_comment(b"raw utf8 \xc3\xa9") == "raw utf8 é"
