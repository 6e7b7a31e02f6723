"""Convert a UI-format (litegraph) workflow to ComfyUI's API format using the server's ``/object_info``.

The rules are the ones the ComfyUI frontend (comfyui-frontend-package 1.32.9, ``graphToPrompt`` and the widget
constructors) applies, restated here:

- A node's widgets are its ``input_order`` inputs (``required`` then ``optional``; never ``hidden``) whose type is
  a widget type (``INT``/``FLOAT``/``STRING``/``BOOLEAN``/``COMBO`` or a list of choices) and that are not
  ``forceInput``. ``widgets_values`` holds their values in that order (or, in some saves, a dict keyed by name).
- An ``INT`` widget gets an extra "control after generate" widget when its spec says ``control_after_generate``,
  or, when the spec does not say, when it is named ``seed``/``noise_seed``; a ``COMBO`` only when the spec says so.
  That entry (``"fixed"``/``"randomize"``/…) sits right after the value and is not sent to the server.
- A connected input (``inputs[k].link``) becomes ``[origin_node_id, origin_slot]``, even when it is a widget.
  Links are followed through ``Reroute`` nodes and through bypassed nodes (``mode`` 4: to their first input of
  the same type); a link from a muted node (``mode`` 2) is dropped; a ``PrimitiveNode`` source means "use the
  widget value" (the frontend copies its value into the target widget).
- ``Note``/``MarkdownNote``/``Reroute``/``PrimitiveNode`` and muted/bypassed nodes are not in the API graph.

CLI: ``workflow_convert.py UI.json [-o API.json] [--server URL]`` converts one file; ``--all`` regenerates
``example_workflows/api/`` from every ``example_workflows/*.json`` (booting a stand-in server when no ``--server``
is given); ``--check`` reports stale twins and exits 1.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "example_workflows"
API_DIR = EXAMPLES / "api"

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
VIRTUAL_NODES = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
SEED_NAMES = ("seed", "noise_seed")
MODE_MUTED, MODE_BYPASS = 2, 4


class WorkflowError(ValueError):
    """The workflow cannot be converted; the message names the node and what to change."""


def is_ui_workflow(data) -> bool:
    """UI (litegraph) format has top-level ``nodes`` and ``links`` lists; API format is ``{id: {class_type, …}}``."""
    return isinstance(data, dict) and isinstance(data.get("nodes"), list) and "links" in data


def _spec(info: dict, name: str):
    for section in ("required", "optional"):
        spec = (info.get("input") or {}).get(section, {}).get(name)
        if spec is not None:
            return spec
    return None


def _type_and_options(spec):
    kind = spec[0] if isinstance(spec, (list, tuple)) and spec else spec
    options = spec[1] if isinstance(spec, (list, tuple)) and len(spec) > 1 and isinstance(spec[1], dict) else {}
    if isinstance(kind, list):
        kind = "COMBO"
    return kind, options


def widget_layout(info: dict) -> list[tuple[str, bool]]:
    """The widget inputs of a node in ``widgets_values`` order, each with "has a control_after_generate entry"."""
    layout = []
    order = info.get("input_order") or {s: list((info.get("input") or {}).get(s, {})) for s in ("required", "optional")}
    for section in ("required", "optional"):
        for name in order.get(section, []):
            spec = _spec(info, name)
            if spec is None:
                continue
            kind, options = _type_and_options(spec)
            if kind not in WIDGET_TYPES or options.get("forceInput"):
                continue
            control = options.get("control_after_generate")
            if kind == "INT":
                has_control = bool(name in SEED_NAMES if control is None else control)
            else:
                has_control = kind == "COMBO" and bool(control)
            layout.append((name, has_control))
    return layout


def widget_values(node: dict, info: dict) -> dict:
    """Map a UI node's ``widgets_values`` onto its widget input names (skipping control_after_generate entries)."""
    values = node.get("widgets_values")
    layout = widget_layout(info)
    if values is None:
        return {}
    if isinstance(values, dict):
        return {name: values[name] for name, _ in layout if name in values}
    out, index = {}, 0
    for name, has_control in layout:
        if index >= len(values):
            break
        out[name] = values[index]
        index += 2 if has_control else 1
    return out


class _Graph:
    def __init__(self, ui: dict):
        self.nodes = {n["id"]: n for n in ui["nodes"]}
        self.links = {}
        for link in ui.get("links") or []:
            if isinstance(link, dict):  # schema-1 style
                self.links[link["id"]] = (link["origin_id"], link["origin_slot"], link.get("type"))
            else:
                self.links[link[0]] = (link[1], link[2], link[5] if len(link) > 5 else None)

    def source(self, link_id, seen=None):
        """Follow a link upstream to a real node: ``(node_id, slot)``, ``"widget"`` for a primitive, or None."""
        seen = seen or set()
        if link_id is None or link_id not in self.links or link_id in seen:
            return None
        seen.add(link_id)
        origin_id, origin_slot, link_type = self.links[link_id]
        origin = self.nodes.get(origin_id)
        if origin is None:
            return None
        kind, mode = origin.get("type"), origin.get("mode", 0)
        if kind == "Reroute":
            inputs = origin.get("inputs") or []
            return self.source(inputs[0].get("link"), seen) if inputs else None
        if kind == "PrimitiveNode":
            return "widget"
        if mode == MODE_MUTED:
            return None
        if mode == MODE_BYPASS:
            output_type = None
            outputs = origin.get("outputs") or []
            if origin_slot < len(outputs):
                output_type = outputs[origin_slot].get("type")
            output_type = output_type or link_type
            for slot in origin.get("inputs") or []:
                if slot.get("link") is not None and slot.get("type") == output_type:
                    return self.source(slot["link"], seen)
            return None
        return [str(origin_id), origin_slot]


def ui_to_api(ui: dict, object_info: dict) -> dict:
    """Convert a UI-format workflow to an API-format prompt (see the module docstring for the rules)."""
    if not is_ui_workflow(ui):
        raise WorkflowError("not a UI-format workflow: expected top-level 'nodes' and 'links' lists")
    graph = _Graph(ui)
    missing = sorted({f"{n.get('type')} (node {n['id']})" for n in ui["nodes"]
                      if n.get("type") not in VIRTUAL_NODES and n.get("type") not in object_info
                      and n.get("mode", 0) not in (MODE_MUTED, MODE_BYPASS)})
    if missing:
        raise WorkflowError("the server does not have these node types: " + ", ".join(missing)
                            + "; install the pack that provides them or remove the nodes")
    prompt = {}
    for node in sorted(ui["nodes"], key=lambda n: int(n["id"]) if str(n["id"]).isdigit() else str(n["id"])):
        kind = node.get("type")
        if kind in VIRTUAL_NODES or node.get("mode", 0) in (MODE_MUTED, MODE_BYPASS):
            continue
        info = object_info[kind]
        inputs = dict(widget_values(node, info))
        for slot in node.get("inputs") or []:
            name = slot.get("name")
            if slot.get("link") is None or name is None:
                continue
            src = graph.source(slot["link"])
            if src == "widget":
                continue  # value already copied into this node's widget
            if src is None:
                continue  # muted or dangling source: a widget keeps its own value, a socket stays empty
            inputs[name] = src
        title = node.get("title") or info.get("display_name") or kind
        prompt[str(node["id"])] = {"class_type": kind, "inputs": inputs, "_meta": {"title": title}}
    return prompt


def dumps(prompt: dict) -> str:
    return json.dumps(prompt, indent=2, ensure_ascii=False) + "\n"


def example_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("*.json"))


def regenerate_all(object_info: dict, check: bool = False) -> list[str]:
    """Write (or with ``check`` only compare) ``example_workflows/api/<name>.json``; return the stale/changed names."""
    API_DIR.mkdir(parents=True, exist_ok=True)
    changed = []
    for path in example_files():
        text = dumps(ui_to_api(json.loads(path.read_text()), object_info))
        target = API_DIR / path.name
        if not target.exists() or target.read_text() != text:
            changed.append(path.name)
            if not check:
                target.write_text(text)
    return changed


def _object_info(server: str | None):
    """``(object_info, stop)``: from ``server``, or from a stand-in server booted here (stopped by ``stop()``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from comfy_client import ComfyClient

    if server:
        return ComfyClient(server).object_info(), lambda: None
    import tempfile

    from comfy_server import ComfyServer, ensure_fixture_models, prepare_base

    ensure_fixture_models(("sd15", "sdxl"))
    base = prepare_base(Path(tempfile.mkdtemp(prefix="forgeline_convert_")))
    srv = ComfyServer(base).start()
    return ComfyClient(srv.url).object_info(), srv.stop


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("workflow", nargs="?", help="UI-format workflow JSON to convert")
    ap.add_argument("-o", "--out", help="write the API JSON here (default: stdout)")
    ap.add_argument("--server", help="ComfyUI URL to read /object_info from (default: boot a stand-in server)")
    ap.add_argument("--all", action="store_true", help="regenerate example_workflows/api/ from example_workflows/")
    ap.add_argument("--check", action="store_true", help="with --all: only report stale API twins (exit 1)")
    args = ap.parse_args(argv)
    if not args.all and not args.workflow:
        ap.error("give a WORKFLOW file or --all")
    info, stop = _object_info(args.server)
    try:
        if args.all:
            changed = regenerate_all(info, check=args.check)
            verb = "stale" if args.check else "written"
            print(f"{len(changed)} API twin(s) {verb}: {', '.join(changed) or '-'}")
            return 1 if args.check and changed else 0
        try:
            text = dumps(ui_to_api(json.loads(Path(args.workflow).read_text()), info))
        except WorkflowError as exc:
            print(f"error: {args.workflow}: {exc}", file=sys.stderr)
            return 1
        if args.out:
            Path(args.out).write_text(text)
        else:
            sys.stdout.write(text)
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
