"""`xyz_grid_vs_runs`: an N-cell X/Y/Z Plot (A1111) against the N cell graphs it stands for (SD1.5 stand-in,
64x64, 3 x 2 = 6 cells: X = CFG Scale, Y = Sampler).

Headline ratio: the plot (one node, expanded into the cells' sub-graphs + the grid) vs the same N standalone graphs
(A1111 Prompt Encode x2 -> KSampler (A1111) -> VAEDecode -> SaveImage) in ONE prompt: the same sampling work, so
the ratio is the plot's own cost (expansion, per-cell progress, drawing the grid). Extra figures (``_separate``): the plot vs
the N graphs in one prompt and vs the N graphs queued as N separate prompts (their server-side times summed), in
wall seconds and in the server process's CPU seconds, alternating, ``SEPARATE_RUNS`` each.
Every run gets its own seed (``i``), so sampling is never served from the cache on either side.

Where the plot's time goes (cProfile of both sides through ComfyUI 0.3.75's PromptExecutor in one process, classic
cache, 6 cells x 4 steps): the same torch work on both sides (1176 conv2d, 2066 linear, 24 CLIP forwards, 6 VAE
decodes each), and the plot's own Python work about 40 ms per grid (the plot node 26 ms: planning, building the
cell sub-graphs, reading each cell's infotext settings; grid drawing and its preview PNG about 12 ms; the per-cell
progress nodes under 1 ms) against 75-145 s of sampling per run on the loaded 2-core host, i.e. under 0.1 %. The
earlier "1.12 against the N graphs in one prompt" (2 runs) is the host's run-to-run spread, not overhead of the
plot: three alternating in-process runs of each side took 96.9 / 129.1 / 76.8 s (plot) and 74.8 / 94.5 / 107.6 s
(one prompt) for the same torch work."""
from harness import WorkflowPair, server_seconds

from forgeline.tests.e2e.graphs_xyz import cell_alone, cells_alone, xyz_plot

STEPS = 4
CFGS = [5.0, 7.0, 9.0]
SAMPLERS = [("Euler a", "forgeline_euler_a"), ("euler", "euler")]
N = len(CFGS) * len(SAMPLERS)
SEPARATE_RUNS = 2


def _plot(i):
    return xyz_plot(x=("CFG Scale", ", ".join(str(c) for c in CFGS)),
                    y=("Sampler", ", ".join(a for a, _ in SAMPLERS)), seed=3000 + i, steps=STEPS,
                    prefix="bench_xyz")


def _settings():
    return [dict(cfg=cfg, sampler=name) for _, name in SAMPLERS for cfg in CFGS]  # A1111 cell order: X fastest


def _alone_in_one(i):
    return cells_alone(_settings(), seed=3000 + i, steps=STEPS, prefix="bench_xyz_alone")


def _cpu_seconds(server):
    """User + system CPU seconds of the server process (all threads), from /proc; None off Linux."""
    import os

    try:
        with open(f"/proc/{server.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, IndexError, ValueError):
        return None


def _measured(client, server, run):
    t0 = _cpu_seconds(server)
    seconds = run()
    t1 = _cpu_seconds(server)
    return seconds, (t1 - t0) if t0 is not None and t1 is not None else None


def _separate(client, server, runs=SEPARATE_RUNS):
    """Alternating: the plot, the N graphs in one prompt, the N graphs as N prompts. Wall figures are the server's
    execution times (summed over the N prompts); CPU figures are the server process's CPU seconds, which a machine
    shared with other work disturbs far less than wall time."""
    import statistics

    def grid(seed):
        out = client.run(_plot(seed))
        assert out.status == "success", out.error
        return server_seconds(out)

    def one_prompt(seed):
        out = client.run(_alone_in_one(seed))
        assert out.status == "success", out.error
        return server_seconds(out)

    def separate(seed):
        total = 0.0
        for s in _settings():
            out = client.run(cell_alone(seed=3000 + seed, steps=STEPS, prefix="bench_xyz_sep", **s))
            assert out.status == "success", out.error
            total += server_seconds(out)
        return total

    sides = {"grid": grid, "one_prompt": one_prompt, "separate": separate}
    wall = {k: [] for k in sides}
    cpu = {k: [] for k in sides}
    for r in range(runs):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for k, name in enumerate(order):
            w, c = _measured(client, server, lambda: sides[name](10000 + 10 * r + k))
            wall[name].append(w)
            cpu[name].append(c)
    med = lambda xs: statistics.median(xs) if xs and None not in xs else None
    out = {"cells": N, "steps": STEPS, "runs": runs}
    for name in sides:
        out[f"{name}_wall_s"] = round(med(wall[name]), 3)
        if med(cpu[name]) is not None:
            out[f"{name}_cpu_s"] = round(med(cpu[name]), 3)
    for base in ("one_prompt", "separate"):
        out[f"wall_ratio_vs_{base}"] = round(med(wall["grid"]) / med(wall[base]), 4)
        if med(cpu["grid"]) is not None:
            out[f"cpu_ratio_vs_{base}"] = round(med(cpu["grid"]) / med(cpu[base]), 4)
    return out


PAIRS = [
    WorkflowPair(
        id="xyz_grid_vs_runs",
        description=f"X/Y/Z Plot (A1111) 3 x 2 cells (CFG x sampler, {STEPS} steps, 64x64) vs the {N} cell graphs",
        pack=_plot, baseline=_alone_in_one, runs=5, goal=1.02, families=("sd15",), extra=_separate,
        pack_label=f"ForgelineXYZPlot ({N} cells, grid)",
        baseline_label=f"{N} standalone graphs (Prompt Encode x2 + KSampler (A1111) + VAEDecode + SaveImage)",
    ),
]
