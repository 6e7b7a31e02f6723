"""Where A1111 stores infotext in image files, and a bounded reader for it.

Source: AUTOMATIC1111/stable-diffusion-webui v1.10.1 ``modules/images.py`` (``save_image_with_geninfo``,
``read_info_from_image``): PNG ``parameters`` text chunk through Pillow's ``PngInfo.add_text`` (tEXt when the text
encodes as Latin-1, iTXt UTF-8 otherwise - ``PIL/PngImagePlugin.py: PngInfo.add_text``); JPEG/WebP/AVIF an EXIF
``UserComment`` (tag 0x9286 of the Exif IFD) = ``piexif.helper.UserComment.dump(text, encoding="unicode")`` =
``b"UNICODE\\0"`` + UTF-16 big-endian (``piexif/helper.py``). Reading: ``parameters`` from the PNG text chunks,
else the UserComment (``UNICODE`` / ``ASCII`` / ``JIS`` prefixes, raw UTF-8 otherwise).

The PNG reader here walks the chunks itself so that a hostile file is refused with a message: at most
``max_text`` characters of text per chunk, compressed chunks (zTXt / compressed iTXt) inflated with a hard output
limit (a decompression bomb stops at the limit), and a bound on the number of chunks.
"""
from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
USER_COMMENT_TAG = 0x9286
EXIF_IFD_POINTER = 0x8769
UNICODE_PREFIX = b"UNICODE\x00"
ASCII_PREFIX = b"ASCII\x00\x00\x00"
JIS_PREFIX = b"JIS\x00\x00\x00\x00\x00"
MAX_TEXT = 4 * 1024 * 1024           # characters of one text chunk
MAX_CHUNKS = 100000


class InfotextFileError(ValueError):
    """An image whose metadata cannot be read safely (named in the message)."""


def user_comment(text):
    """EXIF UserComment bytes as A1111 writes them (piexif ``UserComment.dump(text, encoding="unicode")``)."""
    return UNICODE_PREFIX + text.encode("utf_16_be")


def decode_user_comment(raw):
    """Text of an EXIF UserComment (A1111 ``read_info_from_image`` via ``piexif.helper.UserComment.load``)."""
    if isinstance(raw, str):
        return raw
    raw = bytes(raw)
    if raw.startswith(UNICODE_PREFIX):
        body = raw[len(UNICODE_PREFIX):]
        if body.startswith(b"\xff\xfe"):
            return body[2:].decode("utf_16_le", errors="replace")
        if body.startswith(b"\xfe\xff"):
            body = body[2:]
        return body.decode("utf_16_be", errors="replace")
    if raw.startswith(ASCII_PREFIX):
        return raw[len(ASCII_PREFIX):].decode("ascii", errors="replace")
    if raw.startswith(JIS_PREFIX):
        return raw[len(JIS_PREFIX):].decode("shift_jis", errors="replace")
    return raw.decode("utf-8", errors="replace")


def _inflate(data, limit, what):
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as exc:
        raise InfotextFileError(f"{what}: compressed text is corrupt ({exc})") from None
    if len(out) > limit or d.unconsumed_tail:
        raise InfotextFileError(f"{what}: compressed text inflates past {limit} bytes (decompression bomb?); refused")
    return out


def read_png_text(data, max_text=MAX_TEXT):
    """``{keyword: text}`` of the tEXt, zTXt and iTXt chunks of a PNG (bytes), later chunks winning like Pillow.

    Raises :class:`InfotextFileError` for a file that is not a PNG, a text chunk over ``max_text`` characters, or
    compressed text that inflates past that size."""
    if not data.startswith(PNG_SIGNATURE):
        raise InfotextFileError("not a PNG file (bad signature)")
    out, pos, count = {}, len(PNG_SIGNATURE), 0
    limit_bytes = max_text * 4
    while pos + 8 <= len(data):
        count += 1
        if count > MAX_CHUNKS:
            raise InfotextFileError(f"more than {MAX_CHUNKS} PNG chunks; refused")
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if ctype == b"IEND":
            break
        if ctype not in (b"tEXt", b"zTXt", b"iTXt"):
            continue
        key, sep, rest = body.partition(b"\x00")
        if not sep:
            continue
        name = key.decode("latin-1")
        what = f"PNG {ctype.decode()} chunk {name!r}"
        if ctype == b"tEXt":
            if len(rest) > limit_bytes:
                raise InfotextFileError(f"{what} is larger than {limit_bytes} bytes; refused")
            text = rest.decode("latin-1")
        elif ctype == b"zTXt":
            text = _inflate(rest[1:], limit_bytes, what).decode("latin-1")
        else:
            if len(rest) < 2:
                continue
            compressed = rest[0]
            lang, _, rest2 = rest[2:].partition(b"\x00")
            _translated, _, payload = rest2.partition(b"\x00")
            if compressed:
                payload = _inflate(payload, limit_bytes, what)
            elif len(payload) > limit_bytes:
                raise InfotextFileError(f"{what} is larger than {limit_bytes} bytes; refused")
            text = payload.decode("utf-8", errors="replace")
        if len(text) > max_text:
            raise InfotextFileError(f"{what} holds {len(text)} characters, more than {max_text}; refused")
        out[name] = text
    return out
