"""Boot a real ComfyUI server with Forgeline installed, for tests, the demo and benchmarks.

``prepare_base(base)`` lays out a ComfyUI ``--base-directory``: ``custom_nodes/forgeline`` links to this repo,
``models/<folder>/`` links the generated stand-in models (never copies), and ``input/ output/ temp/ user/`` are
fresh. ``ComfyServer`` runs ``main.py --cpu`` on a free loopback port with that base, waits for
``/system_stats``, and stops the process (and its children) on ``stop()``. The server log is kept in the base.
With ``COMFYUI_PATH`` set the user's ComfyUI is booted instead, still with the isolated base directory unless
``use_user_models=True`` (then the user's own models/custom_nodes are used and the pack must be linked there).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from comfy_host import ROOT, comfy_dir, python_mismatch  # noqa: E402

CACHE = ROOT / ".cache"
MODELS_CACHE = CACHE / "models"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_fixture_models(families=("sd15",), loras: bool = True) -> Path:
    """Generate (once, cached) the stand-in checkpoints and LoRA files; return the models cache folder."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(comfy_dir())]))
    code = ("import sys; from comfy.cli_args import args; args.cpu=True\n"
            "from tests.fixtures.models import ensure_checkpoint\n"
            f"[ensure_checkpoint(f, {str(MODELS_CACHE / 'checkpoints')!r}) for f in {list(families)!r}]\n")
    if loras and (ROOT / "tests" / "fixtures" / "fixture_loras.py").exists():
        code += f"from tests.fixtures.fixture_loras import ensure_loras; ensure_loras({str(MODELS_CACHE)!r})\n"
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=str(ROOT))
    return MODELS_CACHE


def prepare_base(base: Path) -> Path:
    base = Path(base)
    for sub in ("custom_nodes", "input", "output", "temp", "user", "models"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    link = base / "custom_nodes" / "forgeline"
    if not link.exists():
        link.symlink_to(ROOT, target_is_directory=True)
    for folder in MODELS_CACHE.iterdir() if MODELS_CACHE.exists() else ():
        if not folder.is_dir():
            continue
        dest = base / "models" / folder.name
        dest.mkdir(parents=True, exist_ok=True)
        for f in folder.iterdir():
            if f.suffix in (".safetensors", ".pt", ".ckpt", ".txt", ".json") and not (dest / f.name).exists():
                (dest / f.name).symlink_to(f)
    return base


class ComfyServer:
    """A ``main.py --cpu`` process on a loopback port (see the module docstring)."""

    @classmethod
    def for_tests(cls, base: Path, families=("sd15",)):
        """Generator for a pytest session fixture: fixtures generated, base prepared, server booted and stopped.
        Refuses a Python whose frontend is not the host's (the tests would drive another frontend)."""
        mismatch = python_mismatch(comfy_dir())
        if mismatch:
            raise RuntimeError(mismatch)
        ensure_fixture_models(tuple(families))
        server = cls(prepare_base(base)).start()
        try:
            yield server
        finally:
            server.stop()

    def __init__(self, base: Path | None, port: int | None = None, extra_args=(), python: str | None = None,
                 cpu: bool = True):
        self.base = Path(base) if base else None
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_args = list(extra_args)
        self.python = python or sys.executable
        self.cpu = cpu  # False: the host's own device defaults (GPU, dynamic VRAM on current NVIDIA hosts)
        self.proc = None
        self.log_path = (self.base or CACHE) / f"comfyui-{self.port}.log"

    def start(self, timeout: float = 240.0) -> "ComfyServer":
        host = comfy_dir()
        cmd = [self.python, "main.py", *(["--cpu"] if self.cpu else []), "--listen", "127.0.0.1",
               "--port", str(self.port), "--disable-auto-launch", *self.extra_args]
        if self.base:
            cmd += ["--base-directory", str(self.base),
                    "--database-url", f"sqlite:///{self.base / 'user' / 'comfyui.db'}"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(cmd, cwd=str(host), stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode} during start-up; log:\n{self.log()[-4000:]}")
            try:
                if requests.get(self.url + "/system_stats", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"ComfyUI did not answer on {self.url} within {timeout:.0f} s; log:\n{self.log()[-4000:]}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
