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

import asyncio
import logging

from ..host import infotext_files as files
from ..infotext.png import InfotextFileError
from ..infotext.reproduce import MissingResources, graph_from_infotext

log = logging.getLogger("forgeline")
KINDS = ("checkpoint", "lora", "vae", "embedding", "upscaler")
MAX_ITEMS = 64
MAX_TEXT = 65536
_REGISTERED = False


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


def on_load() -> None:
    global _REGISTERED
    if _REGISTERED:
        return
    try:
        from aiohttp import web
        from server import PromptServer
    except ImportError:
        return
    server = getattr(PromptServer, "instance", None)
    if server is None:
        return

    def handler(fn):
        async def route(request):
            try:
                body = await request.json()
            except Exception:
                return web.json_response({"error": "send a JSON object body"}, status=400)
            if not isinstance(body, dict):
                return web.json_response({"error": "send a JSON object body"}, status=400)
            try:
                result = await asyncio.get_running_loop().run_in_executor(None, fn, body)
                return web.json_response(result)
            except MissingResources as exc:
                return web.json_response({"error": str(exc), "problems": exc.problems, "missing": [
                    {"kind": k, "name": n, "hash": h} for k, n, h in exc.items]}, status=400)
            except (ValueError, InfotextFileError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
        return route

    server.routes.post("/forgeline/resolve_hashes")(handler(resolve_hashes_route))
    server.routes.post("/forgeline/a1111_graph")(handler(a1111_graph_route))
    _REGISTERED = True


NODES = []
