"""A small client for ComfyUI's HTTP + websocket API (``requests`` + ``websocket-client``).

Protocol facts (ComfyUI 0.3.75 ``server.py``/``execution.py``): ``POST /prompt`` takes an API-format graph and a
``client_id`` and returns ``{"prompt_id", "number", "node_errors"}`` or HTTP 400 with ``{"error", "node_errors"}``.
A 200 answer whose ``node_errors`` is not empty means some outputs failed validation and were dropped (the server
logs "Output will be ignored", execution.py ``validate_prompt``) while the rest was queued: ``submit`` raises
``OutputsDroppedError`` then, naming each node and reason, and removes the queued rest (``POST /queue`` delete);
the websocket ``/ws?clientId=…`` then carries ``execution_start``, ``progress``, ``executing``, ``executed``,
``execution_success`` / ``execution_error`` / ``execution_interrupted`` and a final ``executing`` with
``node: null``. Without a ``client_id`` the start/success/error messages are never sent, so one is always used.
Outputs are read from ``GET /history/{id}`` and images from ``GET /view``.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

import requests


class ComfyError(RuntimeError):
    """ComfyUI refused or failed a prompt; ``payload`` holds the server's JSON."""

    def __init__(self, message: str, payload=None):
        super().__init__(message)
        self.payload = payload


class OutputsDroppedError(ComfyError):
    """ComfyUI queued the prompt without the outputs that failed validation ("Output will be ignored")."""


def _short(text, limit: int = 300) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + " ..."


def format_validation_error(payload: dict) -> str:
    """Render ComfyUI's HTTP 400 body as readable lines: the error, then each node's errors with input names."""
    err = payload.get("error", {}) if isinstance(payload, dict) else {}
    lines = [f"{err.get('message', 'ComfyUI rejected the prompt')}" + (f": {_short(err['details'])}" if err.get("details") else "")]
    for node_id, info in (payload.get("node_errors") or {}).items():
        for e in info.get("errors", []):
            inp = (e.get("extra_info") or {}).get("input_name")
            where = f"node {node_id} ({info.get('class_type', '?')})" + (f", input '{inp}'" if inp else "")
            lines.append(f"  {where}: {e.get('message', '')} {_short(e.get('details', ''))}".rstrip())
        dropped = info.get("dependent_outputs") or []
        if dropped:
            lines.append(f"    outputs dropped because of it: {', '.join(map(str, dropped))}")
    return "\n".join(lines)


@dataclass
class RunResult:
    prompt_id: str
    status: str
    outputs: dict
    messages: list = field(default_factory=list)
    error: dict | None = None
    seconds: float = 0.0

    def images(self) -> list[dict]:
        return [img for out in self.outputs.values() for img in out.get("images", [])]


class ComfyClient:
    def __init__(self, base_url: str = "http://127.0.0.1:8188", timeout: float = 600.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.client_id = uuid.uuid4().hex

    # --- plain HTTP ---------------------------------------------------------------------------------------
    def get(self, path: str, **kw):
        r = requests.get(self.base_url + path, timeout=kw.pop("timeout", 60), **kw)
        r.raise_for_status()
        return r

    def object_info(self, node_class: str | None = None) -> dict:
        return self.get("/object_info" + (f"/{node_class}" if node_class else "")).json()

    def submit(self, prompt: dict, extra_data: dict | None = None) -> str:
        """Queue an API-format prompt; raise ComfyError with the readable validation message on HTTP 400."""
        if not isinstance(prompt, dict) or "nodes" in prompt and "links" in prompt:
            raise ComfyError("this is a UI-format workflow; convert it to API format first (scripts/workflow_convert.py)")
        body = {"prompt": prompt, "client_id": self.client_id}
        if extra_data:
            body["extra_data"] = extra_data
        r = requests.post(self.base_url + "/prompt", json=body, timeout=60)
        if r.status_code == 400:
            payload = r.json()
            raise ComfyError(format_validation_error(payload), payload)
        r.raise_for_status()
        answer = r.json()
        if answer.get("node_errors"):
            self.delete_queued(answer.get("prompt_id"))
            payload = {"error": {"message": "ComfyUI dropped outputs that failed validation (the server logged "
                                            "'Output will be ignored'); the rest was taken off the queue"},
                       "node_errors": answer["node_errors"]}
            raise OutputsDroppedError(format_validation_error(payload), answer)
        return answer["prompt_id"]

    def delete_queued(self, prompt_id) -> None:
        """Remove a queued (not yet running) prompt; a running one finishes on its own."""
        if prompt_id:
            requests.post(self.base_url + "/queue", json={"delete": [prompt_id]}, timeout=30)

    def history(self, prompt_id: str) -> dict:
        return self.get(f"/history/{prompt_id}").json().get(prompt_id, {})

    def view(self, image: dict) -> bytes:
        params = {"filename": image["filename"], "subfolder": image.get("subfolder", ""), "type": image.get("type", "output")}
        return self.get("/view", params=params).content

    def interrupt(self) -> None:
        requests.post(self.base_url + "/interrupt", json={}, timeout=30)

    # --- websocket-followed run ---------------------------------------------------------------------------
    def run(self, prompt: dict, on_progress=None, extra_data: dict | None = None) -> RunResult:
        """Queue ``prompt``, follow it on the websocket until done, return outputs and status.

        ``on_progress(value, max, node)`` is called for every ``progress`` message.
        """
        import websocket  # websocket-client

        ws_url = self.base_url.replace("http", "ws", 1) + f"/ws?clientId={self.client_id}"
        ws = websocket.create_connection(ws_url, timeout=self.timeout)
        start = time.monotonic()
        messages, error, status = [], None, "unknown"
        try:
            prompt_id = self.submit(prompt, extra_data)
            while True:
                if time.monotonic() - start > self.timeout:
                    raise ComfyError(f"prompt {prompt_id} did not finish within {self.timeout:.0f} s")
                raw = ws.recv()
                if not isinstance(raw, str):
                    continue  # binary preview frames
                msg = json.loads(raw)
                data = msg.get("data", {})
                if data.get("prompt_id") not in (None, prompt_id):
                    continue
                messages.append(msg)
                kind = msg.get("type")
                if kind == "progress" and on_progress:
                    on_progress(data.get("value"), data.get("max"), data.get("node"))
                elif kind == "execution_error":
                    error, status = data, "error"
                elif kind == "execution_interrupted":
                    status = "interrupted"
                elif kind == "execution_success":
                    status = "success"
                elif kind == "executing" and data.get("node") is None and data.get("prompt_id") == prompt_id:
                    break
        finally:
            ws.close()
        hist = self.history(prompt_id)
        if status == "unknown":
            status = hist.get("status", {}).get("status_str", "unknown")
        return RunResult(prompt_id, status, hist.get("outputs", {}), messages, error, time.monotonic() - start)
