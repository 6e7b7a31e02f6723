"""Write ``example_workflows/<name>.jpg`` for each bundled workflow by running its API twin and saving the image.

The template browser shows ``/api/workflow_templates/<pack>/<name>.jpg`` (the frontend hard-codes jpg). Each API
twin is queued in quick mode (``forgeline_client.quick_overrides``: 64×64, ≤ 3 steps) on the given server or a
booted stand-in server; its first output image is scaled to 256×256 (nearest, so the pixels stay visible) and
saved as JPEG. A workflow that fails keeps its old thumbnail and is reported.

    python scripts/make_thumbnails.py [--server URL] [--only NAME ...]
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from comfy_client import ComfyClient, ComfyError  # noqa: E402
from forgeline_client import quick_overrides  # noqa: E402
from workflow_convert import API_DIR, EXAMPLES  # noqa: E402

SIZE = 256


def thumbnail(png: bytes, size: int = SIZE) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").resize((size, size), Image.NEAREST)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


def make(client: ComfyClient, names=None) -> dict:
    """``{name: "ok" | error text}`` for each API twin (all, or those in ``names``)."""
    results = {}
    for api_file in sorted(API_DIR.glob("*.json")):
        name = api_file.stem
        if names and name not in names:
            continue
        prompt = quick_overrides(json.loads(api_file.read_text()))
        try:
            result = client.run(prompt)
        except ComfyError as exc:
            results[name] = str(exc)
            continue
        images = [i for i in result.images() if i.get("type") == "output"] or result.images()
        if result.status != "success" or not images:
            results[name] = f"status {result.status}: {(result.error or {}).get('exception_message', 'no image')}"
            continue
        (EXAMPLES / f"{name}.jpg").write_bytes(thumbnail(client.view(images[0])))
        results[name] = "ok"
    return results


def _copy_linked_loras(base: Path) -> None:
    """Replace the base's linked LoRA files by copies (the pack's loader refuses LoRAs reached through a link that
    leaves the loras folder; the fixtures are small)."""
    import shutil

    folder = base / "models" / "loras"
    for link in folder.iterdir() if folder.exists() else ():
        if link.is_symlink():
            target = link.resolve()
            link.unlink()
            shutil.copyfile(target, link)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", help="ComfyUI URL (default: boot a stand-in server)")
    ap.add_argument("--only", nargs="*", help="workflow names (file stems) to redo")
    args = ap.parse_args(argv)
    stop = lambda: None  # noqa: E731
    url = args.server
    if not url:
        import tempfile

        from comfy_server import ComfyServer, ensure_fixture_models, prepare_base

        ensure_fixture_models(("sd15", "sdxl"))
        base = prepare_base(Path(tempfile.mkdtemp(prefix="forgeline_thumbs_")))
        _copy_linked_loras(base)
        server = ComfyServer(base).start()
        url, stop = server.url, server.stop
    try:
        results = make(ComfyClient(url, timeout=1800), args.only)
    finally:
        stop()
    for name, status in results.items():
        print(f"{name}: {status}")
    return 0 if all(s == "ok" for s in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
