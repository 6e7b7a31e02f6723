"""Where the ComfyUI host is, and a one-line error when it is not a ComfyUI.

The host is ``$COMFYUI_PATH`` when set (a user's own ComfyUI, or the newest host ``.host/newest/ComfyUI`` that
``make test-newest`` sets), otherwise the project-local copy made by ``scripts/setup_host.sh`` at
``.host/ComfyUI``. The Python that runs the tests picks the packages (the newest host has its own venv,
``.host/newest/venv``); ``python_mismatch`` says when that Python does not carry the frontend the host pins. A
ComfyUI checkout is recognised by ``main.py``, ``nodes.py``, ``folder_paths.py``, ``comfy/`` and ``custom_nodes/``
at its top level.

Run as a script: ``python scripts/comfy_host.py --check`` prints the host path or exits 2 with the error.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCAL_HOST = ROOT / ".host" / "ComfyUI"
NEWEST_HOST = ROOT / ".host" / "newest" / "ComfyUI"
NEWEST_PYTHON = ROOT / ".host" / "newest" / "venv" / "bin" / "python"
REQUIRED = ("main.py", "nodes.py", "folder_paths.py", "comfy", "custom_nodes")


class HostError(RuntimeError):
    """The ComfyUI host folder is missing or is not a ComfyUI checkout."""


def comfy_dir() -> Path:
    """Return the ComfyUI folder to use, validated; raise HostError with a one-line message otherwise."""
    env = os.environ.get("COMFYUI_PATH", "").strip()
    if env:
        path = Path(env).expanduser().resolve()
        missing = [name for name in REQUIRED if not (path / name).exists()]
        if missing:
            raise HostError(
                f"COMFYUI_PATH={env!r} is not a ComfyUI folder: expected {', '.join(REQUIRED)} "
                f"at its top level (missing: {', '.join(missing)}); point it at the folder that contains main.py"
            )
        return path
    if not (LOCAL_HOST / "main.py").exists():
        raise HostError(f"no ComfyUI host at {LOCAL_HOST}: run `make setup` (or set COMFYUI_PATH to your ComfyUI)")
    return LOCAL_HOST


def pinned_frontend(host: Path) -> str | None:
    """The ``comfyui-frontend-package`` version the host's requirements.txt pins, if it pins one."""
    try:
        text = (Path(host) / "requirements.txt").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        name, _, version = line.partition("==")
        if name.strip().lower().replace("_", "-") == "comfyui-frontend-package" and version.strip():
            return version.strip()
    return None


def python_mismatch(host: Path) -> str | None:
    """A one-line message when this Python's frontend package is not the one ``host`` pins (tests would then drive
    another frontend than the host ships), else None."""
    from importlib import metadata

    want = pinned_frontend(host)
    if not want:
        return None
    try:
        have = metadata.version("comfyui_frontend_package")
    except metadata.PackageNotFoundError:
        have = "none"
    if have == want:
        return None
    if Path(host).resolve() == NEWEST_HOST.resolve():
        hint = f"use {NEWEST_PYTHON} (make test-newest)"
    elif os.environ.get("COMFYUI_PATH", "").strip():
        hint = "run `make setup` with this COMFYUI_PATH to install its requirements into .venv"
    else:
        hint = "run `make setup`"
    return (f"{host} pins comfyui-frontend-package {want} but {sys.executable} has {have}: {hint}")


def add_to_sys_path() -> Path:
    """Put the host first on sys.path (for in-process host tests) and return it."""
    path = comfy_dir()
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
    return path


if __name__ == "__main__":
    try:
        print(comfy_dir())
    except HostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
