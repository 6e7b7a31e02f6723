"""Batch prompts (A1111) on the SD1.5 stand-in (ComfyUI in-process, CPU): one batch of 4 lines with 4 different
LoRA sets equals, image by image, the single run of each line (Apply Prompt LoRA Tags -> A1111 Prompt Encode ->
KSampler (A1111), seed + i, batch 1) — the reference is the pack's single-image path (weights merged by ComfyUI's
patcher, scheduled strength re-merged from pristine), the batch applies the LoRAs per row on the activations.
Base weights are bit-identical afterwards; bad input names the line."""
import pytest
import torch


from forgeline.host import batched_lora as hb
from forgeline.nodes.batch_prompts import ForgelineBatchPrompts
from forgeline.nodes.ksampler_a1111 import ForgelineKSampler
from forgeline.nodes.lora_tags import ForgelineApplyPromptLoras
from forgeline.nodes.prompt_encode import ForgelinePromptEncode

SEED, STEPS, CFG = 11, 4, 5.0
LINES = [
    "a red house on a hill",                                                   # no LoRA
    "a cat <lora:forgeline_sd15_kohya:0.8>",                                  # kohya (attention + conv + TE)
    "portrait [smiling:serious:2] <lora:forgeline_sd15_style_r16:1:0@0,1@1>",  # scheduled unet + prompt editing
    "a forest <lora:forgeline_sd15_lcm_lora:0.6> <lora:forgeline_sd15_loha:0.5>",  # two LoRAs, LoHa dense path
]
NEG = "blurry"


def _sample(model, positive, negative, batch, seed):
    latent = {"samples": torch.zeros(batch, 4, 8, 8)}
    return ForgelineKSampler.execute(model, positive, negative, latent, seed, STEPS, CFG, "forgeline_euler_a",
                                     "forgeline_karras", 1.0, 1.0, 1.0, "a1111_cpu", 0, "a1111").result[0]["samples"]


def _encode(clip, text, negative):
    return ForgelinePromptEncode.execute(clip, text, negative, "Original", 20, 1, STEPS, 0, 1024, 1024, 0, 0, 1024,
                                         1024).result[0]


def _single(model, clip, line, seed):
    m, c = model, clip
    if "<lora:" in line:
        m, c = ForgelineApplyPromptLoras.execute(model, clip, text=line).result[:2]
    return _sample(m, _encode(c, line, False), _encode(c, NEG, True), 1, seed)


def _batch_node(model, clip, prompts, negative=NEG, latent=None):
    return ForgelineBatchPrompts.execute(model, clip, prompts, negative, "Original", 1, STEPS, "loractl",
                                         latent=latent).result


def test_each_image_equals_the_single_run_of_its_line(sd15):
    model, clip = sd15
    before = {k: v.detach().clone() for k, v in model.model.state_dict().items()}
    m, pos, neg, batch_size, report = _batch_node(model, clip, "\n".join(LINES))
    assert batch_size == 4 and "line 1" in report and "no LoRA" in report.splitlines()[0]
    handle = hb.handle_of(m)
    batch = _sample(m, pos, neg, 4, SEED)
    assert handle.runs == 1 and handle.calls == STEPS          # one model call per step: cond+uncond, 4 images
    after = model.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "base weights must be bit-identical"
    singles = [_single(model, clip, line, SEED + i) for i, line in enumerate(LINES)]
    plain = _single(model, clip, "a cat", SEED + 1)
    for i, ref in enumerate(singles):
        scale = ref.abs().max().item()
        assert torch.allclose(batch[i:i + 1], ref, rtol=1e-4, atol=1e-4 * scale), (i, (batch[i:i + 1] - ref).abs().max())
    # the LoRA really acted, and only on its own image
    assert not torch.allclose(singles[1], plain, atol=1e-3 * plain.abs().max().item())


def test_scheduled_line_at_zero_equals_no_lora(sd15):
    """``0@0,1@1`` over 4 loractl steps reads 0, 0, 0.5, 1: with 1 step only strength 0 is used -> no effect."""
    model, clip = sd15
    m, pos, neg, _, _ = _batch_node(model, clip, "a cat <lora:forgeline_sd15_style_r16:0:0@0,1@1>\na cat")
    latent = {"samples": torch.zeros(2, 4, 8, 8)}
    out = ForgelineKSampler.execute(m, pos, neg, latent, SEED, 1, CFG, "forgeline_euler_a", "forgeline_karras", 1.0,
                                    1.0, 1.0, "a1111_cpu", 0, "a1111").result[0]["samples"]
    plain = ForgelineKSampler.execute(model, _encode(clip, "a cat", False), _encode(clip, NEG, True),
                                      {"samples": torch.zeros(1, 4, 8, 8)}, SEED, 1, CFG, "forgeline_euler_a",
                                      "forgeline_karras", 1.0, 1.0, 1.0, "a1111_cpu", 0, "a1111").result[0]["samples"]
    assert torch.allclose(out[0:1], plain, rtol=1e-5, atol=1e-5 * plain.abs().max().item())


def test_bad_input_names_the_line(sd15):
    model, clip = sd15
    with pytest.raises(ValueError, match=r"line 2 is empty"):
        _batch_node(model, clip, "a cat\n\na dog")
    with pytest.raises(ValueError, match=r"line 2 \('a dog <lora:forgeline_sdxl_kohya>'\).*SDXL"):
        _batch_node(model, clip, "a cat\na dog <lora:forgeline_sdxl_kohya>")
    with pytest.raises(ValueError, match=r"line 2 .*no_such_lora"):
        _batch_node(model, clip, "a cat\na dog <lora:no_such_lora>")
    with pytest.raises(ValueError, match=r"line 3 \('c'\) and later have no image"):
        _batch_node(model, clip, "a\nb\nc", latent={"samples": torch.zeros(2, 4, 8, 8)})
    with pytest.raises(ValueError, match=r"3 lines for 2 prompt lines"):
        _batch_node(model, clip, "a\nb", negative="x\ny\nz")
    m, pos, neg, _, _ = _batch_node(model, clip, "a <lora:forgeline_sd15_kohya>\nb")
    with pytest.raises(ValueError, match=r"2 prompt line\(s\) but the latent batch is 3"):
        _sample(m, pos, neg, 3, SEED)


def test_stock_ksampler_samples_each_row_with_its_own_line(sd15):
    """The stock sampler (ComfyUI batch noise): image i equals image i of a stock run where every row is line i
    with line i's LoRA applied the single-prompt way (same noise, same seed)."""
    import comfy.sample

    model, clip = sd15
    lines = ["a red house", "a cat <lora:forgeline_sd15_style_r16:0.9>"]
    m, pos, neg, _, _ = _batch_node(model, clip, "\n".join(lines))
    latent = torch.zeros(2, 4, 8, 8)
    noise = comfy.sample.prepare_noise(latent, SEED)
    out = comfy.sample.sample(m, noise, STEPS, CFG, "euler_ancestral", "karras", pos, neg, latent, seed=SEED)
    for i, line in enumerate(lines):
        mi, ci = (ForgelineApplyPromptLoras.execute(model, clip, text=line).result[:2] if "<lora:" in line
                  else (model, clip))
        ref = comfy.sample.sample(mi, noise, STEPS, CFG, "euler_ancestral", "karras", _encode(ci, line, False),
                                  _encode(ci, NEG, True), latent, seed=SEED)
        scale = ref.abs().max().item()
        assert torch.allclose(out[i], ref[i], rtol=1e-4, atol=1e-4 * scale), (i, (out[i] - ref[i]).abs().max())


SWAP = ["a cat <lora:forgeline_sd15_style_r16:1>",        # attention + ff + text-encoder keys
        "a cat <lora:forgeline_sd15_lcm_lora:0.8>"]       # every conv + linear, no text-encoder keys


def _same_bits(a, b):
    """Bit-identical, NaN included: ComfyUI leaves parameters a checkpoint lacks uninitialised (SD1's
    ``clip_l.transformer.text_projection.weight``, ``comfy.ops`` skips init), and such memory can hold NaNs, which
    ``torch.equal`` never calls equal."""
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(
        a.detach().contiguous().reshape(-1).view(torch.uint8), b.detach().contiguous().reshape(-1).view(torch.uint8))


def test_lora_swaps_between_jobs_patch_nothing_and_equal_fresh_runs(sd15, monkeypatch):
    """Four queued jobs A, B, A, B through Batch prompts (one line each): no weight of the UNet or the CLIP is
    written by the swaps back (A's and B's prompts come from the encode cache, the UNet LoRA runs on the
    activations), no file is read again (checkpoint or LoRA), base weights stay bit-identical, and each job's image
    equals a fresh single run of its line (the pack's merged single-image path) computed afterwards."""
    import comfy.model_patcher
    import comfy.utils

    from forgeline.host import cond_cache
    from forgeline.lora.file_cache import shared_cache

    import comfy.model_management

    model, clip = sd15
    cond_cache.SHARED.clear()
    comfy.model_management.unload_all_models()   # earlier tests' single runs leave their LoRA merged in place
    before = {k: v.detach().clone() for k, v in model.model.state_dict().items()}
    before_clip = {k: v.detach().clone() for k, v in clip.patcher.model.state_dict().items()}
    writes, reads = [], []
    patch = comfy.model_patcher.ModelPatcher.patch_weight_to_device
    load = comfy.utils.load_torch_file

    def counting_patch(self, key, *args, **kwargs):
        writes.append(key)
        return patch(self, key, *args, **kwargs)

    def counting_load(path, *args, **kwargs):
        reads.append(str(path))
        return load(path, *args, **kwargs)

    monkeypatch.setattr(comfy.model_patcher.ModelPatcher, "patch_weight_to_device", counting_patch)
    monkeypatch.setattr(comfy.utils, "load_torch_file", counting_load)
    images, writes_per_job, misses = [], [], []
    for j in range(4):
        del writes[:]
        lora_misses = shared_cache().misses
        m, pos, neg, _, _ = _batch_node(model, clip, SWAP[j % 2])
        images.append(_sample(m, pos, neg, 1, SEED))     # one seed: jobs differ only by their LoRA
        writes_per_job.append(len(writes))
        misses.append(shared_cache().misses - lora_misses)
    monkeypatch.undo()
    assert not any(k.startswith("diffusion_model.") for k in writes), "a swap re-patched UNet weights"
    assert writes_per_job[2:] == [0, 0], f"swapping back re-patched weights: writes per job {writes_per_job}"
    assert misses[2:] == [0, 0] and not reads, f"files read again: LoRA cache misses {misses}, loads {reads}"
    assert cond_cache.SHARED.hits >= 4                        # jobs 3 and 4: positive and negative each
    after = model.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "base UNet weights must be bit-identical"
    after_clip = clip.patcher.model.state_dict()
    changed = [k for k in before_clip if not _same_bits(before_clip[k], after_clip[k])]
    assert not changed, f"base CLIP weights changed: {changed[:3]}"
    refs = [_single(model, clip, line, SEED) for line in SWAP]
    for j, image in enumerate(images):
        ref = refs[j % 2]
        scale = ref.abs().max().item()
        assert torch.allclose(image, ref, rtol=1e-4, atol=1e-4 * scale), (j, (image - ref).abs().max())
    # the two LoRAs really give different images, so a job handed the other LoRA would fail above
    assert not torch.allclose(refs[0], refs[1], atol=1e-3 * refs[0].abs().max().item())
