"""Queue one API graph and classify what the server did, without the websocket (polling ``/history`` a bounded
number of times); check that the server still answers. Shared by the reliability tests."""
import json
import time
import uuid

import requests

POLLS = 2400          # x 0.25 s between polls: a bound on the number of polls, not a time limit on the case
POLL_SLEEP = 0.25


def submit(url, graph, client_id=None):
    """``("400", payload)``, ``("http<code>", text)`` or ``("queued", prompt_id)``."""
    # json.dumps writes NaN / Infinity literals (allow_nan): Python's json.loads, which ComfyUI uses, reads them.
    body = json.dumps({"prompt": graph, "client_id": client_id or uuid.uuid4().hex})
    r = requests.post(url + "/prompt", data=body, headers={"Content-Type": "application/json"}, timeout=300)
    if r.status_code == 400:
        return "400", r.json()
    if r.status_code != 200:
        return f"http{r.status_code}", r.text
    return "queued", r.json()["prompt_id"]


def wait(url, prompt_id):
    """The history entry of ``prompt_id`` once it is done (``None`` if it never finished within POLLS polls)."""
    for _ in range(POLLS):
        hist = requests.get(f"{url}/history/{prompt_id}", timeout=60).json().get(prompt_id)
        if hist and hist.get("status", {}).get("completed") is not None and (
                hist["status"].get("status_str") in ("success", "error") or hist.get("outputs")):
            return hist
        time.sleep(POLL_SLEEP)
    return None


def execution_error(hist):
    for kind, data in (hist or {}).get("status", {}).get("messages", []):
        if kind == "execution_error":
            return data
    return None


def run_case(url, graph):
    """``(outcome, text, seconds)``: outcome is ``400``, ``node_error``, ``success``, ``interrupted``,
    ``http<code>`` or ``unfinished``; ``text`` is every message of the 400 body or the node error."""
    start = time.monotonic()
    kind, value = submit(url, graph)
    if kind == "400":
        parts = [str((value.get("error") or {}).get("message", "")), str((value.get("error") or {}).get("details", ""))]
        for node, info in (value.get("node_errors") or {}).items():
            for e in info.get("errors", []):
                parts += [node, str(e.get("message", "")), str(e.get("details", "")),
                          str((e.get("extra_info") or {}).get("input_name", ""))]
        return "400", "\n".join(parts), time.monotonic() - start
    if kind != "queued":
        return kind, str(value)[:2000], time.monotonic() - start
    hist = wait(url, value)
    seconds = time.monotonic() - start
    if hist is None:
        return "unfinished", "", seconds
    err = execution_error(hist)
    if err:
        return "node_error", f"{err.get('node_id')} {err.get('node_type')}: {err.get('exception_message')}", seconds
    status = hist.get("status", {}).get("status_str")
    return ("success" if status == "success" else str(status)), "", seconds


def answering(url, tries=3):
    for _ in range(tries):
        try:
            if requests.get(url + "/system_stats", timeout=60).status_code == 200:
                return True
        except requests.RequestException:
            pass
    return False


def rss_bytes(pid):
    """Resident set size of a process (psutil when present, else /proc/<pid>/status)."""
    try:
        import psutil
        return psutil.Process(pid).memory_info().rss
    except ImportError:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    return 0
