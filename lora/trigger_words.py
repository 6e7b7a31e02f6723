"""LoRA trigger words, offline first: ranked ``(word, source, score)`` from file metadata and sidecar files.

Rule (Forgeline's offline heuristic; its inputs are kohya-ss/sd-scripts ``train_network.py`` /
``library/sai_model_spec.py`` metadata and the sidecars of Civitai Helper and A1111 ``ui_edit_user_metadata.py``):
take the first source that yields words.

1. ``modelspec.trigger_phrase`` (kohya ``--metadata_trigger_phrase``), split on ``,``; score 1.0.
2. Sidecars next to the file: ``<stem>.civitai.info`` JSON ``trainedWords`` (Civitai Helper), ``<stem>.txt``
   (comma-separated words), A1111 ``<stem>.json`` ``"activation text"``; score 1.0, in file order.
3. ``ss_tag_frequency`` (kohya ``set_tag_frequency``: one count per caption, tags lowercased) normalised per dataset
   dir by ``ss_dataset_dirs[dir]["img_count"]`` (fallback: the dir's largest count), giving the fraction of captions
   that carry the tag; a tag's score is its best fraction over dirs. Ubiquitous booru/general tags
   (:data:`STOP_TAGS`) are scaled by 0.25, tags sharing a 3+-letter word with ``ss_output_name`` (split on ``_``, ``-``, spaces) get +0.5, and each dataset dir
   name minus its kohya ``^\\d+_`` repeat prefix (``10_sks woman`` → ``sks woman``) is added with score 1.5.
   Caption-style datasets (A1111 ``is_non_comma_tagset``: mean tag length ≥ 16) are split into words matching
   ``[-_\\w']+`` of 3+ characters first, as A1111 ``build_tags`` does.

The Civitai by-hash lookup (``GET https://civitai.com/api/v1/model-versions/by-hash/<sha256>`` → ``trainedWords``,
as ComfyUI-Lora-Auto-Trigger-Words and rgthree do) is separate, off unless called, cached on disk, short timeout, and
never raises when offline: it returns the words it has plus a note.
"""
import json
import os
import re

from .safe_load import read_safetensors_metadata

STOP_TAGS = frozenset({
    "1girl", "1boy", "2girls", "solo", "looking at viewer", "simple background", "white background", "smile",
    "open mouth", "closed mouth", "blush", "long hair", "short hair", "standing", "upper body", "full body",
    "outdoors", "indoors", "day", "night", "sky", "masterpiece", "best quality", "high quality", "realistic",
    "photorealistic", "portrait", "jewelry", "shirt", "monochrome", "greyscale", "multiple girls", "breasts",
})
_WORD = re.compile(r"[-_\w']+")
_NAME_WORD = re.compile(r"[^\W_]+")
_REPEATS = re.compile(r"^\d+_")


def _json_field(metadata, key):
    value = metadata.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def _split_words(text):
    return [word.strip() for word in str(text).split(",") if word.strip()]


def _sidecar_words(path):
    stem = os.path.splitext(path)[0]
    info = stem + ".civitai.info"
    if os.path.isfile(info):
        try:
            with open(info, encoding="utf-8") as handle:
                words = [w.strip() for w in json.load(handle).get("trainedWords") or [] if str(w).strip()]
        except (OSError, ValueError, AttributeError):
            words = []
        if words:
            return words, "civitai.info"
    txt = stem + ".txt"
    if os.path.isfile(txt):
        with open(txt, encoding="utf-8", errors="replace") as handle:
            words = _split_words(handle.read().replace("\n", ","))
        if words:
            return words, "sidecar.txt"
    user = stem + ".json"
    if os.path.isfile(user):
        try:
            with open(user, encoding="utf-8") as handle:
                words = _split_words(json.load(handle).get("activation text") or "")
        except (OSError, ValueError, AttributeError):
            words = []
        if words:
            return words, "a1111.json"
    return [], None


def _tag_fractions(metadata):
    """``{tag: best fraction of captions over dataset dirs}`` and the dir tokens, from kohya ``ss_*`` metadata."""
    frequency = _json_field(metadata, "ss_tag_frequency")
    if not isinstance(frequency, dict):
        return {}, []
    dirs = _json_field(metadata, "ss_dataset_dirs")
    dirs = dirs if isinstance(dirs, dict) else {}
    all_tags = [tag for counts in frequency.values() if isinstance(counts, dict) for tag in counts]
    non_comma = bool(all_tags) and sum(len(t) for t in all_tags) / len(all_tags) >= 16
    fractions, dir_tokens = {}, []
    for dir_name, counts in frequency.items():
        if not isinstance(counts, dict) or not counts:
            continue
        if non_comma:
            merged = {}
            for tag, count in counts.items():
                for word in _WORD.findall(tag):
                    if len(word) >= 3:
                        merged[word.lower()] = merged.get(word.lower(), 0) + int(count)
            counts = merged
        info = dirs.get(dir_name) if isinstance(dirs.get(dir_name), dict) else {}
        total = info.get("img_count") or max(int(c) for c in counts.values()) or 1
        for tag, count in counts.items():
            fractions[tag.strip()] = max(fractions.get(tag.strip(), 0.0), min(int(count) / float(total), 1.0))
        token = _REPEATS.sub("", os.path.basename(str(dir_name).rstrip("/\\"))).strip()
        if token and _REPEATS.match(os.path.basename(str(dir_name))):
            dir_tokens.append(token)
    return fractions, dir_tokens


def rank_tag_frequency(metadata):
    """Ranked ``(word, "ss_tag_frequency" | "dataset_dir", score)`` from kohya metadata (rule 3 of the module doc)."""
    fractions, dir_tokens = _tag_fractions(metadata)
    name_words = {w.lower() for w in _NAME_WORD.findall(str(metadata.get("ss_output_name", ""))) if len(w) >= 3}
    ranked = [(token, "dataset_dir", 1.5) for token in dir_tokens]
    for tag, fraction in fractions.items():
        score = fraction * (0.25 if tag.lower() in STOP_TAGS else 1.0)
        if name_words & {w.lower() for w in _NAME_WORD.findall(tag)}:
            score += 0.5
        ranked.append((tag, "ss_tag_frequency", round(score, 6)))
    ranked.sort(key=lambda item: -item[2])
    return ranked


def _dedupe(ranked):
    seen, out = set(), []
    for word, source, score in ranked:
        if word.lower() not in seen:
            seen.add(word.lower())
            out.append((word, source, score))
    return out


def trigger_words(path=None, metadata=None, top_n=None):
    """Offline trigger words of a LoRA file, ranked: ``[(word, source, score), ...]`` (first source that yields).

    ``metadata`` overrides reading the header of ``path``; sidecars are looked up next to ``path``."""
    if metadata is None:
        metadata = read_safetensors_metadata(path) if path and str(path).endswith(".safetensors") else {}
    ranked = [(w, "modelspec", 1.0) for w in _split_words(metadata.get("modelspec.trigger_phrase", ""))]
    if not ranked and path:
        words, source = _sidecar_words(str(path))
        ranked = [(w, source, 1.0) for w in words]
    if not ranked:
        ranked = rank_tag_frequency(metadata)
    ranked = _dedupe(ranked)
    return ranked if top_n is None else ranked[:max(int(top_n), 0)]



