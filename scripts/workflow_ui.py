"""Build UI-format (litegraph, schema ``version 0.4``) workflows from a compact Python description.

The node shapes come from the server's ``/object_info`` so a generated file matches what the frontend would save:
``inputs`` are the node's socket inputs (non-widget types, plus a widget input when something is linked to it,
marked ``widget: {name}``), ``outputs`` carry ``output_name``/``output`` and the ids of their links, and
``widgets_values`` lists every widget input in ``input_order`` (required, then optional) with a
``control_after_generate`` entry after seed-like INTs (the same layout rules ``workflow_convert.py`` reads back;
``"fixed"`` so bundled examples reproduce). Unset widgets take the spec's ``default`` (first choice for combos).

    g = UIGraph(object_info)
    ckpt = g.node("CheckpointLoaderSimple", (0, 0), ckpt_name="model.safetensors")
    enc = g.node("CLIPTextEncode", (1, 0), text="a cat", clip=ckpt["CLIP"])   # link by output name or index
    g.note("What this does…", (0, 1)); g.group("Prompt", [enc])
    ui = g.to_json()
"""
from __future__ import annotations

import uuid

from workflow_convert import WIDGET_TYPES, _spec, _type_and_options, widget_layout

COLUMN, ROW = 360, 60   # grid pitch used by (column, row) positions
NODE_WIDTH = 320
TITLE_HEIGHT = 30  # the frontend draws the title bar above a node's pos


class Output:
    def __init__(self, node: "UINode", slot: int):
        self.node, self.slot = node, slot


class UINode:
    def __init__(self, graph: "UIGraph", node_id: int, data: dict, info: dict | None):
        self.graph, self.id, self.data, self.info = graph, node_id, data, info

    def __getitem__(self, key) -> Output:
        names = list((self.info or {}).get("output_name") or [])
        types = list((self.info or {}).get("output") or [])
        if isinstance(key, int):
            slot = key
        elif key in names:
            slot = names.index(key)
        elif key in types:
            slot = types.index(key)
        else:
            raise KeyError(f"node {self.data['type']} has no output {key!r}; outputs are {names}")
        return Output(self, slot)


class UIGraph:
    def __init__(self, object_info: dict, workflow_id: str | None = None):
        self.object_info = object_info
        self.nodes: list[UINode] = []
        self.links: list[list] = []
        self.groups: list[dict] = []
        self.workflow_id = workflow_id or str(uuid.uuid4())

    # --- positions -------------------------------------------------------------------------------------------
    @staticmethod
    def _xy(pos):
        col, row = pos
        return [round(col * COLUMN), round(row * ROW)]

    def _size(self, class_type: str, info: dict, inputs: list, layout: list, multiline: int) -> list:
        """Roughly the height the frontend gives the node, plus the Forgeline extension's panels (prompt syntax
        under each multiline text, a sigma plot with scheduler+steps, a curve per LoRA schedule). Sized for the
        taller of the two renderings: Vue nodes (Nodes 2.0) draw each panel about 60 px taller than the classic
        canvas and add the pack's badge row (about 20 px) under Forgeline nodes; a node never shrinks below its
        saved size, so both renderings then keep the layout."""
        slots = max(len(inputs), len(info.get("output") or []))
        height = 30 + 22 * slots + 26 * len(layout) + 100 * multiline
        if class_type.startswith("Forgeline"):
            names = {name for name, _ in layout}
            height += 20 + 70 * multiline + 180 * ({"scheduler", "steps"} <= names)
            height += 180 * sum(1 for n in names if n == "schedule" or n.rsplit("_", 1)[0].endswith("schedule"))
        return [NODE_WIDTH, height]

    def overlaps(self, gap: int = 20) -> list[str]:
        """Pairs of nodes whose boxes (title bar of TITLE_HEIGHT above ``pos`` included) come closer than ``gap``."""
        boxes = [(n, n.data["pos"][0], n.data["pos"][1] - TITLE_HEIGHT, n.data["pos"][0] + n.data["size"][0],
                  n.data["pos"][1] + n.data["size"][1]) for n in self.nodes]
        found = []
        for i, (a, ax, ay, ax2, ay2) in enumerate(boxes):
            for b, bx, by, bx2, by2 in boxes[i + 1:]:
                if ax < bx2 + gap and bx < ax2 + gap and ay < by2 + gap and by < ay2 + gap:
                    found.append(f"{a.data['type']} (node {a.id}) and {b.data['type']} (node {b.id})")
        return found

    # --- nodes -----------------------------------------------------------------------------------------------
    def node(self, class_type: str, pos, title: str | None = None, **values) -> UINode:
        """Add a node; keyword arguments are widget values or links (``Output`` from ``other["NAME"]``)."""
        info = self.object_info.get(class_type)
        if info is None:
            raise KeyError(f"node type {class_type!r} is not on the server; known Forgeline nodes: "
                           + ", ".join(sorted(k for k in self.object_info if k.startswith("Forgeline"))))
        node_id = len(self.nodes) + 1
        layout = widget_layout(info)
        widget_names = {name for name, _ in layout}
        for name in values:
            if _spec(info, name) is None:
                raise KeyError(f"{class_type} has no input {name!r}")
        inputs, widgets_values, multiline = [], [], 0
        for section in ("required", "optional"):
            for name in (info.get("input_order") or {}).get(section, []):
                spec = _spec(info, name)
                kind, options = _type_and_options(spec)
                value = values.get(name)
                if name in widget_names:
                    if isinstance(value, Output):
                        inputs.append({"name": name, "type": kind, "widget": {"name": name}, "link": None,
                                       "_from": value})
                        value = None
                    if value is None:
                        value = _default(spec)
                    widgets_values.append(value)
                    if dict(layout)[name]:
                        widgets_values.append("fixed")
                    multiline += kind == "STRING" and bool(options.get("multiline"))
                elif kind not in WIDGET_TYPES or options.get("forceInput"):
                    inputs.append({"name": name, "type": kind, "link": None, "_from": value})
        outputs = [{"name": n, "type": t, "links": [], "slot_index": i}
                   for i, (n, t) in enumerate(zip(info.get("output_name") or [], info.get("output") or []))]
        data = {"id": node_id, "type": class_type, "pos": self._xy(pos),
                "size": self._size(class_type, info, inputs, layout, multiline), "flags": {}, "order": node_id - 1,
                "mode": 0, "inputs": inputs, "outputs": outputs,
                "properties": {"Node name for S&R": class_type}, "widgets_values": widgets_values}
        if title:
            data["title"] = title
        node = UINode(self, node_id, data, info)
        self.nodes.append(node)
        for index, slot in enumerate(inputs):
            source = slot.pop("_from")
            if isinstance(source, Output):
                self._link(source, node, index, slot)
            elif source is not None:
                raise ValueError(f"{class_type}.{slot['name']} is a socket; pass another node's output, not {source!r}")
        return node

    def _link(self, source: Output, target: UINode, target_slot: int, slot: dict) -> None:
        link_id = len(self.links) + 1
        out = source.node.data["outputs"][source.slot]
        self.links.append([link_id, source.node.id, source.slot, target.id, target_slot, out["type"]])
        out["links"].append(link_id)
        slot["link"] = link_id

    def note(self, text: str, pos, size=(NODE_WIDTH, 200), title: str = "Note") -> UINode:
        """A frontend ``Note`` node (not sent to the server): how to read and use the workflow."""
        node_id = len(self.nodes) + 1
        data = {"id": node_id, "type": "Note", "pos": self._xy(pos), "size": list(size), "flags": {},
                "order": node_id - 1, "mode": 0, "inputs": [], "outputs": [], "title": title,
                "properties": {}, "widgets_values": [text], "color": "#432", "bgcolor": "#653"}
        node = UINode(self, node_id, data, None)
        self.nodes.append(node)
        return node

    def group(self, title: str, members: list[UINode], color: str = "#3f789e") -> None:
        """A titled frame around ``members`` (bounding box plus a margin for the title bar)."""
        xs = [m.data["pos"][0] for m in members]
        ys = [m.data["pos"][1] for m in members]
        x2 = [m.data["pos"][0] + m.data["size"][0] for m in members]
        y2 = [m.data["pos"][1] + m.data["size"][1] for m in members]
        x, y = min(xs) - 20, min(ys) - 60
        self.groups.append({"id": len(self.groups) + 1, "title": title, "bounding": [x, y, max(x2) + 20 - x,
                            max(y2) + 20 - y], "color": color, "font_size": 24, "flags": {}})

    def to_json(self) -> dict:
        return {"id": self.workflow_id, "revision": 0, "last_node_id": len(self.nodes),
                "last_link_id": len(self.links), "nodes": [n.data for n in self.nodes], "links": self.links,
                "groups": self.groups, "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [40, 80]}},
                "version": 0.4}


def _default(spec):
    kind, options = _type_and_options(spec)
    if "default" in options:
        return options["default"]
    if isinstance(spec[0], list):
        return spec[0][0] if spec[0] else None
    if kind == "COMBO":
        choices = options.get("options") or []
        return choices[0] if choices else None
    return {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}.get(kind)
