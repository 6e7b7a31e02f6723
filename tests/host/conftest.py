"""Host tier: ComfyUI imported in-process (CPU), no server. The host comes from scripts/comfy_host.py."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from comfy_host import add_to_sys_path  # noqa: E402

add_to_sys_path()
from comfy.cli_args import args  # noqa: E402

args.cpu = True
