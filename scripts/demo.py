"""`make demo`: boot ComfyUI with Forgeline, run every bundled workflow over the API, write images + a report to out/.

Default: the project-local ComfyUI (.host/ComfyUI) with an isolated base directory whose models are the generated
random-weight stand-ins (the images are noise-like by design: the weights are random, the pipeline is real).
With ``COMFYUI_PATH`` set: the user's ComfyUI and the user's models; checkpoint names in the workflows that the
server does not have are replaced by ``FORGELINE_DEMO_CKPT`` or the first SD1.x checkpoint the server lists.
With the stand-ins, every workflow is shrunk to 96 px and at most 6 steps (``FORGELINE_DEMO_FULL=1`` runs them at
their bundled sizes). Workflows: ``example_workflows/api/*.json`` (API-format twins of the bundled UI workflows); if none exist yet,
a built-in txt2img graph through Forgeline's nodes. On an interactive terminal the server keeps running afterwards
so the editor can be opened; otherwise it is stopped.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from comfy_client import ComfyClient, ComfyError  # noqa: E402
from comfy_host import ROOT, HostError, comfy_dir  # noqa: E402
from comfy_server import CACHE, ComfyServer, ensure_fixture_models, free_port, prepare_base  # noqa: E402
from forgeline_client import quick_overrides  # noqa: E402

OUT = ROOT / "out"
API_DIR = ROOT / "example_workflows" / "api"


def progress_bar(label: str):
    state = {"last": ""}

    def show(value, maximum, node):
        if not maximum:
            return
        filled = int(30 * value / maximum)
        text = f"\r  {label[:40]:40s} [{'#' * filled}{'.' * (30 - filled)}] {value}/{maximum} (node {node})"
        if text != state["last"]:
            sys.stdout.write(text)
            sys.stdout.flush()
            state["last"] = text
    return show


def builtin_workflow() -> dict:
    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    from graphs import txt2img  # noqa: E402

    return txt2img(latent_node="ForgelineEmptyLatent", steps=20, width=512, height=512, prefix="forgeline_demo")


def fit_checkpoints(graph: dict, available: list[str]) -> dict:
    wanted = os.environ.get("FORGELINE_DEMO_CKPT")
    for node in graph.values():
        name = node.get("inputs", {}).get("ckpt_name")
        if isinstance(name, str) and name not in available and available:
            node["inputs"]["ckpt_name"] = wanted if wanted in available else available[0]
    return graph


def main() -> int:
    try:
        host = comfy_dir()
    except HostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    user_host = bool(os.environ.get("COMFYUI_PATH"))
    OUT.mkdir(exist_ok=True)
    if user_host:
        base = None
        print(f"[demo] using your ComfyUI at {host} and its models")
    else:
        ensure_fixture_models(("sd15", "sdxl"))
        base = prepare_base(CACHE / "demo_base")
        print("[demo] using the embedded default: random-weight stand-in models (real architectures, noise-like images)")
    port = 8188 if _port_free(8188) else free_port()
    workflows = sorted(API_DIR.glob("*.json")) if API_DIR.exists() else []
    report = ["# Forgeline demo report", "", f"ComfyUI: {host}", ""]
    failures = 0
    with ComfyServer(base, port=port) as server:
        client = ComfyClient(server.url, timeout=3600)
        ckpts = client.object_info("CheckpointLoaderSimple")["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]
        jobs = [(p.stem, json.loads(p.read_text())) for p in workflows] or [("txt2img (built-in)", builtin_workflow())]
        print(f"[demo] server at {server.url}; running {len(jobs)} workflow(s)")
        for name, graph in jobs:
            graph = fit_checkpoints(graph, ckpts)
            if not user_host and not os.environ.get("FORGELINE_DEMO_FULL"):
                # random-weight stand-ins on a CPU: same graphs, smaller (96 px, ≤ 6 steps) so the demo takes minutes
                quick_overrides(graph, size=96, max_steps=6)
            start = time.monotonic()
            try:
                result = client.run(graph, on_progress=progress_bar(name))
            except ComfyError as exc:
                print(f"\n[demo] {name}: rejected:\n{exc}")
                report.append(f"- **{name}**: rejected: {exc}")
                failures += 1
                continue
            seconds = time.monotonic() - start
            saved = []
            for k, image in enumerate(result.images()):
                if image.get("type") != "output":
                    continue
                dest = OUT / f"{_slug(name)}_{k}.png"
                dest.write_bytes(client.view(image))
                saved.append(dest.name)
            status = result.status
            if status != "success":
                failures += 1
            msg = (result.error or {}).get("exception_message", "")
            print(f"\n[demo] {name}: {status} in {seconds:.1f} s -> {', '.join(saved) or 'no images'} {msg}")
            report.append(f"- **{name}**: {status}, {seconds:.1f} s, images: {', '.join(saved) or 'none'} {msg}".rstrip())
        (OUT / "report.md").write_text("\n".join(report) + "\n")
        print(f"[demo] wrote {OUT}/ ({len(jobs) - failures}/{len(jobs)} workflows succeeded); report: {OUT / 'report.md'}")
        print(f"[demo] the editor is at {server.url}")
        if sys.stdin.isatty() and not os.environ.get("CI"):
            print("[demo] server keeps running; press Ctrl+C to stop")
            try:
                while server.proc.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    return 1 if failures else 0


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_").lower()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


if __name__ == "__main__":
    shutil.rmtree(OUT, ignore_errors=True)
    sys.exit(main())
