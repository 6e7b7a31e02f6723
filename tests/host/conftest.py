"""Host tier: ComfyUI imported in-process (CPU), no server. The host comes from scripts/comfy_host.py."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from comfy_host import add_to_sys_path  # noqa: E402

add_to_sys_path()
from comfy.cli_args import args  # noqa: E402

args.cpu = True


import pytest  # noqa: E402


@pytest.fixture(scope="module")
def sd15():
    """The SD1.5 stand-in ``(model, clip)`` with the fixture LoRA folder registered as a loras folder."""
    import comfy.sd
    import folder_paths
    from forgeline.scripts.comfy_server import MODELS_CACHE
    from forgeline.tests.fixtures.fixture_loras import ensure_loras
    from forgeline.tests.fixtures.models import ensure_checkpoint

    folder_paths.add_model_folder_path("loras", str(ensure_loras(MODELS_CACHE)))
    path = ensure_checkpoint("sd15", MODELS_CACHE / "checkpoints")
    model, clip, _, _ = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=False, output_clip=True)
    return model, clip
