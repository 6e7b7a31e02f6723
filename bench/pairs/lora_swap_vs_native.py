"""LoRA swaps between queued jobs: Batch prompts (A1111) (cached parsed file, LoRA on the activations, weights never
re-patched, the line's encoded prompt cached per text-encoder LoRA set: ``host/cond_cache.py``) vs native
LoraLoader (reloads the file it does not hold, re-patches the UNet and CLIP, re-encodes).

Each job is txt2img of one prompt with ONE LoRA, the LoRA alternating between the rank-16 style LoRA (attention +
ff, with text-encoder keys) and the LCM-LoRA-shaped rank-8 LoRA (every conv + linear) from job to job. The pair's
timed runs interleave the two sides (so each Forgeline job also pays ComfyUI un-patching the previous native job's
weights); ``extra`` also queues 6 jobs of each side in a row, the issue's scenario, and reports the median time
per job after the first (``sequence_*``), the same for 6 native jobs WITHOUT any LoRA (``sequence_plain_*``: the
floor under any way of swapping, since every job still samples and decodes; ``floor_ratio`` = plain / native swap
job is the lowest ratio any swap could reach, ``swap_cost_ratio`` = (pack − plain) / (native − plain) what the swap
itself costs on each side), and the server's peak RSS after one batch of 16 prompts with 16
different LoRAs (every one then in the parsed-file cache). Goal: time per job ratio <= 0.5.
"""
from __future__ import annotations

import importlib.util
import statistics
from pathlib import Path

from harness import WorkflowPair, server_seconds

_spec = importlib.util.spec_from_file_location("bench_pairs_batch_graphs", Path(__file__).with_name(
    "batch_4loras_vs_4runs.py"))
_graphs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_graphs)
batch_graph, native_graph = _graphs.batch_graph, _graphs.native_graph

STEPS = 4
LORAS = ["forgeline_sd15_style_r16.safetensors", "forgeline_sd15_lcm_lora.safetensors"]
SIXTEEN = ["kohya", "kohya_tucker", "diffusers", "diffusers_old", "peft", "peft_bare", "peft_base_model",
           "peft_dora", "loha", "lokr", "lokr_full", "ia3", "ia3_in", "dora", "dora_in", "style_r16"]


def _line(i):
    return [("a photo of a cat", LORAS[(i // 2) % 2], 1.0)]


def pack(i):
    return batch_graph(20_000 + i, STEPS, _line(i), prefix="bench_swap")


def baseline(i):
    return native_graph(20_000 + i, STEPS, _line(i))


def plain(i):
    """The same job with no LoRA at all (native CheckpointLoader + CLIPTextEncode + KSampler)."""
    return native_graph(20_000 + i, STEPS, [("a photo of a cat", None, 0.0)])


def _peak_rss_mb(server):
    try:
        with open(f"/proc/{server.proc.pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    yield line.split(":")[0], round(int(line.split()[1]) / 1024, 1)
    except (OSError, AttributeError):
        return


def _sequence(client, build, jobs=6, base=0):
    """``jobs`` jobs of one side queued in a row, the LoRA changing at EVERY job (``_line(base + 2j)``
    alternates), as in the issue's scenario; server seconds per job."""
    times = []
    for j in range(jobs):
        out = client.run(build(base + 2 * j))
        if out.status != "success":
            raise RuntimeError(f"sequence job {j} failed: {out.error}")
        times.append(server_seconds(out))
    return times


def _extra(client, server):
    out = {}
    try:
        seq_pack = _sequence(client, pack, base=1000)
        seq_native = _sequence(client, baseline, base=3000)
        seq_plain = _sequence(client, plain, base=5000)
        p, n = statistics.median(seq_pack[1:]), statistics.median(seq_native[1:])
        f = statistics.median(seq_plain[1:])
        out.update(sequence_pack_per_job_s=round(p, 4), sequence_native_per_job_s=round(n, 4),
                   sequence_ratio=round(p / n, 4), sequence_first_job_s=[round(seq_pack[0], 3), round(seq_native[0], 3)],
                   sequence_plain_per_job_s=round(f, 4), floor_ratio=round(f / n, 4),
                   swap_cost_ratio=round((p - f) / (n - f), 4) if n > f else None)
    except Exception as e:
        out["sequence_error"] = f"{type(e).__name__}: {e}"[:300]
    out.update({f"rss_before_16_{k}_mb": v for k, v in _peak_rss_mb(server)})
    try:
        lines = [(f"prompt {j}", f"forgeline_sd15_{name}.safetensors", 0.5) for j, name in enumerate(SIXTEEN)]
        res = client.run(batch_graph(5_000, 2, lines, prefix="bench_swap16"))
        if res.status != "success":
            raise RuntimeError(res.error)
        out["batch16_s"] = round(server_seconds(res), 3)
    except Exception as e:
        out["batch16_error"] = f"{type(e).__name__}: {e}"[:300]
    out.update({f"rss_after_16_{k}_mb": v for k, v in _peak_rss_mb(server)})
    return out


PAIRS = [
    WorkflowPair(
        id="lora_swap_vs_native",
        description=f"queued jobs alternating between two LoRAs ({STEPS} steps Euler a 64x64, batch 1): Batch "
                    "prompts (A1111) vs native LoraLoader; time per job after warm-up",
        pack=pack, baseline=baseline, runs=4, goal=0.5, extra=_extra,
        pack_label="Batch prompts (A1111), 1 line, LoRA swap", baseline_label="LoraLoader + KSampler, LoRA swap",
    ),
]
