"""Queue a ComfyUI workflow file from the command line, follow it live, save its images.

    python scripts/forgeline_client.py WORKFLOW.json [--set NODE.INPUT=VALUE ...] [--server URL] [--out DIR] [--quick]

- ``WORKFLOW.json`` may be API format or UI (litegraph) format; UI files are converted with the server's
  ``/object_info`` (``workflow_convert.ui_to_api``), so the result is what the editor would queue.
- ``--set`` overrides an input. ``NODE`` is a node id, a node title (``_meta.title``) or a class type that occurs
  once; ``VALUE`` is read as JSON when it parses (``20``, ``7.5``, ``true``, ``["4", 0]``), else as text.
- Progress comes from the websocket (``progress`` messages) and is drawn as a bar on stderr.
- ``--quick`` shrinks the run for CPU smoke tests (``quick_overrides``: 64×64, ≤ 3 steps) before ``--set``.
- Images of the run are saved into ``--out`` (default ``out/``) under their server file names.
- ``--from-a1111 IMAGE.png|TEXT`` (instead of a workflow): the A1111 infotext of an image (PNG ``parameters`` or
  JPEG/WebP EXIF UserComment), of a ``.txt`` file, or the text itself, is turned by the server
  (``POST /forgeline/a1111_graph``) into the Forgeline graph that reproduces it, with checkpoint / LoRA / VAE
  found by their A1111 hashes; missing resources are listed by name and hash and the exit status is 1.
- Exit status: 0 success; 1 when ComfyUI rejects the prompt (its validation error is printed readably, one line
  per node and input), when execution fails, or when the file/override is wrong; 2 for bad command-line usage.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from comfy_client import ComfyClient, ComfyError  # noqa: E402
from workflow_convert import WorkflowError, is_ui_workflow, ui_to_api  # noqa: E402

DEFAULT_SERVER = "http://127.0.0.1:8188"


class UsageError(ValueError):
    """A workflow file or an override that cannot be used; the message says what to change."""


def parse_value(text: str):
    """JSON when it parses (numbers, booleans, lists, quoted strings), otherwise the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def find_node(prompt: dict, selector: str) -> str:
    """The id of the node named by ``selector``: an id, a title, or a class type that occurs exactly once."""
    if selector in prompt:
        return selector
    by_title = [k for k, v in prompt.items() if (v.get("_meta") or {}).get("title") == selector]
    if len(by_title) == 1:
        return by_title[0]
    by_type = [k for k, v in prompt.items() if v.get("class_type") == selector]
    if len(by_type) == 1:
        return by_type[0]
    if len(by_title) > 1 or len(by_type) > 1:
        matches = ", ".join(sorted(set(by_title + by_type), key=str))
        raise UsageError(f"--set: {selector!r} names several nodes ({matches}); use a node id")
    known = ", ".join(f"{k} ({v.get('class_type')})" for k, v in prompt.items())
    raise UsageError(f"--set: no node {selector!r}; nodes are: {known}")


def apply_overrides(prompt: dict, overrides: list[str]) -> dict:
    """Apply ``NODE.INPUT=VALUE`` overrides in place; the node part may itself contain dots (titles)."""
    for item in overrides:
        target, sep, value = item.partition("=")
        node_part, dot, input_name = target.rpartition(".")
        if not sep or not dot or not node_part or not input_name:
            raise UsageError(f"--set {item!r}: write NODE.INPUT=VALUE, e.g. --set 3.steps=20 or --set KSampler.seed=7")
        node_id = find_node(prompt, node_part)
        prompt[node_id].setdefault("inputs", {})[input_name] = parse_value(value)
    return prompt


def quick_overrides(prompt: dict, size: int = 64, max_steps: int = 3) -> dict:
    """Shrink a prompt for a smoke run on CPU stand-in models, in place: empty-latent width/height → ``size``,
    every literal ``steps``/``hires_steps`` → at most ``max_steps`` (prompt-editing steps shrink with them, and a
    hires_steps of 0 stays "same as the first pass"). Links and everything else are left as they are."""
    for node in prompt.values():
        inputs = node.get("inputs", {})
        if "Latent" in node.get("class_type", "") and {"width", "height"} <= set(inputs):
            for key in ("width", "height"):
                if isinstance(inputs[key], int):
                    inputs[key] = min(inputs[key], size)
        for key in ("steps", "hires_steps"):
            value = inputs.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > max_steps:
                inputs[key] = max_steps
    return prompt


def load_prompt(path: Path, client: ComfyClient) -> dict:
    """Read ``path`` and return an API-format prompt (UI files converted through the server's /object_info)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None
    if is_ui_workflow(data):
        try:
            return ui_to_api(data, client.object_info())
        except WorkflowError as exc:
            raise UsageError(f"{path}: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("prompt"), dict):
        data = data["prompt"]  # a saved /prompt body
    if not isinstance(data, dict) or not data or not all(isinstance(v, dict) and "class_type" in v for v in data.values()):
        raise UsageError(f"{path}: neither a UI workflow (nodes + links) nor an API prompt ({{id: {{class_type, inputs}}}})")
    return data


class ProgressBar:
    """A one-line text bar on ``stream``: node, step/total, percentage."""

    def __init__(self, stream=sys.stderr, width: int = 30):
        self.stream, self.width, self.active = stream, width, False

    def __call__(self, value, maximum, node):
        maximum = maximum or 1
        filled = int(self.width * value / maximum)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r  node {node}: [{bar}] {value}/{maximum} ({100 * value // maximum:3d}%)")
        self.stream.flush()
        self.active = True

    def done(self):
        if self.active:
            self.stream.write("\n")
            self.active = False


def save_images(client: ComfyClient, result, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    for image in result.images():
        if image.get("type", "output") != "output":
            continue
        target = out_dir / image["filename"]
        target.write_bytes(client.view(image))
        saved.append(target)
    return saved


def run(workflow: Path, overrides=(), server: str = DEFAULT_SERVER, out: Path = Path("out"), stream=sys.stderr,
        timeout: float = 1800.0, quick: bool = False) -> int:
    """The CLI's work as a function (for tests): returns the exit status and prints to ``stream``."""
    client = ComfyClient(server, timeout=timeout)
    try:
        client.get("/system_stats", timeout=10)
    except Exception as exc:  # requests' connection errors: say where we looked
        print(f"error: no ComfyUI server at {server} ({type(exc).__name__}); start one or pass --server URL",
              file=stream)
        return 1
    try:
        prompt = load_prompt(Path(workflow), client)
        if quick:
            quick_overrides(prompt)
        prompt = apply_overrides(prompt, list(overrides))
    except UsageError as exc:
        print(f"error: {exc}", file=stream)
        return 1
    bar = ProgressBar(stream)
    try:
        result = client.run(prompt, on_progress=bar)
    except ComfyError as exc:
        bar.done()
        print(f"error: ComfyUI rejected {workflow}:\n{exc}", file=stream)
        return 1
    bar.done()
    if result.status != "success":
        err = result.error or {}
        where = f"node {err.get('node_id')} ({err.get('node_type')})" if err.get("node_id") else "the run"
        print(f"error: {where} failed: {err.get('exception_type', result.status)}: "
              f"{err.get('exception_message', '').strip()}", file=stream)
        return 1
    saved = save_images(client, result, Path(out))
    print(f"done in {result.seconds:.1f} s: {len(saved)} image(s) saved", file=stream)
    for path in saved:
        print(f"  {path}", file=stream)
    return 0


def read_a1111_text(source: str) -> str:
    """The infotext of ``source``: an image file (PNG 'parameters', EXIF UserComment), a text file, or the text."""
    path = Path(source)
    try:
        is_file = path.is_file()
    except OSError:  # a long pasted text is not a valid path
        is_file = False
    if not is_file:
        return source
    if path.suffix.lower() == ".txt":
        return path.read_text(encoding="utf-8")
    from PIL import Image
    try:
        with Image.open(path) as img:
            text = img.info.get("parameters")
            if not text:
                raw = img.getexif().get_ifd(0x8769).get(0x9286)
                if raw:
                    raw = bytes(raw)
                    text = raw[8:].decode("utf_16_be") if raw.startswith(b"UNICODE\0") else raw.decode("utf-8", "replace")
    except (OSError, ValueError) as exc:  # ValueError: Pillow refuses oversized / bomb text chunks
        raise UsageError(f"{path}: not an image Pillow can read ({exc})") from None
    if not text:
        raise UsageError(f"{path}: no A1111 parameters in this image (no PNG 'parameters', no EXIF UserComment)")
    return text


def run_from_a1111(source: str, server: str = DEFAULT_SERVER, out: Path = Path("out"), stream=sys.stderr,
                   timeout: float = 1800.0) -> int:
    """``--from-a1111``: build the reproducing graph on the server, queue it, save its images."""
    import requests
    try:
        text = read_a1111_text(source)
    except UsageError as exc:
        print(f"error: {exc}", file=stream)
        return 1
    try:
        r = requests.post(server.rstrip("/") + "/forgeline/a1111_graph", json={"text": text}, timeout=timeout)
    except requests.RequestException as exc:
        print(f"error: no ComfyUI server at {server} ({type(exc).__name__}); start one or pass --server URL",
              file=stream)
        return 1
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    if r.status_code != 200:
        print(f"error: {body.get('error', r.text.strip())}", file=stream)
        for item in body.get("missing", []):
            print(f"  missing {item['kind']}: {item['name']!r} (hash {item.get('hash') or 'none'})", file=stream)
        return 1
    for warning in body.get("warnings", []):
        print(f"warning: {warning}", file=stream)
    tmp = Path(out) / "a1111_graph.json"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(body["graph"], indent=1))
    return run(tmp, (), server, out, stream, timeout)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Queue a ComfyUI workflow (UI or API format) and save its images.")
    ap.add_argument("workflow", type=Path, nargs="?", help="workflow JSON (UI or API format)")
    ap.add_argument("--from-a1111", dest="from_a1111", metavar="IMAGE.png|TEXT",
                    help="reproduce an A1111 image: its PNG/JPEG/WebP, a .txt with its parameters, or the text")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="NODE.INPUT=VALUE",
                    help="override an input; NODE is an id, a title or a unique class type (repeatable)")
    ap.add_argument("--server", default=DEFAULT_SERVER, help=f"ComfyUI URL (default {DEFAULT_SERVER})")
    ap.add_argument("--out", type=Path, default=Path("out"), help="folder for the output images (default out/)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 64×64 latents and at most 3 steps (for CPU / stand-in models)")
    args = ap.parse_args(argv)
    if args.from_a1111:
        return run_from_a1111(args.from_a1111, args.server, args.out)
    if args.workflow is None:
        ap.error("give a workflow JSON or --from-a1111 IMAGE.png|TEXT")
    return run(args.workflow, args.overrides, args.server, args.out, quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
