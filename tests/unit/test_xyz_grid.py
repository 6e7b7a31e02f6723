"""The X/Y/Z grid image against A1111's layout rules.

Expected geometry comes from AUTOMATIC1111/stable-diffusion-webui:modules/images.py: ``image_grid`` (cols =
ceil(n / rows), tile = largest image, centred), ``draw_grid_annotations`` (fontsize (w + h) // 25, line spacing
fontsize // 2, pad_left = w * 3 // 4 only with row labels, pad_top = tallest column label + 2 line spacings, 0 without
column labels, margin between cells) and scripts/xyz_grid.py ``draw_xyz_grid`` (Z sub-grids side by side, one row,
Z labels on top, no row labels). Text heights are measured with PIL directly, as A1111 measures them.
"""
from PIL import Image, ImageDraw

from forgeline.xyz import image_grid, xyz_grids
from forgeline.xyz.grid import draw_grid_annotations, get_font


def solid(color, size=(64, 64)):
    return Image.new("RGB", size, color)


def colors(n):
    return [((37 * i) % 256, (91 * i + 50) % 256, (13 * i + 200) % 256) for i in range(n)]


def text_height(text, fontsize):
    d = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    box = d.multiline_textbbox((0, 0), text, font=get_font(fontsize))
    return box[3] - box[1]


def test_image_grid_places_row_major_and_centres_smaller_images():
    imgs = [solid(c, (10, 10)) for c in colors(4)] + [solid((1, 2, 3), (4, 6))]
    g = image_grid(imgs, rows=2)
    assert g.size == (30, 20)  # cols = ceil(5 / 2) = 3
    assert g.getpixel((10 + 5, 0 + 5)) == colors(4)[1]  # image 1: column 1, row 0
    assert g.getpixel((0 + 5, 10 + 5)) == colors(4)[3]  # image 3: column 0, row 1
    # image 4 (4x6) centred in its 10x10 tile at column 1, row 1: offset (3, 2)
    assert g.getpixel((10 + 3, 10 + 2)) == (1, 2, 3) and g.getpixel((10 + 2, 10 + 2)) == (255, 255, 255)


def test_annotations_margins_follow_a1111():
    cells = [solid(c) for c in colors(6)]
    grid = image_grid(cells, rows=2)
    out = draw_grid_annotations(grid, 64, 64, [["Steps: 10"], ["Steps: 20"], ["Steps: 30"]],
                                [["CFG Scale: 5.0"], ["CFG Scale: 7.0"]])
    fontsize = (64 + 64) // 25
    pad_left = 64 * 3 // 4
    pad_top = max(text_height(t, fontsize) for t in ("Steps: 10", "Steps: 20", "Steps: 30")) + 2 * (fontsize // 2)
    assert out.size == (192 + pad_left, 128 + pad_top)
    # every cell is pasted unchanged at its place
    for i, c in enumerate(colors(6)):
        col, row = i % 3, i // 3
        x0, y0 = pad_left + 64 * col, pad_top + 64 * row
        assert out.crop((x0, y0, x0 + 64, y0 + 64)).tobytes() == solid(c).tobytes()
    # label text is drawn (black pixels) in the top band and the left band, nowhere on the cells
    top = out.crop((pad_left, 0, out.width, pad_top))
    left = out.crop((0, pad_top, pad_left, out.height))
    assert min(top.convert("L").getdata()) < 128 and min(left.convert("L").getdata()) < 128


def test_margin_and_no_row_labels():
    grid = image_grid([solid(c) for c in colors(4)], rows=2)
    out = draw_grid_annotations(grid, 64, 64, [["a"], ["b"]], [[""], [""]], margin=10)
    fontsize = 128 // 25
    pad_top = text_height("a", fontsize) + 2 * (fontsize // 2)  # "a" and "b" heights: take the tallest
    pad_top = max(pad_top, text_height("b", fontsize) + 2 * (fontsize // 2))
    assert out.size == (128 + 10, 128 + pad_top + 10)  # pad_left 0: no row label has text
    assert out.crop((64 + 10, pad_top, 128 + 10, pad_top + 64)).tobytes() == solid(colors(4)[1]).tobytes()
    assert out.getpixel((64 + 5, pad_top + 5)) == (255, 255, 255)  # margin is background


def test_no_labels_at_all_adds_nothing():
    grid = image_grid([solid(c) for c in colors(2)], rows=1)
    out = draw_grid_annotations(grid, 64, 64, [[""], [""]], [[""]])
    assert out.size == grid.size and out.tobytes() == grid.tobytes()


def test_xyz_grid_of_grids_and_separate_grids():
    nx, ny, nz = 3, 2, 2
    cells = [solid(c) for c in colors(nx * ny * nz)]
    xl, yl, zl = ["x1", "x2", "x3"], ["y1", "y2"], ["Seed: 1", "Seed: 2"]
    subs = xyz_grids(cells, nx, ny, nz, xl, yl, zl, layout="separate grids")
    assert len(subs) == 2
    fontsize = 128 // 25
    pad_top = max(text_height(t, fontsize) for t in xl) + 2 * (fontsize // 2)
    pad_left = 48
    assert subs[0].size == (192 + pad_left, 128 + pad_top)
    # sub-grid 1 holds cells 6..11 (index = ix + iy*nx + iz*nx*ny): cell 6+4 at column 1, row 1
    x0, y0 = pad_left + 64, pad_top + 64
    assert subs[1].crop((x0, y0, x0 + 64, y0 + 64)).tobytes() == cells[10].tobytes()

    (main,) = xyz_grids(cells, nx, ny, nz, xl, yl, zl)
    sw, sh = subs[0].size
    zfont = (sw + sh) // 25
    z_top = max(text_height(t, zfont) for t in zl) + 2 * (zfont // 2)
    assert main.size == (2 * sw, sh + z_top)  # side by side, Z labels on top, no left margin
    assert main.crop((sw, z_top, 2 * sw, z_top + sh)).tobytes() == subs[1].tobytes()


def test_legend_off_is_the_bare_grid():
    cells = [solid(c) for c in colors(6)]
    (g,) = xyz_grids(cells, 3, 2, 1, ["a", "b", "c"], ["d", "e"], [""], draw_legend=False)
    assert g.tobytes() == image_grid(cells, rows=2).tobytes()


def test_single_z_without_label_is_the_sub_grid():
    cells = [solid(c) for c in colors(2)]
    (main,) = xyz_grids(cells, 2, 1, 1, ["a", "b"], [""], [""])
    (sub,) = xyz_grids(cells, 2, 1, 1, ["a", "b"], [""], [""], layout="separate grids")
    assert main.tobytes() == sub.tobytes()


def test_tensor_to_pil_truncates_like_comfyui_save_image():
    # comfyanonymous/ComfyUI:nodes.py SaveImage: np.clip(255. * image, 0, 255).astype(np.uint8) (truncation)
    import torch

    from forgeline.xyz.grid import pil_to_tensor, tensor_to_pil

    img = torch.tensor([[[0.5, 1.2, -0.1], [0.999, 0.0, 0.25]]])  # 1 x 2 x 3
    pil = tensor_to_pil(img)
    assert list(pil.getdata()) == [(127, 255, 0), (254, 0, 63)]
    back = pil_to_tensor(pil)
    assert back.shape == (1, 1, 2, 3) and abs(float(back[0, 0, 0, 0]) - 127 / 255) < 1e-7
