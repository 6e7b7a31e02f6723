"""Generate (once, cached in .cache/models) the stand-in models and LoRA files tests and the demo use.

Random-weight checkpoints with real architectures (tests/fixtures/models.py) and LoRA files of every supported
format targeting them (tests/fixtures/fixture_loras.py). Regenerated only when the generator code changes.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from comfy_server import ensure_fixture_models  # noqa: E402

if __name__ == "__main__":
    start = time.monotonic()
    families = tuple(sys.argv[1:]) or ("sd15", "sdxl")
    folder = ensure_fixture_models(families)
    print(f"[fixtures] {', '.join(families)} ready in {folder} ({time.monotonic() - start:.1f} s)")
