"""The per-run sampling context counts model calls and sampler steps the way A1111's counters do."""
import pytest
import torch

import comfy.sample
import comfy.sd

from forgeline.host import sampling_hooks as sc


@pytest.fixture(scope="module")
def sd15():
    from forgeline.tests.fixtures.models import ensure_checkpoint
    from forgeline.scripts.comfy_server import MODELS_CACHE

    path = ensure_checkpoint("sd15", MODELS_CACHE / "checkpoints")
    model, clip, vae, _ = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=True, output_clip=True)
    return model, clip


def _run(model, clip, sampler, steps):
    cond = clip.encode_from_tokens_scheduled(clip.tokenize("a cat"))
    uncond = clip.encode_from_tokens_scheduled(clip.tokenize(""))
    latent = torch.zeros(1, 4, 8, 8)
    noise = comfy.sample.prepare_noise(latent, 3)
    return comfy.sample.sample(model, noise, steps, 5.0, sampler, "karras", cond, uncond, latent, seed=3)


@pytest.mark.parametrize("sampler,steps,calls,second_order", [
    ("euler_ancestral", 4, 4, False),
    ("dpmpp_2s_ancestral", 4, 2 * 4 - 1, True),  # last step to σ=0 is a single Euler call
])
def test_context_counts_calls_and_steps(sd15, sampler, steps, calls, second_order):
    model, clip = sd15
    m = model.clone()
    seen = []
    sc.on_call(m, "probe", lambda ctx, mo: seen.append((ctx.call_index, ctx.step, ctx.second_order, ctx.steps)))
    sc.on_call(m, "probe", lambda ctx, mo: seen.append((ctx.call_index, ctx.step, ctx.second_order, ctx.steps)))
    sc.attach(m)  # idempotent: still one wrapper, one listener under "probe"
    _run(m, clip, sampler, steps)
    assert [c for c, *_ in seen] == list(range(calls))
    expected_steps = list(range(steps)) if not second_order else [i // 2 for i in range(calls)]
    assert [s for _, s, *_ in seen] == expected_steps
    assert all(so is second_order and n == steps for *_, so, n in seen)


def test_fresh_context_per_run(sd15):
    model, clip = sd15
    m = model.clone()
    seen = []
    sc.on_call(m, "probe", lambda ctx, mo: seen.append(ctx.call_index))
    _run(m, clip, "euler_ancestral", 3)
    _run(m, clip, "euler_ancestral", 3)
    assert seen == [0, 1, 2, 0, 1, 2]


def test_unattached_model_has_no_context(sd15):
    model, clip = sd15
    assert not model.get_wrappers("predict_noise", "forgeline.sampling_context")
