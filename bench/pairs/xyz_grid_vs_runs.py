"""`xyz_grid_vs_runs`: an N-cell X/Y/Z Plot (A1111) against the N cell graphs it stands for (SD1.5 stand-in,
64x64, 3 x 2 = 6 cells: X = CFG Scale, Y = Sampler).

Headline ratio: the plot (one node, expanded into the cells' sub-graphs + the grid) vs the same N standalone graphs
(A1111 Prompt Encode x2 -> KSampler (A1111) -> VAEDecode -> SaveImage) in ONE prompt: the same sampling work, so
the ratio is the plot's own cost (expansion, per-cell progress, drawing the grid). Extra figure: the plot vs the N
graphs queued as N separate prompts (sum of their server-side times), alternating, ``SEPARATE_RUNS`` each.
Every run gets its own seed (``i``), so sampling is never served from the cache on either side."""
from harness import WorkflowPair, server_seconds

from forgeline.tests.e2e.graphs_xyz import cell_alone, cells_alone, xyz_plot

STEPS = 4
CFGS = [5.0, 7.0, 9.0]
SAMPLERS = [("Euler a", "forgeline_euler_a"), ("euler", "euler")]
N = len(CFGS) * len(SAMPLERS)
SEPARATE_RUNS = 3


def _plot(i):
    return xyz_plot(x=("CFG Scale", ", ".join(str(c) for c in CFGS)),
                    y=("Sampler", ", ".join(a for a, _ in SAMPLERS)), seed=3000 + i, steps=STEPS,
                    prefix="bench_xyz")


def _settings():
    return [dict(cfg=cfg, sampler=name) for _, name in SAMPLERS for cfg in CFGS]  # A1111 cell order: X fastest


def _alone_in_one(i):
    return cells_alone(_settings(), seed=3000 + i, steps=STEPS, prefix="bench_xyz_alone")


def _separate(client, server):
    """The plot vs N separately queued prompts, alternating; medians of server-side seconds."""
    import statistics

    grid_t, sep_t = [], []
    for r in range(SEPARATE_RUNS):
        seed = 5000 + 2 * r
        for side in (("grid", "sep") if r % 2 == 0 else ("sep", "grid")):
            if side == "grid":
                out = client.run(_plot(seed - 3000))
                assert out.status == "success", out.error
                grid_t.append(server_seconds(out))
            else:
                total = 0.0
                for s in _settings():
                    out = client.run(cell_alone(seed=seed + 1, steps=STEPS, prefix="bench_xyz_sep", **s))
                    assert out.status == "success", out.error
                    total += server_seconds(out)
                sep_t.append(total)
    g, s = statistics.median(grid_t), statistics.median(sep_t)
    return {"cells": N, "grid_median_s": round(g, 4), "separate_prompts_median_s": round(s, 4),
            "ratio_vs_separate_prompts": round(g / s, 4)}


PAIRS = [
    WorkflowPair(
        id="xyz_grid_vs_runs",
        description=f"X/Y/Z Plot (A1111) 3 x 2 cells (CFG x sampler, {STEPS} steps, 64x64) vs the {N} cell graphs",
        pack=_plot, baseline=_alone_in_one, runs=5, goal=1.02, families=("sd15",), extra=_separate,
        pack_label=f"ForgelineXYZPlot ({N} cells, grid)",
        baseline_label=f"{N} standalone graphs (Prompt Encode x2 + KSampler (A1111) + VAEDecode + SaveImage)",
    ),
]
