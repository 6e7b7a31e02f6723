"""ComfyUI side of the infotext feature: model folders, hashes with a progress bar, output paths, image files.

- Names from prompts and infotexts resolve only inside ComfyUI's model folders (``folder_paths``); a path that
  leaves them is refused with its name.
- Hashes (``infotext.hashes``) are cached in ``<user dir>/forgeline/infotext_hashes.json`` by (path, size, mtime), so a
  file is read once; the first read shows a ComfyUI progress bar (``comfy.utils.ProgressBar``) in MiB.
- Output files: ``folder_paths.get_save_image_path`` (ComfyUI's counter and subfolder rules, never outside the
  output folder); PNG through Pillow ``PngInfo.add_text`` (tEXt for Latin-1 text, iTXt otherwise, as A1111), JPEG and
  WebP with the EXIF UserComment A1111 writes plus ComfyUI's ``prompt:`` / ``workflow:`` IFD0 strings
  (``comfy_extras/nodes_images.py: SaveAnimatedWEBP``).
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from ..infotext import hashes
from ..infotext.png import EXIF_IFD_POINTER, USER_COMMENT_TAG, InfotextFileError, decode_user_comment, \
    read_png_text, user_comment

log = logging.getLogger("forgeline")
MIB = 1024 * 1024
MAX_READ_BYTES = 256 * MIB
_CACHE = None
_CACHE_LOCK = threading.Lock()


def hash_cache():
    global _CACHE
    with _CACHE_LOCK:
        if _CACHE is None:
            path = None
            try:
                import folder_paths
                path = os.path.join(folder_paths.get_user_directory(), "forgeline", "infotext_hashes.json")
            except Exception:
                path = None
            _CACHE = hashes.HashCache(path)
        return _CACHE


def folder_roots(folder):
    import folder_paths
    try:
        return [os.path.abspath(p) for p in folder_paths.get_folder_paths(folder)]
    except Exception:
        return []


def inside(path, roots):
    real = os.path.realpath(path)
    for root in roots:
        root_real = os.path.realpath(root)
        try:
            if os.path.commonpath((real, root_real)) == root_real:
                return True
        except ValueError:
            continue
    for root in roots:  # symlinked model files (the fixtures link into a cache): the link must be in the folder
        try:
            if os.path.commonpath((os.path.abspath(path), os.path.abspath(root))) == os.path.abspath(root):
                return True
        except ValueError:
            continue
    return False


def model_file(folder, name):
    """Absolute path of ``name`` in ComfyUI's ``folder`` model folders, or None. ValueError for a name that leaves
    them."""
    if not name or not isinstance(name, str):
        return None
    import folder_paths
    path = folder_paths.get_full_path(folder, name)
    if path is None:
        return None
    if not inside(path, folder_roots(folder)):
        raise ValueError(f"{folder} file {name!r} resolves outside ComfyUI's {folder} folders; refused")
    return path


def lora_file_by_name(name):
    """A1111's lookup of a ``<lora:name>`` tag: the loras-folder file whose stem (or relative path) is ``name``."""
    import folder_paths
    wanted = str(name).replace("\\", "/")
    for file in folder_paths.get_filename_list("loras"):
        rel = file.replace("\\", "/")
        stem = os.path.splitext(rel)[0]
        if wanted in (rel, stem, os.path.basename(stem)):
            return model_file("loras", file)
    return None


class _Progress:
    """``progress(done, total)`` for infotext.hashes, shown as a ComfyUI progress bar in MiB."""

    def __init__(self, node_id=None):
        self.bar = None
        self.node_id = node_id

    def __call__(self, done, total):
        try:
            import comfy.utils
            if self.bar is None:
                self.bar = comfy.utils.ProgressBar(max(1, total // MIB), node_id=self.node_id)
            self.bar.update_absolute(done // MIB, max(1, total // MIB))
        except Exception:
            pass


def file_hashes(run, node_id=None, embeddings_in=None):
    """Fill ``run.settings`` with Model/VAE/refiner hashes, ``lora_hashes`` and ``ti_hashes`` (A1111's formats).

    Returns a list of notes (missing files)."""
    s, notes, cache = run.settings, [], hash_cache()
    progress = _Progress(node_id)
    if run.checkpoint:
        path = model_file("checkpoints", run.checkpoint) or model_file("diffusion_models", run.checkpoint)
        if path:
            s["model_hash"] = hashes.autov2(path, progress, cache)
    if run.vae:
        path = model_file("vae", run.vae)
        if path:
            s["vae_hash"] = hashes.autov2(path, progress, cache)
    if run.refiner_checkpoint and s.get("refiner_checkpoint"):
        path = model_file("checkpoints", run.refiner_checkpoint)
        if path:
            s["refiner_hash"] = hashes.autov2(path, progress, cache)
    lora = {}
    for use in run.loras:
        path = model_file("loras", use.file) if use.file else lora_file_by_name(use.name)
        if path is None:
            notes.append(f"LoRA {use.name!r} not found in the loras folders; no hash written")
            continue
        try:
            lora[use.name] = hashes.lora_shorthash(path, progress, cache)
        except (OSError, ValueError) as exc:
            notes.append(f"LoRA {use.name!r}: {exc}")
    if lora:
        s["lora_hashes"] = lora
    ti = {}
    texts = [s.get("prompt", ""), s.get("negative_prompt", "")]
    for name, path in embedding_files().items():
        if any(_mentions(t, name) for t in texts if t):
            ti[name] = hashes.embedding_shorthash(path, progress, cache)
    if ti:
        s["ti_hashes"] = ti
    return notes


def _mentions(text, name):
    pattern = rf"(?<![\w.-])(?:embedding:)?{re.escape(name)}(?:\.safetensors|\.pt|\.bin)?(?![\w-])"
    return re.search(pattern, text, flags=re.I) is not None


def embedding_files():
    """``{stem: path}`` of the embeddings folders (first folder wins)."""
    out = {}
    for root_dir in folder_roots("embeddings"):
        for root, _dirs, files in os.walk(root_dir, followlinks=True):
            for file in sorted(files):
                stem, ext = os.path.splitext(file)
                if ext.lower() in (".safetensors", ".pt", ".bin"):
                    out.setdefault(stem, os.path.join(root, file))
    return out


# ------------------------------------------------------------------------------------------------------- saving

def output_path(filename_prefix, width, height):
    import folder_paths
    return folder_paths.get_save_image_path(filename_prefix, folder_paths.get_output_directory(), width, height)


def metadata_disabled():
    try:
        from comfy.cli_args import args
        return bool(args.disable_metadata)
    except Exception:
        return False


def save_png(image, path, parameters, prompt=None, extra_pnginfo=None, compress_level=4):
    """PNG with ``parameters`` (Pillow picks tEXt / iTXt like A1111) and ComfyUI's ``prompt`` + extra chunks."""
    info = PngInfo()
    if parameters:
        info.add_text("parameters", parameters)
    if prompt is not None:
        info.add_text("prompt", json.dumps(prompt))
    for key, value in (extra_pnginfo or {}).items():
        info.add_text(key, json.dumps(value))
    image.save(path, pnginfo=info, compress_level=compress_level)


def exif_bytes(parameters, prompt=None, extra_pnginfo=None):
    """EXIF with A1111's UserComment plus ComfyUI's IFD0 ``prompt:`` (0x0110) and ``workflow:`` (0x010F...) strings."""
    exif = Image.Exif()
    if prompt is not None:
        exif[0x0110] = "prompt:" + json.dumps(prompt)
    tag = 0x010F
    for key, value in (extra_pnginfo or {}).items():
        exif[tag] = f"{key}:{json.dumps(value)}"
        tag -= 1
    if parameters:
        exif.get_ifd(EXIF_IFD_POINTER)[USER_COMMENT_TAG] = user_comment(parameters)
    return exif.tobytes()


def save_lossy(image, path, fmt, quality, parameters, prompt=None, extra_pnginfo=None):
    """JPEG or WebP with the EXIF above; JPEG's 64 KiB APP1 limit drops the ComfyUI strings first, then all."""
    image = image.convert("RGB")
    exif = exif_bytes(parameters, prompt, extra_pnginfo)
    if fmt == "jpeg" and len(exif) > 65533:
        log.warning("Forgeline Save Image (A1111 infotext): EXIF over JPEG's 64 KiB; the workflow is left out")
        exif = exif_bytes(parameters)
        if len(exif) > 65533:
            exif = b""
    kwargs = {"quality": int(quality), "exif": exif}
    if fmt == "webp":
        kwargs["method"] = 4
    image.save(path, format="JPEG" if fmt == "jpeg" else "WEBP", **kwargs)


# ------------------------------------------------------------------------------------------------------ reading

def read_parameters_from_file(path):
    """The A1111 ``parameters`` text of an image file (PNG text chunk, or EXIF UserComment for JPEG/WebP).

    Raises InfotextFileError (a ValueError) naming the problem: not an image, no parameters, too large."""
    size = os.path.getsize(path)
    if size > MAX_READ_BYTES:
        raise InfotextFileError(f"{os.path.basename(path)} is {size // MIB} MiB, over {MAX_READ_BYTES // MIB} MiB")
    with open(path, "rb") as handle:
        data = handle.read()
    return read_parameters_from_bytes(data, os.path.basename(path))


def read_parameters_from_bytes(data, name="image"):
    if data.startswith(b"\x89PNG"):
        chunks = read_png_text(data)
        if "parameters" in chunks:
            return chunks["parameters"], chunks
        raise InfotextFileError(f"{name} has no A1111 'parameters' text (chunks found: "
                                f"{', '.join(sorted(chunks)) or 'none'})")
    import io
    try:
        with Image.open(io.BytesIO(data)) as img:
            exif = img.getexif()
            raw = exif.get_ifd(EXIF_IFD_POINTER).get(USER_COMMENT_TAG)
    except Exception as exc:
        raise InfotextFileError(f"{name} is not an image Pillow can read: {exc}") from None
    if raw:
        return decode_user_comment(raw), {}
    raise InfotextFileError(f"{name} has no A1111 parameters (no PNG 'parameters' chunk, no EXIF UserComment)")


def input_file(name):
    """A file of ComfyUI's input folder (``annotated`` names as LoadImage takes them), never outside it."""
    import folder_paths
    path = folder_paths.get_annotated_filepath(name)
    root = folder_paths.get_input_directory()
    if not inside(path, [root]):
        raise ValueError(f"image {name!r} is outside ComfyUI's input folder; refused")
    if not os.path.isfile(path):
        raise ValueError(f"image {name!r} not found in ComfyUI's input folder")
    return path


def input_images():
    import folder_paths
    root = folder_paths.get_input_directory()
    try:
        files = [f for f in os.listdir(root) if os.path.isfile(os.path.join(root, f))]
    except OSError:
        files = []
    return sorted(f for f in files if f.lower().endswith((".png", ".jpg", ".jpeg", ".webp")))


# --------------------------------------------------------------------------------------------- hash -> file

def find_by_hash(kind, digest, name=None):
    """The local file of ``kind`` (checkpoint / lora / vae / embedding) whose A1111 hash starts with ``digest``.

    Files whose name matches ``name`` are tried first; the others are hashed (once, then cached) only when needed.
    Returns the folder-relative file name or None."""
    import folder_paths
    folder = {"checkpoint": "checkpoints", "lora": "loras", "vae": "vae", "embedding": "embeddings"}[kind]
    files = list(folder_paths.get_filename_list(folder))
    if name:
        stem = str(name).lower()
        files.sort(key=lambda f: 0 if os.path.splitext(os.path.basename(f))[0].lower() == stem else 1)
    cache = hash_cache()
    for file in files:
        path = model_file(folder, file)
        if path is None:
            continue
        try:
            if kind == "lora":
                full = hashes.lora_hash(path, cache=cache)
            elif kind == "checkpoint" and digest and len(digest.strip()) == 8:
                full = hashes.model_hash_v1(path)
            else:
                full = hashes.full_sha256(path, cache=cache)
        except (OSError, ValueError):
            continue
        if hashes.hash_matches(digest, full):
            return file
    return None


def find_by_name(kind, name):
    import folder_paths
    folder = {"checkpoint": "checkpoints", "lora": "loras", "vae": "vae", "embedding": "embeddings"}[kind]
    wanted = str(name or "").lower()
    for file in folder_paths.get_filename_list(folder):
        base = os.path.basename(file)
        if wanted in (file.lower(), base.lower(), os.path.splitext(base)[0].lower()):
            return file
    return None


# A1111's upscaler labels (modules/esrgan_model.py, realesrgan_model.py) -> usual file stems in upscale_models.
A1111_UPSCALER_FILES = {
    "R-ESRGAN 4x+": "RealESRGAN_x4plus", "R-ESRGAN 4x+ Anime6B": "RealESRGAN_x4plus_anime_6B",
    "R-ESRGAN General 4xV3": "realesr-general-x4v3", "ESRGAN_4x": "ESRGAN_4x", "4x-UltraSharp": "4x-UltraSharp",
}


def resolve_resource(kind, name, digest):
    """Local file name for an infotext resource: by hash when one is given (A1111's paste does this for LoRAs),
    else by name; upscalers by A1111 label or file stem. None when not found."""
    if kind == "upscaler":
        import folder_paths
        wanted = {str(name).lower(), A1111_UPSCALER_FILES.get(name, str(name)).lower()}
        for file in folder_paths.get_filename_list("upscale_models"):
            if os.path.splitext(os.path.basename(file))[0].lower() in wanted:
                return file
        return None
    if digest:
        found = find_by_hash(kind, digest, name)
        if found:
            return found
        return None
    return find_by_name(kind, name) if name else None
