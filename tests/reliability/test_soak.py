"""Soak and faults on a live server (issue 12): N queued jobs mixing scheduled LoRA, constant LoRA, prompt tags,
A1111 prompt encode and plain txt2img at 64x64 with few steps, ``POST /interrupt`` at a random step of some jobs,
the plain reference job bit-identical (decoded pixels) after each interrupt and recomputed (not served from
ComfyUI's cache), the server's RSS measured before and after, and three concurrent clients each getting their own
correct images.

``FORGELINE_SOAK_JOBS`` sets N (default 8 for ``make test`` on a small CPU; the full run uses 100).
"""
import io
import os
import random
import threading

import numpy as np
from PIL import Image

from forgeline.tests.e2e.graphs import txt2img
from forgeline.tests.e2e.graphs_lora import lora_txt2img, prompt_tag_txt2img
from forgeline.tests.e2e.graphs_prompt import prompt_txt2img
from forgeline.tests.reliability.harness import answering, rss_bytes

JOBS = int(os.environ.get("FORGELINE_SOAK_JOBS", "8"))
STEPS = 3
REFERENCE_SEED = 777
RSS_GROWTH_LIMIT = 1 << 30   # bytes: a leak of a latent or a LoRA per job would pass this within 100 jobs


def _job(kind, seed, prefix):
    common = dict(seed=seed, steps=STEPS, prefix=prefix)
    if kind == "plain":
        return txt2img(**common)
    if kind == "constant_lora":
        return lora_txt2img(schedule="", **common)
    if kind == "scheduled_lora":
        return lora_txt2img(schedule="0@0,1@1", **common)
    if kind == "prompt_tags":
        return prompt_tag_txt2img(**common)
    return prompt_txt2img(seed=seed, steps=STEPS, prefix=prefix)


KINDS = ("plain", "constant_lora", "scheduled_lora", "prompt_tags", "a1111_prompt")


def _pixels(client, result):
    assert result.status == "success", (result.status, result.error)
    images = result.images()
    assert images, result.outputs
    return [np.asarray(Image.open(io.BytesIO(client.view(img))).convert("RGB")) for img in images]


def _cached_nodes(result):
    return {n for m in result.messages if m.get("type") == "execution_cached" for n in m["data"].get("nodes", [])}


def test_soak_with_interrupts_reference_stays_exact(reliability_server, rclient):
    url, pid = reliability_server.url, reliability_server.proc.pid
    reference = _pixels(rclient, rclient.run(txt2img(seed=REFERENCE_SEED, steps=STEPS, prefix="soak_ref")))
    for kind in KINDS:  # warm every path once (models and LoRA files loaded, caches filled) before measuring RSS
        _pixels(rclient, rclient.run(_job(kind, 5, f"soak_warm_{kind}")))
    rss_before = rss_bytes(pid)
    rng = random.Random(2024)
    statuses, interrupted, checks = {}, 0, 0
    for i in range(JOBS):
        kind = KINDS[i] if i < len(KINDS) else rng.choice(KINDS)   # every kind at least once, then a random mix
        stop_at = rng.randint(1, STEPS - 1) if i == 0 or rng.random() < 0.3 else None
        sent = []

        def on_progress(value, maximum, node, stop_at=stop_at, sent=sent):
            if stop_at is not None and not sent and value is not None and value >= stop_at:
                sent.append(value)
                rclient.interrupt()

        result = rclient.run(_job(kind, 100 + i, f"soak_{i}"), on_progress=on_progress)
        statuses[(kind, result.status)] = statuses.get((kind, result.status), 0) + 1
        assert answering(url), f"server stopped answering after job {i} ({kind})"
        if stop_at is None:
            assert result.status == "success", (i, kind, result.error)
            continue
        assert result.status in ("interrupted", "success"), (i, kind, result.status, result.error)
        interrupted += result.status == "interrupted"
        after = rclient.run(txt2img(seed=REFERENCE_SEED, steps=STEPS, prefix=f"soak_ref_{i}"))
        assert "sample" not in _cached_nodes(after), "the reference was served from cache, not recomputed"
        got = _pixels(rclient, after)
        assert len(got) == len(reference) and all(np.array_equal(a, b) for a, b in zip(got, reference)), \
            f"reference differs after the interrupt in job {i} ({kind})"
        checks += 1
    rss_after = rss_bytes(pid)
    print(f"\nsoak: {JOBS} jobs, statuses {statuses}, {interrupted} interrupted, {checks} reference checks, "
          f"server RSS {rss_before / 2**20:.0f} MiB -> {rss_after / 2**20:.0f} MiB "
          f"({(rss_after - rss_before) / 2**20:+.0f} MiB)")
    assert JOBS < 4 or interrupted >= 1, "no job was interrupted"
    assert rss_after - rss_before < RSS_GROWTH_LIMIT


def test_three_concurrent_clients_get_their_own_images(reliability_server):
    from comfy_client import ComfyClient

    url = reliability_server.url
    seeds = {0: [201, 202], 1: [203, 204], 2: [205, 206]}
    serial = {}
    solo = ComfyClient(url, timeout=900)
    for seed in sum(seeds.values(), []):
        serial[seed] = _pixels(solo, solo.run(txt2img(seed=seed, steps=STEPS, prefix=f"serial_{seed}")))
    results, errors = {}, []

    def work(index):
        client = ComfyClient(url, timeout=900)
        try:
            for seed in seeds[index]:
                # a different prefix: the SaveImage node runs again, the sampler result may come from the cache
                results[seed] = _pixels(client, client.run(txt2img(seed=seed, steps=STEPS, prefix=f"conc_{seed}")))
        except Exception as e:  # reported below, in the main thread
            errors.append(f"client {index}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=work, args=(i,)) for i in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for seed, pixels in serial.items():
        assert np.array_equal(results[seed][0], pixels[0]), f"client image for seed {seed} differs from its own run"
    assert not np.array_equal(serial[201][0], serial[202][0])  # the seeds really give different images
