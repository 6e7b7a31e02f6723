#!/usr/bin/env bash
# Forgeline GPU check: ComfyUI 0.33.0 on a CUDA machine with its defaults (dynamic VRAM on), the stand-in models.
#
#   bash scripts/gpu_check.sh                      # uses $PYTHON (default python3) with torch + CUDA installed
#   WHEELS=/path/to/wheels bash scripts/gpu_check.sh   # offline: ComfyUI's other requirements from a wheel folder
#   COMFYUI_PATH=/path/to/ComfyUI bash scripts/gpu_check.sh   # another ComfyUI instead of the bundled 0.33.0
#
# Needs no network: torch (2.11 or newer, CUDA build) must already be installed; every other package of the host
# comes from PyPI through pip, or from $WHEELS with --no-index. Results: a table on stdout and out/gpu_check/*.png.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
TARBALL="${HOST_TARBALL:-$ROOT/../shared/hosts/ComfyUI-0.33.0.tar.gz}"
if [ -z "${COMFYUI_PATH:-}" ]; then
  export COMFYUI_PATH="$ROOT/.host/gpu/ComfyUI"
  if [ ! -f "$COMFYUI_PATH/main.py" ]; then
    [ -f "$TARBALL" ] || { echo "error: no ComfyUI at $COMFYUI_PATH and no tarball at $TARBALL (set HOST_TARBALL or COMFYUI_PATH)" >&2; exit 2; }
    mkdir -p "$ROOT/.host/gpu" && tar xzf "$TARBALL" -C "$ROOT/.host/gpu"
  fi
fi
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)" || {
  echo "error: $PY has no CUDA torch (torch.cuda.is_available() is False); run this on an NVIDIA machine" >&2; exit 3; }
REQS="$(mktemp)"
grep -vE '^\s*(torch|torchvision|torchaudio)\s*([<>=!~].*)?$' "$COMFYUI_PATH/requirements.txt" > "$REQS"
if [ -n "${WHEELS:-}" ]; then
  "$PY" -m pip install -q --no-index --find-links "$WHEELS" -r "$REQS" -r requirements.txt
elif [ -z "${SKIP_PIP:-}" ]; then
  "$PY" -m pip install -q -r "$REQS" -r requirements.txt
fi
rm -f "$REQS"
"$PY" -c "import torchaudio" 2>/dev/null || echo "[gpu_check] note: torchaudio is missing; ComfyUI 0.33 core imports it (install the build matching your torch)"
PYTHONPATH="$ROOT:$COMFYUI_PATH" "$PY" scripts/make_fixtures.py
exec "$PY" scripts/gpu_check.py "$@"
