"""A1111's X/Y/Z plot, pure: axis value syntax, axis types, cell order and checks, the labelled grid image.

Source: AUTOMATIC1111/stable-diffusion-webui:scripts/xyz_grid.py and modules/images.py. No ComfyUI import; the host
(``host/graph_expand.py``) turns cells into ComfyUI sub-graphs.
"""
from .axis_values import AxisValueError, fix_seeds, parse_floats, parse_ints, parse_permutations, split_values
from .axes import AXIS_LABELS, AXIS_TYPES, Axis, AxisContext, AxisError, AxisType, parse_axis
from .cells import MAX_CELLS_UNCONFIRMED, Cell, enumerate_cells, grid_infotext_params, plan, processing_order
from .grid import LAYOUTS, draw_grid_annotations, image_grid, xyz_grids

__all__ = ["AxisValueError", "fix_seeds", "parse_floats", "parse_ints", "parse_permutations", "split_values",
           "AXIS_LABELS", "AXIS_TYPES", "Axis", "AxisContext", "AxisError", "AxisType", "parse_axis",
           "MAX_CELLS_UNCONFIRMED", "Cell", "enumerate_cells", "grid_infotext_params", "plan", "processing_order", "LAYOUTS",
           "draw_grid_annotations", "image_grid", "xyz_grids"]
