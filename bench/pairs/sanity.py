"""`sanity`: the native KSampler txt2img workflow against itself — the harness's noise floor (ratio ≈ 1.00)."""
from harness import WorkflowPair

from forgeline.tests.e2e.graphs import txt2img

PAIRS = [
    WorkflowPair(
        id="sanity",
        description="native KSampler txt2img (20 steps Euler a, 64×64) vs itself",
        pack=lambda i: txt2img(seed=1000 + i, steps=20, prefix="bench_sanity"),
        baseline=lambda i: txt2img(seed=1000 + i, steps=20, prefix="bench_sanity"),
        runs=7,
        pack_label="native KSampler (as 'pack')",
        baseline_label="native KSampler",
    ),
]
