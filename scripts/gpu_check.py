"""GPU check of Forgeline on the host ComfyUI with its defaults (run by scripts/gpu_check.sh on a CUDA machine).

Boots the host twice on the GPU — with its defaults (ComfyUI 0.33: dynamic VRAM / comfy-aimdo on NVIDIA) and with
``--disable-dynamic-vram`` — and runs the same graphs on both on the stand-in models: txt2img, constant LoRA,
scheduled LoRA (ramp 0@0,1@1), a schedule of constant keyframes (0.8@0,0.8@1, which must equal the constant
strength-0.8 merge: the from-pristine reference), prompt-tag LoRA with a text-encoder strength, HiRes Fix and the
SDXL refiner handoff. For each image it prints the largest pixel difference between the two modes (0-255) and for
the LoRA pair the difference to the static merge; then the per-step cost of scheduled vs constant LoRA (median
server-side time of a 20-step 512x512 run, 3 runs each) in the default mode. Exit status 1 when an image differs
by more than TOLERANCE or a run fails.
"""
from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from comfy_client import ComfyClient  # noqa: E402
from comfy_server import ComfyServer, ensure_fixture_models, prepare_base  # noqa: E402

TOLERANCE = 8  # 0-255: fp16 GPU kernels may differ by a few levels between load paths, never by an image
OUT = ROOT / "out" / "gpu_check"


def graphs():
    import types
    if "forgeline" not in sys.modules:  # the repository as package ``forgeline`` without its ComfyUI __init__
        package = types.ModuleType("forgeline")
        package.__path__ = [str(ROOT)]
        sys.modules["forgeline"] = package
    from forgeline.tests.e2e.graphs import txt2img
    from forgeline.tests.e2e.graphs_hires import hires_fix, refiner
    from forgeline.tests.e2e.graphs_lora import lora_txt2img, prompt_tag_txt2img
    size = {"width": 512, "height": 512, "steps": 8}
    return {
        "txt2img": txt2img(**size),
        "lora_constant": lora_txt2img(strength_model=0.8, **size),
        "lora_scheduled": lora_txt2img(schedule="0@0,1@1", **size),
        "lora_keyframes_0.8": lora_txt2img(schedule="0.8@0,0.8@1", **size),
        "prompt_tag_te": prompt_tag_txt2img(positive="a photo of a cat <lora:forgeline_sd15_kohya:0.6:1.0>", **size),
        "hires_fix": hires_fix(width=256, height=256),
        "refiner": refiner(width=512, height=512),
    }


def run_all(server, tag):
    client = ComfyClient(server.url, timeout=1800)
    images, times = {}, {}
    for name, graph in graphs().items():
        result = client.run(graph)
        if result.status != "success":
            raise RuntimeError(f"{tag}/{name}: {result.status} {result.error}")
        png = client.view(result.images()[0])
        images[name] = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"{name}-{tag}.png").write_bytes(png)
    for name in ("lora_constant", "lora_scheduled"):
        g = graphs()[name]
        g["sample"]["inputs"].update(steps=20)
        runs = []
        for i in range(4):
            g["sample"]["inputs"]["seed"] = 100 + i
            start = time.perf_counter()
            client.run(g)
            runs.append(time.perf_counter() - start)
        times[name] = statistics.median(runs[1:])
    return images, times


def main():
    ensure_fixture_models(("sd15", "sdxl"))
    results = {}
    for tag, extra in (("dynamic", []), ("classic", ["--disable-dynamic-vram"])):
        base = prepare_base(Path(tempfile.mkdtemp(prefix=f"forgeline-gpu-{tag}-")))
        server = ComfyServer(base, extra_args=extra, cpu=False).start(timeout=600)
        try:
            results[tag] = run_all(server, tag)
        finally:
            log = server.log()
            server.stop()
        print(f"[gpu_check] {tag}: server log tail:\n" + "\n".join(log.splitlines()[-8:]))
    failed = False
    print("\n| graph | max |dynamic - classic| (0-255) |")
    print("|---|---:|")
    for name, img in results["dynamic"][0].items():
        diff = int(np.abs(img - results["classic"][0][name]).max())
        failed |= diff > TOLERANCE
        print(f"| {name} | {diff} |")
    for tag in ("dynamic", "classic"):
        imgs = results[tag][0]
        diff = int(np.abs(imgs["lora_keyframes_0.8"] - imgs["lora_constant"]).max())
        failed |= diff > TOLERANCE
        print(f"[gpu_check] {tag}: scheduled 0.8@0,0.8@1 vs constant-0.8 merge: max diff {diff}")
    for tag in ("dynamic", "classic"):
        t = results[tag][1]
        print(f"[gpu_check] {tag}: 20 steps 512x512: constant LoRA {t['lora_constant']:.3f} s, scheduled "
              f"{t['lora_scheduled']:.3f} s, ratio {t['lora_scheduled'] / t['lora_constant']:.3f}")
    print("[gpu_check] FAILED" if failed else "[gpu_check] all images agree")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
