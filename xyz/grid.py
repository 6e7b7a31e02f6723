"""The labelled X/Y/Z grid image, in A1111's layout (PIL).

Source: AUTOMATIC1111/stable-diffusion-webui:modules/images.py (``image_grid``, ``draw_grid_annotations``) and
scripts/xyz_grid.py (``draw_xyz_grid``).

* ``image_grid(imgs, rows)``: ``cols = ceil(n / rows)``; every tile is the largest image's size, smaller images
  are centred in theirs; image ``i`` goes to column ``i % cols``, row ``i // cols``; background white (A1111's
  default ``grid_background_color``).
* ``draw_grid_annotations``: font size ``(width + height) // 25`` of one cell, line spacing half of it; a left
  margin of ``width * 3 // 4`` only when some row label has text; labels wrap at word boundaries to the cell width
  (column labels) or the left margin (row labels) and shrink a point at a time while still wider; the top margin is
  the tallest column label plus two line spacings (0 when no column label has text); ``margin`` pixels between
  cells; text black, centred (anchor "mm").
* ``draw_xyz_grid``: per Z value, the X*Y images (X across, ``len(ys)`` rows) get X labels on top and Y labels on
  the left; the Z sub-grids then go side by side in one row with the Z labels on top (no margin there). With the
  legend off no labels are drawn.

Font: A1111 ships Roboto; here DejaVu Sans when the system has it, else Pillow's built-in scalable font
(``ImageFont.load_default(size)``), so the grid draws offline on any machine.
"""
from __future__ import annotations

import math
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (255, 255, 255)
TEXT = (0, 0, 0)
FONT_FILES = ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
LAYOUTS = ("grid of grids", "separate grids")


@lru_cache(maxsize=64)
def get_font(size: int):
    size = max(int(size), 1)
    for name in FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def image_grid(imgs: list, rows: int) -> Image.Image:
    rows = min(rows, len(imgs))
    cols = math.ceil(len(imgs) / rows)
    w = max(img.size[0] for img in imgs)
    h = max(img.size[1] for img in imgs)
    grid = Image.new("RGB", (cols * w, rows * h), BACKGROUND)
    for i, img in enumerate(imgs):
        dx, dy = (w - img.size[0]) // 2, (h - img.size[1]) // 2
        grid.paste(img.convert("RGB"), (i % cols * w + dx, i // cols * h + dy))
    return grid


def wrap(draw, text: str, font, line_length: float) -> list[str]:
    """Greedy word wrap by rendered width (A1111 ``draw_grid_annotations.wrap``)."""
    lines = [""]
    for word in text.split():
        line = f"{lines[-1]} {word}".strip()
        if draw.textlength(line, font=font) <= line_length:
            lines[-1] = line
        else:
            lines.append(word)
    return lines


def _text_size(draw, text, font):
    box = draw.multiline_textbbox((0, 0), text, font=font)
    return box[2] - box[0], box[3] - box[1]


def draw_grid_annotations(im: Image.Image, width: int, height: int, hor_texts: list[list[str]],
                          ver_texts: list[list[str]], margin: int = 0) -> Image.Image:
    """Labels around a grid of ``width`` x ``height`` cells: ``hor_texts[col]`` above each column,
    ``ver_texts[row]`` left of each row (each a list of label texts)."""
    fontsize = (width + height) // 25
    line_spacing = fontsize // 2
    fnt = get_font(fontsize)
    pad_left = 0 if sum(len(t) for texts in ver_texts for t in texts) == 0 else width * 3 // 4
    cols, rows = im.width // width, im.height // height
    if cols != len(hor_texts) or rows != len(ver_texts):
        raise ValueError(f"grid of {cols}x{rows} cells needs {cols} column and {rows} row labels, got "
                         f"{len(hor_texts)} and {len(ver_texts)}")

    calc = ImageDraw.Draw(Image.new("RGB", (1, 1), BACKGROUND))

    def lay_out(texts, allowed):  # -> [(line, (w, h), allowed_width)]
        lines = [line for text in texts for line in wrap(calc, text, fnt, allowed)]
        return [(line, _text_size(calc, line, fnt), allowed) for line in lines]

    hor = [lay_out(t, width) for t in hor_texts]
    ver = [lay_out(t, pad_left) for t in ver_texts]
    hor_heights = [sum(size[1] + line_spacing for _, size, _ in lines) - line_spacing for lines in hor]
    ver_heights = [sum(size[1] + line_spacing for _, size, _ in lines) - line_spacing * len(lines) for lines in ver]
    pad_top = 0 if sum(hor_heights) == 0 else max(hor_heights) + line_spacing * 2

    result = Image.new("RGB", (im.width + pad_left + margin * (cols - 1), im.height + pad_top + margin * (rows - 1)),
                       BACKGROUND)
    for row in range(rows):
        for col in range(cols):
            cell = im.crop((width * col, height * row, width * (col + 1), height * (row + 1)))
            result.paste(cell, (pad_left + (width + margin) * col, pad_top + (height + margin) * row))
    d = ImageDraw.Draw(result)

    def draw_lines(x, y, lines):
        for text, size, allowed in lines:
            font, fs = fnt, fontsize
            while _text_size(d, text, font)[0] > allowed and fs > 1:  # shrink a word wider than the space
                fs -= 1
                font = get_font(fs)
            d.multiline_text((x, y + size[1] / 2), text, font=font, fill=TEXT, anchor="mm", align="center")
            y += size[1] + line_spacing

    for col in range(cols):
        draw_lines(pad_left + (width + margin) * col + width / 2, pad_top / 2 - hor_heights[col] / 2, hor[col])
    for row in range(rows):
        draw_lines(pad_left / 2, pad_top + (height + margin) * row + height / 2 - ver_heights[row] / 2, ver[row])
    return result


def xyz_grids(images: list, nx: int, ny: int, nz: int, x_labels: list[str], y_labels: list[str],
              z_labels: list[str], draw_legend: bool = True, margin: int = 0,
              layout: str = "grid of grids") -> list[Image.Image]:
    """The grid image(s) of ``nx*ny*nz`` cell images given in cell-index order (X fastest, then Y, then Z).

    ``layout``: "grid of grids" -> one image, the Z sub-grids side by side under the Z labels (A1111's main grid);
    "separate grids" -> one labelled X/Y grid per Z value (A1111's sub-grids)."""
    if len(images) != nx * ny * nz:
        raise ValueError(f"{len(images)} cell images for a {nx}x{ny}x{nz} plot")
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r}: use one of {', '.join(LAYOUTS)}")
    w = max(img.size[0] for img in images)
    h = max(img.size[1] for img in images)
    subgrids = []
    for iz in range(nz):
        grid = image_grid(images[iz * nx * ny:(iz + 1) * nx * ny], rows=ny)
        if draw_legend:
            grid = draw_grid_annotations(grid, w, h, [[t] for t in x_labels], [[t] for t in y_labels], margin)
        subgrids.append(grid)
    if layout == "separate grids":
        return subgrids
    sub_w, sub_h = subgrids[0].size
    z_grid = image_grid(subgrids, rows=1)
    if draw_legend:
        z_grid = draw_grid_annotations(z_grid, sub_w, sub_h, [[t] for t in z_labels], [[""]])
    return [z_grid]


def tensor_to_pil(image) -> Image.Image:
    """One ComfyUI IMAGE (H, W, C floats in 0..1) -> PIL, rounded as ComfyUI's SaveImage does (clip(255 * x))."""
    import numpy as np

    arr = np.clip(255.0 * image.detach().cpu().float().numpy(), 0, 255).astype(np.uint8)
    return Image.fromarray(arr[..., :3])


def pil_to_tensor(img: Image.Image):
    """PIL -> a ComfyUI IMAGE batch of one (1, H, W, 3)."""
    import numpy as np
    import torch

    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0)[None]
