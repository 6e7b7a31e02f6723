"""X/Y/Z Plot (A1111) on a real ComfyUI server: every cell of a 3x2 grid equals its settings run alone, a changed
axis value re-runs only its cells (counted from the websocket 'executing' messages of the cells' sampler nodes), the
grid has A1111's size, and bad axes are refused at queue time with the axis and value named."""
import io

import numpy as np
import pytest
from PIL import Image

from forgeline.infotext.parse import parse_generation_parameters, parse_name_hashes
from forgeline.infotext.png import read_png_text

from .graphs_xyz import cell_alone, lora_hires_alone, xyz_plot

X_STEPS = [2, 3, 4]  # "2-4"
Y_SAMPLERS = ["forgeline_euler_a", "euler"]  # "Euler a, euler"


def _pixels(client, image):
    return np.asarray(Image.open(io.BytesIO(client.view(image))).convert("RGB"))


def _parameters(client, image):
    return parse_generation_parameters(read_png_text(client.view(image))["parameters"])


def _sampled(result):
    return sorted(m["data"]["node"] for m in result.messages
                  if m.get("type") == "executing" and str(m["data"].get("node") or "").endswith("_sample"))


@pytest.fixture(scope="module")
def first_run(client):
    result = client.run(xyz_plot(seed=11, prefix="e2e_xyz"))
    assert result.status == "success", result.error
    return result


def test_node_listed(client):
    info = client.object_info("ForgelineXYZPlot")["ForgelineXYZPlot"]
    assert info["display_name"] == "X/Y/Z Plot (A1111)"
    assert "Prompt S/R" in info["input"]["required"]["x_type"][1]["options"] or \
        "Prompt S/R" in info["input"]["required"]["x_type"][0]


def test_every_cell_equals_its_settings_run_alone(client, first_run):
    cells = first_run.outputs["save_cells"]["images"]
    assert len(cells) == 6
    assert len(_sampled(first_run)) == 6
    for iy, sampler in enumerate(Y_SAMPLERS):
        for ix, steps in enumerate(X_STEPS):
            alone = client.run(cell_alone(seed=11, steps=steps, sampler=sampler, prefix="e2e_xyz_alone"))
            assert alone.status == "success", alone.error
            expected = _pixels(client, alone.images()[0])
            got = _pixels(client, cells[ix + iy * 3])  # A1111 index: ix + iy * len(xs)
            assert np.array_equal(got, expected), (steps, sampler)


def test_grid_has_a1111_layout_size(client, first_run):
    (grid,) = first_run.outputs["save_grid"]["images"]
    img = Image.open(io.BytesIO(client.view(grid)))
    assert img.width == 3 * 64 + 64 * 3 // 4  # X across, left margin w*3//4 for the row labels
    assert img.height > 2 * 64  # a label band on top
    cell = _pixels(client, first_run.outputs["save_cells"]["images"][4])  # ix=1, iy=1
    top = img.height - 2 * 64
    assert np.array_equal(np.asarray(img.convert("RGB"))[top + 64:top + 128, 48 + 64:48 + 128], cell)


def test_changing_one_value_reruns_only_its_cells(client):
    # Each host's default cache (classic on 0.3.75, RAM pressure on 0.33.0) keeps the last prompt's outputs, so the
    # runs follow each other directly. The middle run, in which nothing changed, is the case 0.33's cache broke: the
    # cells must survive a prompt in which the plot itself had nothing to do (host/graph_expand.py).
    first = client.run(xyz_plot(seed=11, prefix="e2e_xyz"))
    assert first.status == "success", first.error
    same = client.run(xyz_plot(seed=11, prefix="e2e_xyz"))
    assert same.status == "success" and _sampled(same) == []  # nothing changed: all cached
    changed = client.run(xyz_plot(seed=11, x=("Steps", "2, 5, 4"), prefix="e2e_xyz"))
    assert changed.status == "success", changed.error
    ran = _sampled(changed)
    assert len(ran) == 2  # the two cells of X value 5 (one per sampler)
    assert all(node.endswith(("c1_sample", "c4_sample")) for node in ran)
    alone = client.run(cell_alone(seed=11, steps=5, sampler="euler", prefix="e2e_xyz_alone"))
    assert np.array_equal(_pixels(client, changed.outputs["save_cells"]["images"][4]),
                          _pixels(client, alone.images()[0]))


@pytest.mark.parametrize("kw,words", [
    (dict(x=("Sampler", "Euler a, no_such_sampler")), ["X axis (Sampler)", "no_such_sampler"]),
    (dict(x=("Steps", "1-x")), ["X axis (Steps)", "'1-x'"]),
    (dict(x=("Steps", "1-21"), y=("CFG Scale", "1-10")), ["210 cells", "confirm_large_grid"]),
    (dict(x=("Steps", "2"), y=("Steps", "3")), ["X and Y axes are both 'Steps'"]),
    (dict(x=("Prompt S/R", "dog, bird")), ["X axis (Prompt S/R)", "'dog'"]),
])
def test_bad_axes_are_named_and_server_survives(client, kw, words):
    from comfy_client import ComfyError

    with pytest.raises(ComfyError) as exc:
        client.submit(xyz_plot(**kw))
    for w in words:
        assert w in str(exc.value)


def test_z_axis_and_separate_grids(client):
    result = client.run(xyz_plot(x=("CFG Scale", "5, 7"), y=("Nothing", ""), z=("Seed", "1, 2"),
                                 layout="separate grids", prefix="e2e_xyz_z"))
    assert result.status == "success", result.error
    assert len(result.outputs["save_grid"]["images"]) == 2  # one grid per Z value
    assert len(result.outputs["save_cells"]["images"]) == 4


def test_lora_strength_by_prompt_sr_with_hires_fix(client):
    """The bundled 'LoRA strength x steps' case with HiRes Fix on: X = <lora:...> strength by Prompt S/R, Y = Hires
    steps; a cell equals the hand-built LoRA-tags + HiRes Fix graph, and the strength changes the image."""
    tag = "a photo of a cat <lora:forgeline_sd15_kohya:0.5>"
    result = client.run(xyz_plot(x=("Prompt S/R", ":0.5>, :1>"), y=("Hires steps", "1, 2"), positive=tag, seed=5,
                                 hires_fix=True, hires_upscale_by=1.5, hires_denoise=0.5, prefix="e2e_xyz_lora"))
    assert result.status == "success", result.error
    cells = [_pixels(client, im) for im in result.outputs["save_cells"]["images"]]
    assert len(cells) == 4 and cells[0].shape == (96, 96, 3)
    assert not np.array_equal(cells[0], cells[1])  # strength 0.5 vs 1
    alone = client.run(lora_hires_alone(tag.replace(":0.5>", ":1>"), hires_steps=2, seed=5))
    assert alone.status == "success", alone.error
    assert np.array_equal(cells[3], _pixels(client, alone.images()[0]))  # ix=1 (strength 1), iy=1 (2 steps)


def test_stock_ksampler_and_checkpoint_axis(client):
    result = client.run(xyz_plot(x=("CFG Scale", "4, 8"), y=("Checkpoint name", "sd15"), sampler="euler",
                                 scheduler="normal", sampler_node="KSampler", prefix="e2e_xyz_stock"))
    assert result.status == "success", result.error
    assert len(result.outputs["save_cells"]["images"]) == 2
    # 'sd15' resolves (A1111 closest match) to the base checkpoint, which the cells reuse: no second loader
    assert not any("ckpt_" in str(m["data"].get("node")) for m in result.messages if m.get("type") == "executing")


def test_refiner_switch_axis(client):
    """'Refiner switch at' sets the refiner handoff's switch; 1.0 is a plain base run (Refiner handoff rule), so
    that cell equals the base cell run alone."""
    result = client.run(xyz_plot(x=("Refiner switch at", "0.5, 1.0"), y=("Nothing", ""), refiner_model=["ckpt", 0],
                                 refiner_clip=["ckpt", 1], refiner_switch_at=0.8, seed=9, prefix="e2e_xyz_ref"))
    assert result.status == "success", result.error
    cells = [_pixels(client, im) for im in result.outputs["save_cells"]["images"]]
    assert len(cells) == 2
    alone = client.run(cell_alone(seed=9, prefix="e2e_xyz_ref_alone"))
    assert np.array_equal(cells[1], _pixels(client, alone.images()[0]))


def _saved_with_infotext(graph, prefix):
    """The plot's grid and cells saved by Save Image (A1111 infotext) with the plot's per-cell settings linked."""
    for name, socket in (("save_grid", 0), ("save_cells", 1)):
        graph[name] = {"class_type": "ForgelineSaveImageA1111", "inputs": {
            "images": ["plot", socket], "filename_prefix": f"{prefix}_{name}", "format": "png", "quality": 95,
            "sampler_names": "A1111 (Sampler + Schedule type)", "hashes": True, "cell_runs": ["plot", 2]}}
    return graph


def test_each_cell_carries_its_own_infotext(client):
    """X = LoRA strength by Prompt S/R, Y = Steps, Z = Seed: every saved cell's A1111 parameters parse back to that
    cell's settings (the tag after S/R, its steps and seed, the base CFG / sampler / size); each Z sub-grid carries
    its first cell's parameters plus A1111's grid parameters (Script, X/Y types and values); the main grid of grids
    also the Z pair and the fixed seeds."""
    tag = "a photo of a cat <lora:forgeline_sd15_kohya:0.5>"
    plot = dict(x=("Prompt S/R", ":0.5>, :1>"), y=("Steps", "2, 3"), z=("Seed", "7, 8"), positive=tag, cfg=6.5)
    result = client.run(_saved_with_infotext(xyz_plot(layout="separate grids", **plot), "e2e_xyz_info"))
    assert result.status == "success", result.error
    cells = result.outputs["save_cells"]["images"]
    assert len(cells) == 8
    for iz, seed in enumerate(("7", "8")):
        for iy, steps in enumerate(("2", "3")):
            for ix, strength in enumerate(("0.5", "1")):
                p = _parameters(client, cells[ix + iy * 2 + iz * 4])
                assert p["Prompt"] == f"a photo of a cat <lora:forgeline_sd15_kohya:{strength}>", (ix, iy, iz)
                assert (p["Seed"], p["Steps"]) == (seed, steps), (ix, iy, iz)
                assert (p["Negative prompt"], p["CFG scale"], p["Sampler"], p["Schedule type"]) == \
                    ("blurry", "6.5", "Euler a", "Karras")
                assert (p["Size-1"], p["Size-2"], p["RNG"]) == ("64", "64", "GPU")
                assert list(parse_name_hashes(p["Lora hashes"])) == ["forgeline_sd15_kohya"]
                assert "Script" not in p
    grids = result.outputs["save_grid"]["images"]
    assert len(grids) == 2
    for iz, seed in enumerate(("7", "8")):
        g = _parameters(client, grids[iz])
        assert (g["Seed"], g["Steps"], g["Prompt"]) == (seed, "2", tag)  # the sub-grid's first cell
        assert (g["Script"], g["X Type"], g["X Values"], g["Y Type"], g["Y Values"]) == \
            ("X/Y/Z plot", "Prompt S/R", ":0.5>, :1>", "Steps", "2, 3")
        assert "Z Type" not in g
    main = client.run(_saved_with_infotext(xyz_plot(layout="grid of grids", **plot), "e2e_xyz_info_main"))
    assert main.status == "success", main.error
    (grid,) = main.outputs["save_grid"]["images"]
    g = _parameters(client, grid)
    assert (g["Seed"], g["Steps"], g["Z Type"], g["Z Values"], g["Fixed Z Values"]) == ("7", "2", "Seed", "7, 8",
                                                                                         "7, 8")
