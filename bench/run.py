"""Run Forgeline's benchmark pairs and write bench/RESULTS.md (for people) and bench/results.json.

Usage: ``python bench/run.py [ID ...] [--runs N]``. Pairs come from ``bench/pairs/*.py`` (each defines ``PAIRS``).
All workflow pairs share one ComfyUI server (booted here with the pack and the stand-in models); in-process
pairs import ComfyUI into this process. Results of pairs not run this time are kept from the previous
results.json, so a partial run updates only its own rows.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import sys
import tempfile
import traceback
import types
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "scripts"))
if "forgeline" not in sys.modules:  # the repo as package `forgeline`, without running its ComfyUI-facing __init__
    pkg = types.ModuleType("forgeline")
    pkg.__path__ = [str(ROOT)]
    sys.modules["forgeline"] = pkg

from harness import InProcessPair, WorkflowPair, run_inprocess_pair, run_workflow_pair  # noqa: E402


def load_pairs() -> list:
    pairs = []
    for path in sorted((BENCH / "pairs").glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"bench_pairs_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception:
            print(f"[bench] could not load {path.name}:\n{traceback.format_exc()}", file=sys.stderr)
            continue
        pairs.extend(getattr(module, "PAIRS", []))
    return pairs


def host_version() -> str:
    """The ComfyUI version of the host the pairs run on (its ``comfyui_version.py``)."""
    from comfy_host import comfy_dir

    text = (comfy_dir() / "comfyui_version.py").read_text() if (comfy_dir() / "comfyui_version.py").exists() else ""
    for line in text.splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    return "unknown"


def write_results(records: list[dict]) -> None:
    json_path = BENCH / "results.json"
    old = []
    if json_path.exists():
        try:
            old = json.loads(json_path.read_text())
        except ValueError:
            old = []
    key = lambda r: (r.get("host", "0.3.75"), r["id"])  # noqa: E731
    merged = {key(r): r for r in old}
    merged.update({key(r): r for r in records})
    rows = sorted(merged.values(), key=key)
    json_path.write_text(json.dumps(rows, indent=2) + "\n")

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Forgeline benchmarks",
        "",
        f"Written by `make bench` / `make bench-newest` ({now}) on {platform.machine()}, {os.cpu_count()} CPU cores, "
        "no GPU, `--cpu`, random-weight stand-in models at 64×64; one table per ComfyUI host.",
        "Each pair runs Forgeline and the native ComfyUI way side by side in one server (or one process), "
        "alternating, after a warm-up; times are medians of server-side execution time. "
        "**ratio = Forgeline / native** (below 1.00 is faster).",
    ]
    for host in sorted({r.get("host", "0.3.75") for r in rows}):
        lines += ["", f"## ComfyUI {host}", "",
                  "| id | Forgeline | native baseline | Forgeline median (s) | native median (s) | ratio | goal | runs |",
                  "|---|---|---|---:|---:|---:|---:|---:|"]
        lines += [_row(r) for r in rows if r.get("host", "0.3.75") == host]
    extras = [r for r in rows if r.get("extra") or r.get("error")]
    if extras:
        lines += ["", "## Other figures", ""]
        for r in extras:
            tag = f"`{r['id']}` ({r.get('host', '0.3.75')})"
            if r.get("extra"):
                lines.append(f"- {tag}: " + ", ".join(f"{k} = {v}" for k, v in r["extra"].items()))
            if r.get("error"):
                lines.append(f"- {tag}: **failed**: {r['error']}")
    (BENCH / "RESULTS.md").write_text("\n".join(lines) + "\n")


def _row(r):
    """One table row of a result record."""
    goal = f"≤{r['goal']:.2f}" + (" ✓" if r.get("meets_goal") else " ✗") if r.get("goal") else ""
    fmt = lambda v: f"{v:.4f}" if isinstance(v, (int, float)) else "—"  # noqa: E731
    ratio = f"{r['ratio']:.3f}" if r.get("ratio") is not None else "—"
    return (f"| `{r['id']}` | {r['pack']} | {r['baseline']} | {fmt(r.get('pack_median_s'))} | "
            f"{fmt(r.get('baseline_median_s'))} | {ratio} | {goal} | {r.get('runs', 0)} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ids", nargs="*", help="pair ids to run (default: all)")
    ap.add_argument("--runs", type=int, default=None, help="repetitions per side (default: each pair's own)")
    ap.add_argument("--from-log", metavar="LOG", help="write the records a stopped run printed into LOG (its "
                    "'[bench]   {...}' lines) for the host under test, then exit")
    opts = ap.parse_args()
    if opts.from_log:
        found = [json.loads(line.split("[bench]", 1)[1]) for line in Path(opts.from_log).read_text().splitlines()
                 if line.startswith("[bench]   {")]
        version = host_version()
        write_results([dict(rec, host=rec.get("host", version)) for rec in found])
        print(f"[bench] {len(found)} record(s) from {opts.from_log} written for ComfyUI {version}")
        return 0
    pairs = [p for p in load_pairs() if not opts.ids or p.id in opts.ids]
    if not pairs:
        print("[bench] no pairs selected", file=sys.stderr)
        return 2
    records = []
    version = host_version()

    def keep(rec):  # written after every pair, so an interrupted run keeps what it measured
        rec["host"] = version
        records.append(rec)
        write_results([rec])

    workflow_pairs = [p for p in pairs if isinstance(p, WorkflowPair)]
    if workflow_pairs:
        from comfy_client import ComfyClient
        from comfy_server import ComfyServer, ensure_fixture_models, prepare_base

        families = sorted({f for p in workflow_pairs for f in p.families})
        ensure_fixture_models(tuple(families))
        base = prepare_base(Path(tempfile.mkdtemp(prefix="forgeline-bench-")))
        with ComfyServer(base) as server:
            client = ComfyClient(server.url, timeout=1800)
            for pair in workflow_pairs:
                print(f"[bench] {pair.id}: {pair.description}", flush=True)
                try:
                    rec = run_workflow_pair(pair, client, server, opts.runs).record()
                except Exception as exc:
                    rec = {"id": pair.id, "pack": pair.description, "baseline": pair.baseline_label or "native",
                           "ratio": None, "pack_median_s": None, "baseline_median_s": None, "runs": 0,
                           "error": f"{type(exc).__name__}: {exc}"[:500]}
                print(f"[bench]   {json.dumps(rec)}", flush=True)
                keep(rec)
    inproc = [p for p in pairs if isinstance(p, InProcessPair)]
    if inproc:
        from comfy_host import add_to_sys_path

        add_to_sys_path()
        from comfy.cli_args import args

        args.cpu = True
        for pair in inproc:
            print(f"[bench] {pair.id}: {pair.description}", flush=True)
            try:
                rec = run_inprocess_pair(pair, opts.runs).record()
            except Exception as exc:
                rec = {"id": pair.id, "pack": pair.description, "baseline": pair.baseline_label or "native",
                       "ratio": None, "pack_median_s": None, "baseline_median_s": None, "runs": 0,
                       "error": f"{type(exc).__name__}: {exc}"[:500]}
            print(f"[bench]   {json.dumps(rec)}", flush=True)
            keep(rec)
    print(f"[bench] wrote {BENCH / 'RESULTS.md'} and {BENCH / 'results.json'}")
    return 0 if all(r.get("error") is None for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
