"""HTTP routes for A1111 infotext (the client's ``--from-a1111`` and the editor's PNG drop).

- ``POST /forgeline/resolve_hashes`` ``{"items": [{"kind", "name", "hash"}]}`` -> ``{"items": [{..., "file"}]}``:
  each infotext resource (``kind`` = checkpoint, lora, vae, embedding, upscaler) mapped to the local file of
  ComfyUI's model folders whose A1111 hash matches (by name when no hash is given); ``file`` null when absent.
- ``POST /forgeline/a1111_graph`` ``{"text"}`` -> ``{"graph", "warnings"}``: the Forgeline API graph that
  reproduces the infotext (``infotext.reproduce``); HTTP 400 ``{"error", "missing": [{kind, name, hash}]}`` naming
  every missing resource.

Hashing can read large files: the work runs in a thread so the server keeps answering. Files are hashed once and
cached (host.infotext_files).
"""
from __future__ import annotations

import logging

from . import infotext_files as files
from ..infotext.reproduce import MissingResources, graph_from_infotext

log = logging.getLogger("forgeline")
KINDS = ("checkpoint", "lora", "vae", "embedding", "upscaler")
MAX_ITEMS = 64
MAX_TEXT = 65536


def resolve_hashes_route(body):
    items = body.get("items")
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise ValueError(f"'items' must be a list of at most {MAX_ITEMS} {{kind, name, hash}} objects")
    out = []
    for item in items:
        if not isinstance(item, dict) or item.get("kind") not in KINDS:
            raise ValueError(f"each item needs 'kind' in {', '.join(KINDS)}; got {item!r}")
        name, digest = item.get("name"), item.get("hash")
        for key, value in (("name", name), ("hash", digest)):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"'{key}' must be a string, got {value!r}")
        out.append({"kind": item["kind"], "name": name, "hash": digest,
                    "file": files.resolve_resource(item["kind"], name, digest)})
    return {"items": out}


def a1111_graph_route(body):
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("'text' must be the A1111 infotext (the PNG 'parameters' text)")
    if len(text) > MAX_TEXT:
        raise ValueError(f"'text' is {len(text)} characters; at most {MAX_TEXT}")
    graph, warnings = graph_from_infotext(text, files.resolve_resource)
    return {"graph": graph, "warnings": warnings}


def _missing_fields(exc):
    if isinstance(exc, MissingResources):
        return {"problems": exc.problems, "missing": [{"kind": k, "name": n, "hash": h} for k, n, h in exc.items]}
    return {}


def register(routes) -> None:
    """Add the infotext routes to the server's route table (called by ``host/routes.on_load``)."""
    from .routes import json_route

    routes.post("/forgeline/resolve_hashes")(json_route(resolve_hashes_route, threaded=True,
                                                        error_fields=_missing_fields))
    routes.post("/forgeline/a1111_graph")(json_route(a1111_graph_route, threaded=True, error_fields=_missing_fields))
