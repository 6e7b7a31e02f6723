"""Benchmark pairs: Forgeline vs the native ComfyUI way of doing the same thing, measured side by side.

A ``WorkflowPair`` queues two API-format graphs on ONE running ComfyUI server, alternating pack and baseline
(which goes first flips every repetition), after one untimed warm-up of each; the time of a run is the server's own
``execution_success.timestamp − execution_start.timestamp`` (ms, from the websocket), so HTTP and queueing overhead
are excluded. Each call of a graph builder gets a number ``i`` unique across the pair (pack: even, baseline: odd,
warm-ups: negative), so builders put it in the seed: ComfyUI's output cache is keyed by inputs and would otherwise
skip the work being measured (also across the two sides), while loaders stay cached.

An ``InProcessPair`` times two callables in this process (ComfyUI imported in-process) the same way.

The figure reported is the median of each side and ``ratio = pack / baseline`` (below 1 means Forgeline is faster).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class WorkflowPair:
    id: str
    description: str
    pack: Callable[[int], dict]
    baseline: Callable[[int], dict]
    runs: int = 5
    goal: float | None = None
    families: tuple = ("sd15",)
    extra: Callable | None = None  # extra(client, server) -> dict
    pack_label: str = ""
    baseline_label: str = ""


@dataclass
class InProcessPair:
    id: str
    description: str
    pack: Callable[[], object]
    baseline: Callable[[], object]
    setup: Callable[[], object] | None = None
    runs: int = 5
    goal: float | None = None
    extra: Callable | None = None  # extra() -> dict
    pack_label: str = ""
    baseline_label: str = ""


@dataclass
class PairResult:
    id: str
    pack: str
    baseline: str
    pack_times: list = field(default_factory=list)
    baseline_times: list = field(default_factory=list)
    goal: float | None = None
    extra: dict = field(default_factory=dict)
    error: str | None = None

    def record(self) -> dict:
        pm = statistics.median(self.pack_times) if self.pack_times else None
        bm = statistics.median(self.baseline_times) if self.baseline_times else None
        ratio = (pm / bm) if pm is not None and bm else None
        rec = {"id": self.id, "pack": self.pack, "baseline": self.baseline,
               "ratio": round(ratio, 4) if ratio is not None else None,
               "pack_median_s": round(pm, 5) if pm is not None else None,
               "baseline_median_s": round(bm, 5) if bm is not None else None,
               "runs": min(len(self.pack_times), len(self.baseline_times))}
        if self.goal is not None:
            rec["goal"] = self.goal
            rec["meets_goal"] = ratio is not None and ratio <= self.goal
        if self.extra:
            rec["extra"] = self.extra
        if self.error:
            rec["error"] = self.error
        return rec


def server_seconds(result) -> float:
    """Server-side execution time of a RunResult from its websocket messages (ms timestamps)."""
    start = next((m["data"]["timestamp"] for m in result.messages if m.get("type") == "execution_start"), None)
    end = next((m["data"]["timestamp"] for m in result.messages if m.get("type") == "execution_success"), None)
    if start is None or end is None:
        return result.seconds
    return (end - start) / 1000.0


def run_workflow_pair(pair: WorkflowPair, client, server, runs: int | None = None) -> PairResult:
    res = PairResult(pair.id, pair.pack_label or pair.description, pair.baseline_label or "native ComfyUI",
                     goal=pair.goal)
    n = runs or pair.runs
    sides = {"pack": (pair.pack, res.pack_times), "baseline": (pair.baseline, res.baseline_times)}
    for name, k in (("pack", -2), ("baseline", -1)):  # warm-up: loads models, fills caches for loaders
        out = client.run(sides[name][0](k))
        if out.status != "success":
            raise RuntimeError(f"{pair.id}: {name} warm-up failed: {out.error}")
    for i in range(n):
        order = ("pack", "baseline") if i % 2 == 0 else ("baseline", "pack")
        for name in order:
            build, times = sides[name]
            out = client.run(build(2 * i + (name == "baseline")))
            if out.status != "success":
                raise RuntimeError(f"{pair.id}: {name} run {i} failed: {out.error}")
            times.append(server_seconds(out))
    if pair.extra:
        res.extra = pair.extra(client, server) or {}
    return res


def run_inprocess_pair(pair: InProcessPair, runs: int | None = None) -> PairResult:
    import time

    res = PairResult(pair.id, pair.pack_label or pair.description, pair.baseline_label or "native ComfyUI",
                     goal=pair.goal)
    if pair.setup:
        pair.setup()
    pair.pack()
    pair.baseline()
    for i in range(runs or pair.runs):
        order = ((pair.pack, res.pack_times), (pair.baseline, res.baseline_times))
        for fn, times in (order if i % 2 == 0 else order[::-1]):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    if pair.extra:
        res.extra = pair.extra() or {}
    return res
