"""The cells of an X/Y/Z plot: their order, their settings, and the checks before any cell runs.

Source: AUTOMATIC1111/stable-diffusion-webui:scripts/xyz_grid.py.

* Cell index (``draw_xyz_grid.process_cell.index``): ``ix + iy * len(xs) + iz * len(xs) * len(ys)`` -- X fastest,
  then Y, then Z; the images of one Z value fill a grid of ``len(ys)`` rows, X across.
* Processing order (``Script.run``, ``first_axes_processed`` / ``second_axes_processed``): the loops nest Z, Y, X
  (Z outermost) unless one axis's ``cost`` is strictly the largest, which then becomes the outermost loop and the
  costlier of the other two the next (``Checkpoint name`` has cost 1.0, so checkpoints load once each).
* A cell's settings: the base settings with X, then Y, then Z applied (``cell``: ``x_opt.apply``, ``y_opt.apply``,
  ``z_opt.apply`` on a copy of ``p``).
* Forgeline's checks (the issue's rules; A1111 instead bounds the grid's megapixels): two axes of the same type
  are refused (``Nothing`` excepted), and more than ``MAX_CELLS_UNCONFIRMED`` cells need the confirm input.
"""
from __future__ import annotations

from dataclasses import dataclass

from .axes import Axis, AxisError, AxisValueError

MAX_CELLS_UNCONFIRMED = 200


@dataclass
class Cell:
    index: int
    ix: int
    iy: int
    iz: int
    settings: dict


def cell_index(ix: int, iy: int, iz: int, nx: int, ny: int) -> int:
    return ix + iy * nx + iz * nx * ny


def check_distinct(axes: list[Axis]) -> None:
    seen = {}
    for axis in axes:
        if axis.label == "Nothing":
            continue
        if axis.label in seen:
            raise AxisError(f"{seen[axis.label]} and {axis.name} axes are both {axis.label!r}; an axis type can be "
                            f"used once -- put all its values on one axis")
        seen[axis.label] = axis.name


def check_cell_count(axes: list[Axis], confirmed: bool) -> int:
    n = 1
    for axis in axes:
        n *= len(axis.values)
    if n > MAX_CELLS_UNCONFIRMED and not confirmed:
        sizes = " x ".join(str(len(a.values)) for a in axes)
        raise AxisError(f"X/Y/Z plot: {sizes} = {n} cells is more than {MAX_CELLS_UNCONFIRMED}; turn on "
                        f"'confirm_large_grid' to run them all, or use fewer values")
    return n


def processing_order(x: Axis, y: Axis, z: Axis) -> tuple[str, str, str]:
    """Outer, middle, inner loop axes (names) by A1111's cost rule."""
    cx, cy, cz = x.type.cost, y.type.cost, z.type.cost
    first, second = "z", "y"
    if cx > cy and cx > cz:
        first, second = "x", ("y" if cy > cz else "z")
    elif cy > cx and cy > cz:
        first, second = "y", ("x" if cx > cz else "z")
    elif cz > cx and cz > cy:
        first, second = "z", ("x" if cx > cy else "y")
    third = ({"x", "y", "z"} - {first, second}).pop()
    return first, second, third


def enumerate_cells(base: dict, x: Axis, y: Axis, z: Axis, confirmed: bool = False) -> list[Cell]:
    """All cells, in A1111's processing order (each with its grid index); refuses what A1111 would not run."""
    axes = {"x": x, "y": y, "z": z}
    check_distinct([x, y, z])
    check_cell_count([x, y, z], confirmed)
    outer, middle, inner = processing_order(x, y, z)
    nx, ny = len(x.values), len(y.values)
    cells = []
    for a in range(len(axes[outer].values)):
        for b in range(len(axes[middle].values)):
            for c in range(len(axes[inner].values)):
                pos = {outer: a, middle: b, inner: c}
                settings = dict(base)
                for name in ("x", "y", "z"):
                    axis = axes[name]
                    try:
                        axis.type.apply(settings, axis.values[pos[name]], axis.values)
                    except AxisValueError as e:
                        raise AxisError(f"{axis.name} axis ({axis.label}): {e}") from None
                cells.append(Cell(cell_index(pos["x"], pos["y"], pos["z"], nx, ny), pos["x"], pos["y"], pos["z"],
                                  settings))
    return cells


def plan(base: dict, specs: list[tuple[str, str]], ctx, confirmed: bool = False, rng=None):
    """``specs``: (type label, values text) for X, Y, Z -> (axes, cells) after every check (A1111 ``Script.run``
    up to the first cell). Raises AxisError naming the axis and value."""
    from .axes import parse_axis

    while len(specs) < 3:
        specs = [*specs, ("Nothing", "")]
    axes = [parse_axis(name, label, text, ctx, rng) for name, (label, text) in zip("XYZ", specs)]
    check_distinct(axes)
    return axes, enumerate_cells(base, *axes, confirmed=confirmed)


def grid_infotext_params(axes, main: bool) -> dict:
    """The extra infotext parameters A1111 writes on a grid, over its first cell's settings
    (AUTOMATIC1111/stable-diffusion-webui:scripts/xyz_grid.py ``Script.run.cell``): ``Script``, then ``X Type`` /
    ``X Values`` and the Y pair for every axis that is not 'Nothing' (``Fixed X Values``: the seeds a Seed or Var.
    seed axis resolved to), and on the main grid (``main``) the Z pair too; a Z sub-grid has X and Y only."""
    extra = {"Script": "X/Y/Z plot"}
    for axis in (*axes[:2], *axes[2:3]) if main else axes[:2]:
        if axis.label == "Nothing":
            continue
        extra[f"{axis.name} Type"] = axis.label
        extra[f"{axis.name} Values"] = axis.text
        if axis.label in ("Seed", "Var. seed"):
            extra[f"Fixed {axis.name} Values"] = ", ".join(str(v) for v in axis.values)
    return extra
